# SPDX-License-Identifier: Apache-2.0
"""GPU time under softmig-guard's time authority, on a real GPU, beside native
time-slicing and HAMi-core (scripts/gpu-time-bench.sh runs it; issue 20).

Jobs are Slurm-shaped: a job cgroup, a root-written config in the run
directory (share, time slot, policy, GPU 0) and processes run as nobody under
libsoftmig.so; softmig-guard runs as root and publishes the gates.  Each job
is a burner (test/gpu/burner.cu, fixed work per kernel) that prints its
progress every 100 ms, so a job's share over any window is its work there
against one unthrottled burner alone (NVML's per-process samples are whole
200 ms slices and cannot split a GPU between jobs, docs/compute.md).

Writes OUT/time.md.  Usage: time_bench.py --lib L --guard G --burner B
--cubin C --attack A --out DIR [--hami LIBVGPU] [--secs 8]
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time

NOBODY = 65534


def cgroup_base():
    for base in ("/sys/fs/cgroup/freezer", "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(base, "cgroup.procs")):
            d = os.path.join(base, "slurm_tb", "uid_%d" % NOBODY)
            try:
                os.makedirs(d, exist_ok=True)
                return d
            except OSError:
                continue
    raise SystemExit("time_bench: no writable cgroup tree")


class Job:
    """A Slurm-shaped job of one GPU, or (share None) no job at all."""

    def __init__(self, bench, share, slot, policy, lib=None, env=None):
        self.b = bench
        self.id = str(870000000 + random.randrange(9999999))
        self.procs = []
        self.lib = lib
        self.env = dict(env or {})
        self.cg = None
        if share is None:
            return
        self.cg = os.path.join(bench.cgbase, "job_" + self.id)
        os.makedirs(self.cg, exist_ok=True)
        region = os.path.join(bench.rundir, self.id + ".region")
        open(region, "w").close()
        os.chown(region, NOBODY, NOBODY)
        os.chmod(region, 0o600)
        conf = ("CUDA_DEVICE_MEMORY_LIMIT=20g\nCUDA_DEVICE_SM_LIMIT=%d\nSOFTMIG_SM_SLOT_0=%s\nSOFTMIG_GPU_0=0\n"
                "SOFTMIG_UID=%d\nSOFTMIG_REGION=%s\nSOFTMIG_TIME_POLICY=%s\n" % (share, slot, NOBODY, region, policy))
        path = os.path.join(bench.rundir, self.id + ".conf")
        with open(path + ".tmp", "w") as f:
            f.write(conf)
        os.chmod(path + ".tmp", 0o644)
        os.rename(path + ".tmp", path)
        self.lib = bench.a.lib
        with open(os.path.join(bench.a.out, "jobs.txt"), "a") as f:  # which job log is which
            f.write("%s %.3f share=%d slot=%s policy=%s\n" % (self.id, time.time(), share, slot, policy))

    def start(self, argv):
        env = dict(os.environ, HOME="/tmp", BURNER_PROGRESS="1", SOFTMIG_LOG_FILE=self.b.log)
        env.pop("LD_PRELOAD", None)
        env.update(self.env)
        if self.lib:
            env["LD_PRELOAD"] = self.lib
        cmd = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"] + argv
        if self.cg:
            cmd = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.cg] + cmd
        p = Runner(cmd, env)
        self.procs.append(p)
        return p

    def work(self, t0, t1):
        return sum(p.work(t0, t1) for p in self.procs)

    def close(self):
        for p in self.procs:
            p.stop()
        if self.cg:
            for name in (".conf", ".region"):
                try:
                    os.remove(os.path.join(self.b.rundir, self.id + name))
                except OSError:
                    pass
            for _ in range(50):
                try:
                    os.rmdir(self.cg)
                    break
                except OSError:
                    time.sleep(0.1)


class Runner:
    def __init__(self, cmd, env):
        self.p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        self.ready = threading.Event()
        self.prog = []  # (unix time, kernels)
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            line = line.strip()
            self.lines.append(line)
            if line == "ready":
                self.ready.set()
            elif line.startswith("progress t="):
                f = dict(x.split("=", 1) for x in line.split()[1:])
                self.prog.append((float(f["t"]), int(f["kernels"])))
        self.ready.set()

    def work(self, t0, t1):
        """Kernels done in [t0, t1], from the progress lines (interpolated)."""
        def at(t):
            pts = self.prog
            if not pts or t <= pts[0][0]:
                return pts[0][1] if pts and t >= pts[0][0] else 0
            for (ta, ka), (tb, kb) in zip(pts, pts[1:]):
                if ta <= t <= tb:
                    return ka + (kb - ka) * (t - ta) / (tb - ta)
            return pts[-1][1]
        return max(0.0, at(t1) - at(t0))

    def stop(self):
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

    def killed(self):
        return self.p.returncode == -9


class Bench:
    def __init__(self, a):
        self.a = a
        self.rundir = a.rundir
        self.cgbase = cgroup_base()
        self.log = os.path.join(a.out, "lib.log")
        self.md = []
        self.iters = None
        self.rate = None

    def burner(self, job, secs):
        argv = [self.a.burner, "1000", str(secs), "8"] + ([str(self.iters)] if self.iters else [])
        return job.start(argv)

    def idle(self, job, secs):
        # A process of the job holding a context and doing nothing.
        return job.start([sys.executable, "-c",
                          "import torch,time; torch.zeros(1,device='cuda'); print('ready',flush=True); time.sleep(%g)" % secs])

    def wait_ready(self, procs):
        for p in procs:
            if not p.ready.wait(120):
                raise SystemExit("time_bench: a load never got ready")

    def share(self, job, t0, t1):
        return 100.0 * job.work(t0, t1) / (self.rate * (t1 - t0))

    def baseline(self):
        j = Job(self, None, None, None)
        p = self.burner(j, 6)
        self.wait_ready([p])
        p.stop()
        self.iters = int(next(l[6:] for l in p.lines if l.startswith("iters=")))
        t = [x[0] for x in p.prog]
        self.rate = (p.prog[-1][1] - p.prog[5][1]) / (t[-1] - t[5])
        self.md += ["Baseline: one burner alone, no library: %.1f kernels/s (%d iterations a kernel, about 1 ms)." % (self.rate, self.iters), ""]

    def windows(self, job, t0, t1, w=1.0):
        out, t = [], t0
        while t + w <= t1 + 1e-6:
            out.append(self.share(job, t, t + w))
            t += w
        return out


def row(md, *cells):
    md.append("| " + " | ".join(str(c) for c in cells) + " |")


def main():
    ap = argparse.ArgumentParser()
    for k in ("lib", "guard", "burner", "cubin", "attack", "out", "rundir"):
        ap.add_argument("--" + k, required=k not in ("rundir",))
    ap.add_argument("--hami")
    ap.add_argument("--secs", type=float, default=8)
    ap.add_argument("--only", choices=("all", "softmig", "others"), default="all",
                    help="softmig: the library's cases; others: native time-slicing and HAMi-core")
    a = ap.parse_args()
    a.rundir = a.rundir or "/run/softmig"
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.rundir, exist_ok=True)
    # The guard's job logs (their gpu time records: used, lent, paused
    # per job), copied into OUT at the end.
    logdir = "/var/log/softmig"
    os.makedirs(logdir, exist_ok=True)
    b = Bench(a)
    S = a.secs
    md = b.md
    gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
    md += ["# GPU time on %s" % gpu, ""]
    b.baseline()
    guard = subprocess.Popen([a.guard, "--library", a.lib], stdout=open(os.path.join(a.out, "guard.log"), "w"),
                             stderr=subprocess.STDOUT)
    time.sleep(1.5)
    try:
        scenarios(b, S)
    finally:
        guard.terminate()
        guard.wait()
    os.makedirs(os.path.join(a.out, "joblogs"), exist_ok=True)
    for name in os.listdir(logdir):
        if name.endswith(".log"):
            shutil.copy(os.path.join(logdir, name), os.path.join(a.out, "joblogs", name))
    glog = open(os.path.join(a.out, "guard.log")).read()
    md += ["softmig-guard over the whole run: %d pauses, %d kills (only the run around the library may have any)." % (
        glog.count("time pause:"), glog.count("guard kill:")), ""]
    with open(os.path.join(a.out, "time.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


def run(b, specs, secs, late=None):
    """specs: [(share, slot, policy, kind)] kind burner|idle|cheat; late: (index, delay)
    starts that job's burner after delay.  Returns jobs, t0, t1."""
    jobs, procs = [], []
    for share, slot, policy, kind, extra in specs:
        j = Job(b, share, slot, policy, **extra)
        jobs.append(j)
    time.sleep(1.2)  # the guard reads new configs within a second
    # Idle loads first: a burner runs for a fixed time from its start, and
    # importing torch takes seconds.
    idle = [b.idle(jobs[i], secs + 8) for i, s in enumerate(specs) if s[3] == "idle"]
    b.wait_ready(idle)
    procs += idle
    for i, (share, slot, policy, kind, extra) in enumerate(specs):
        if late and late[0] == i:
            continue
        if kind == "burner":
            procs.append(b.burner(jobs[i], secs + 1))
        elif kind == "cheat":
            procs.append(jobs[i].start([b.a.attack, "launch", "0", str(secs + 1), b.a.cubin, str(b.iters)]))
    b.wait_ready(procs)
    t0 = time.time() + 0.5
    if late:
        time.sleep(late[1])
        p = b.burner(jobs[late[0]], secs - late[1] + 1)
        b.wait_ready([p])
    time.sleep(max(0, t0 + secs - time.time()))
    t1 = t0 + secs - 0.2
    for j in jobs:
        j.close()
    return jobs, t0, t1


