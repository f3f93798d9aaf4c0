# SPDX-License-Identifier: Apache-2.0
"""A PyTorch load for the compute benchmark.  Usage:
compute_load.py matmul|graph SECS [N]
matmul: fp16 N x N matmuls (default 4096), synchronising every 8, like a
training step; graph: the same 8 matmuls captured once with
torch.cuda.graphs and replayed.  Prints "ready" after warm-up, then after
SECS seconds "iters=<matmuls> secs=<s> rate=<matmuls per second>"."""
import sys
import time

import torch

mode, secs = sys.argv[1], float(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 4096
a = torch.randn(n, n, device="cuda", dtype=torch.float16)
b = torch.randn(n, n, device="cuda", dtype=torch.float16)
c = torch.empty(n, n, device="cuda", dtype=torch.float16)
STEP = 8


def step():
    for _ in range(STEP):
        torch.matmul(a, b, out=c)


run = step
if mode == "graph":
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        step()
    run = g.replay
for _ in range(5):
    run()
torch.cuda.synchronize()
print("ready", flush=True)
t0 = time.monotonic()
iters = 0
while time.monotonic() - t0 < secs:
    run()
    torch.cuda.synchronize()
    iters += STEP
el = time.monotonic() - t0
print(f"iters={iters} secs={el:.3f} rate={iters / el:.3f}", flush=True)
