# SPDX-License-Identifier: Apache-2.0
"""A deterministic small training loop for scripts/gpu-guard.sh: prints
"ready", trains STEPS steps, then "done loss=... digest=..." (a digest of the
final weights). Run twice, once left alone and once while its cgroup is
frozen and thawed many times, it must print the same digest: a pause by
softmig-guard costs a job nothing but time."""
import hashlib, sys, time, torch
torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
steps = int(sys.argv[1])
dev = "cuda"
x = torch.randn(4096, 1024, device=dev)
y = torch.randn(4096, 256, device=dev)
m = torch.nn.Sequential(torch.nn.Linear(1024, 2048), torch.nn.ReLU(), torch.nn.Linear(2048, 256)).to(dev)
opt = torch.optim.SGD(m.parameters(), lr=1e-3)
print("ready", flush=True)
t0 = time.time()
for i in range(steps):
    opt.zero_grad()
    loss = ((m(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
torch.cuda.synchronize()
h = hashlib.sha256()
for p in m.parameters():
    h.update(p.detach().cpu().numpy().tobytes())
print("done loss=%.9f digest=%s secs=%.2f" % (loss.item(), h.hexdigest()[:16], time.time() - t0), flush=True)