def scenarios(b, S):
    if b.a.only != "others":
        softmig_cases(b, S)
    if b.a.only != "softmig":
        other_cases(b, S)


def softmig_cases(b, S):
    md = b.md
    md += ["## Single jobs (cap): share of one unthrottled burner's work, 1 s windows", "",
           "| limit | median | min | max | first second | ok (±1.5) |", "| --- | --- | --- | --- | --- | --- |"]
    for lim in (10, 25, 50, 75):
        jobs, t0, t1 = run(b, [(lim, "0-%d" % lim, "cap", "burner", {})], S)
        w = b.windows(jobs[0], t0, t1)
        med = statistics.median(w)
        row(md, lim, "%.1f" % med, "%.1f" % min(w), "%.1f" % max(w), "%.1f" % w[0], "yes" if abs(med - lim) <= 1.5 else "**NO**")
        print(md[-1], flush=True)
    md += ["", "## Several jobs", "", "| case | job | share | work % | ok |", "| --- | --- | --- | --- | --- |"]
    q = [(25, "%d-%d" % (25 * i, 25 * i + 25)) for i in range(4)]
    for pol in ("cap", "lend"):
        jobs, t0, t1 = run(b, [(s, sl, pol, "burner", {}) for s, sl in q], S)
        tot = 0
        for i, j in enumerate(jobs):
            sh = b.share(j, t0, t1)
            tot += sh
            row(md, "four busy quarters, " + pol, "q%d" % i, 25, "%.1f" % sh, "yes" if abs(sh - 25) <= 2 else "**NO**")
        row(md, "four busy quarters, " + pol, "together", 100, "%.1f" % tot, "yes" if tot >= 97 else "**NO**")
        print("\n".join(md[-5:]), flush=True)
    jobs, t0, t1 = run(b, [(25, "0-25", "lend", "burner", {})], S)
    sh = b.share(jobs[0], t0, t1)
    row(md, "lend, one busy quarter alone", "q0", 25, "%.1f" % sh, "yes" if sh >= 95 else "**NO**")
    jobs, t0, t1 = run(b, [(25, sl, "lend", "burner" if i < 2 else "idle", {}) for i, (_, sl) in enumerate(q)], S)
    tot = 0
    for i in range(2):
        sh = b.share(jobs[i], t0, t1)
        tot += sh
        row(md, "lend, two busy + two idle quarters", "q%d" % i, 25, "%.1f" % sh, "yes" if sh >= 46 else "**NO**")
    row(md, "lend, two busy + two idle quarters", "together", 100, "%.1f" % tot, "yes" if tot >= 95 else "**NO**")
    wake = 4.0
    jobs, t0, t1 = run(b, [(30, "0-30", "lend", "burner", {}), (70, "30-100", "lend", "burner", {})], S + 2, late=(1, wake))
    before = b.share(jobs[0], t0, t0 + wake - 0.5)
    row(md, "lend, 30 busy, 70 idle", "30", 30, "%.1f" % before, "yes" if before >= 95 else "**NO**")
    tw = t0 + wake + 1.0  # the 70's burner needs about a second to calibrate and start
    after = [b.share(j, tw, t1) for j in jobs]
    firsts = [b.share(j, tw, tw + 1) for j in jobs]
    row(md, "lend, then the 70 wakes", "30 / 70", "30 / 70", "%.1f / %.1f (first second %.1f / %.1f)" % (after[0], after[1], firsts[0], firsts[1]),
        "yes" if abs(after[0] - 30) <= 3 and abs(after[1] - 70) <= 3 else "**NO**")
    print("\n".join(md[-8:]), flush=True)
    # A job that launches around the library: the driver's own cuLaunchKernel.
    jobs, t0, t1 = run(b, [(25, "0-25", "cap", "cheat", {}), (75, "25-100", "cap", "burner", {})], max(S, 12))
    w = b.windows(jobs[0], t0, t1, w=min(10.0, t1 - t0))
    killed = jobs[0].procs[0].killed()
    row(md, "25 %, cuLaunchKernel around the library, beside a 75 % job", "cheat", 25,
        "%.1f over %.0f s (%s)" % (max(w), min(10.0, t1 - t0), "killed" if killed else "alive"), "yes" if max(w) <= 28 else "**NO**")
    row(md, "", "75 % job", 75, "%.1f" % b.share(jobs[1], t0, t1), "")
    md += [""]
    print("\n".join(md[-3:]), flush=True)


def other_cases(b, S):
    """The same loads without SoftMig: the hardware's own time-slicing, and
    HAMi-core."""
    md = b.md
    md += ["## Without SoftMig, and with HAMi-core", "", "| case | job | share | work % |", "| --- | --- | --- | --- |"]
    jobs, t0, t1 = run(b, [(None, None, None, "burner", {}) for _ in range(4)], S)
    tot = 0
    for i, j in enumerate(jobs):
        sh = b.share(j, t0, t1)
        tot += sh
        row(md, "native time-slicing, four busy", "p%d" % i, "-", "%.1f" % sh)
    row(md, "native time-slicing, four busy", "together", "-", "%.1f" % tot)
    if b.a.hami:
        # HAMi-core limits SM time only when its region's utilization
        # switch is on, which HAMi's Kubernetes device plugin sets; outside
        # it GPU_CORE_UTILIZATION_POLICY=force is how HAMi-core turns it on
        # (without it, the 2026-12-07 run read 99 % for a job at 25).
        env = {"CUDA_DEVICE_SM_LIMIT": "25", "CUDA_DEVICE_MEMORY_LIMIT": "20g", "GPU_CORE_UTILIZATION_POLICY": "force"}
        jobs, t0, t1 = run(b, [(None, None, None, "burner", {"lib": b.a.hami, "env": env})], S)
        w = b.windows(jobs[0], t0, t1)
        row(md, "HAMi-core, one job at 25", "p0", 25, "%.1f (1 s windows %.1f-%.1f)" % (b.share(jobs[0], t0, t1), min(w), max(w)))
        jobs, t0, t1 = run(b, [(None, None, None, "burner", {"lib": b.a.hami, "env": env}) for _ in range(4)], S)
        tot = 0
        for i, j in enumerate(jobs):
            sh = b.share(j, t0, t1)
            tot += sh
            row(md, "HAMi-core, four at 25", "p%d" % i, 25, "%.1f" % sh)
        row(md, "HAMi-core, four at 25", "together", 100, "%.1f" % tot)
    md += [""]
    print("\n".join(md[-12:]), flush=True)


if __name__ == "__main__":
    main()
