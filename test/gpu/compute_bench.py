# SPDX-License-Identifier: Apache-2.0
"""Compute-slicing accuracy benchmark on a real GPU (scripts/gpu-compute-bench.sh
runs it).  Runs loads under libsoftmig.so at several CUDA_DEVICE_SM_LIMITs,
samples NVML every 100 ms from this (unhooked) process, and writes
OUT/compute.md (tables) and OUT/compute.png (utilisation over time against
the target).

A job's utilisation is what nvmlDeviceGetProcessUtilization reports for its
pids (smUtil x sample period, summed over the job); for single-job runs the
device utilisation (nvmlDeviceGetUtilizationRates) is shown beside it.
Windows are 1 s; errors are in percentage points of the GPU.

Usage: compute_bench.py --lib L --burner B --out DIR [--secs 12]
       [--loads burner,matmul,graph] [--limits 10,25,50,75]
       [--bench-launch BIN --cubin FILE]
"""
import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class Sample(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint), ("timeStamp", ctypes.c_ulonglong), ("smUtil", ctypes.c_uint),
                ("memUtil", ctypes.c_uint), ("encUtil", ctypes.c_uint), ("decUtil", ctypes.c_uint)]


class Util(ctypes.Structure):
    _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]


class NVML:
    """The few NVML calls needed, through ctypes (no preload in this process)."""

    def __init__(self, index=0):
        self.lib = ctypes.CDLL("libnvidia-ml.so.1")
        if self.lib.nvmlInit_v2() != 0:
            raise SystemExit("compute_bench: nvmlInit failed")
        self.dev = ctypes.c_void_p()
        if self.lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(self.dev)) != 0:
            raise SystemExit("compute_bench: no device %d" % index)
        self.buf = (Sample * 256)()

    def proc_util(self, last_us):
        n = ctypes.c_uint(256)
        r = self.lib.nvmlDeviceGetProcessUtilization(self.dev, self.buf, ctypes.byref(n),
                                                     ctypes.c_ulonglong(last_us))
        if r != 0:  # NVML_ERROR_NOT_FOUND (6): nothing new
            return []
        return [(s.pid, s.timeStamp, s.smUtil) for s in self.buf[:n.value]]

    def sm_clock(self):
        mhz = ctypes.c_uint()
        return mhz.value if self.lib.nvmlDeviceGetClockInfo(self.dev, 1, ctypes.byref(mhz)) == 0 else None

    def dev_util(self):
        u = Util()
        return u.gpu if self.lib.nvmlDeviceGetUtilizationRates(self.dev, ctypes.byref(u)) == 0 else None


class Proc:
    def __init__(self, job, cmd, env):
        self.job = job
        self.p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        self.ready = threading.Event()
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            line = line.strip()
            self.lines.append(line)
            if line == "ready":
                self.ready.set()
        self.ready.set()

    def rate(self):
        for line in self.lines:
            if "rate=" in line:
                return float(line.split("rate=")[1].split()[0])
        return None


class Bench:
    def __init__(self, a):
        self.a = a
        self.nvml = NVML()
        self.jobid = 880000 + os.getpid() % 10000 * 10

    def cmd(self, load, secs):
        if load == "burner":
            # After the baseline, every burner does the baseline's work per kernel.
            extra = [str(self.burner_iters)] if getattr(self, "burner_iters", None) else []
            return [self.a.burner, "1000", str(secs), "8"] + extra
        return [sys.executable, os.path.join(HERE, "compute_load.py"), load, str(secs)]

    def run(self, jobs, secs):
        """jobs: [(name, limit or None, [load, ...], slot or None)].  Returns per
        job: windows (list of %), device windows, samples [(t, %)], rates."""
        procs = []
        for name, limit, loads, slot in jobs:
            self.jobid += 1
            env = dict(os.environ, SLURM_JOB_ID=str(self.jobid),
                       SOFTMIG_LOG_FILE=os.path.join(self.a.out, "softmig.log"))
            env.pop("CUDA_DEVICE_SM_LIMIT", None)
            env.pop("SOFTMIG_SM_SLOT", None)
            if limit is not None:
                env["LD_PRELOAD"] = self.a.lib
                env["CUDA_DEVICE_SM_LIMIT"] = str(limit)
            if slot and not self.a.no_slots:
                env["SOFTMIG_SM_SLOT"] = slot
            for load in loads:
                procs.append(Proc(name, self.cmd(load, secs + 3), env))
        for p in procs:
            if not p.ready.wait(120):
                raise SystemExit("compute_bench: a load never got ready")
        pid_job = {p.p.pid: p.job for p in procs}
        time.sleep(1.0)
        names = [j[0] for j in jobs]
        last = int(time.time() * 1e6)
        for _ in range(3):  # drop what came before the window
            got = self.nvml.proc_util(last)
            last = max([last] + [s[1] for s in got])
            time.sleep(0.05)
        t0 = time.monotonic()
        polls = []  # (t, {job: busy_us}, covered_us, dev%)
        while time.monotonic() - t0 < secs:
            time.sleep(0.1)
            got = self.nvml.proc_util(last)
            covered = max([last] + [s[1] for s in got])
            busy = {n: 0.0 for n in names}
            for pid, ts, util in got:
                if pid not in pid_job:
                    pid_job[pid] = owner(pid, pid_job)
                if pid_job[pid] and ts > last:
                    busy[pid_job[pid]] += util / 100.0 * (min(ts, covered) - last)
            polls.append((time.monotonic() - t0, busy, covered - last, self.nvml.dev_util(), self.nvml.sm_clock()))
            last = covered
        for p in procs:
            p.p.wait()
        res = {}
        for n in names:
            wins, devw, samples = [], [], []
            # A window is 1 s of NVML's samples (five of 200 ms), not the
            # polls of 1 s of wall time, which may cover 0.8 or 1.2 s.
            busy = span = 0.0
            for p in polls:
                busy += p[1][n]
                span += p[2]
                if span >= 0.99e6:
                    wins.append(100.0 * busy / span)
                    busy = span = 0.0
            for w in range(int(secs)):
                dv = [p[3] for p in polls if w <= p[0] < w + 1 and p[3] is not None]
                if dv:
                    devw.append(statistics.mean(dv))
            for p in polls:
                if p[2] > 0:
                    samples.append((p[0], 100.0 * p[1][n] / p[2]))
            rates = [p.rate() for p in procs if p.job == n]
            iters = [int(l[6:]) for p in procs if p.job == n for l in p.lines
                     if l.startswith("iters=") and l[6:].isdigit()]
            clocks = [p[4] for p in polls if p[4]]
            res[n] = {"win": wins, "dev": devw, "samples": samples,
                      "rate": sum(r for r in rates if r is not None),
                      "iters": iters[0] if iters else None,
                      "clock": statistics.median(clocks) if clocks else float("nan")}
        return res


def owner(pid, pid_job):
    """The job of pid: its own, or that of the nearest ancestor with one
    (a load's worker processes count for its job)."""
    seen = 0
    while pid > 1 and seen < 64:
        if pid in pid_job:
            return pid_job[pid]
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
        seen += 1
    return None


def stats(wins, limit):
    if not wins:
        return float("nan"), float("nan"), float("nan")
    err = [w - limit for w in wins]
    p90 = sorted(abs(e) for e in err)[min(len(err) - 1, int(0.9 * len(err)))]
    return statistics.median(wins), statistics.median(err), p90


def ok(b):
    return "yes" if b else "**NO**"


def bench_launch(a):
    """Launch overhead: bench_launch with no library, the library without a
    limit, and a limit the job stays under (short rounds, idle between)."""
    rows = []
    base = dict(os.environ, SLURM_JOB_ID="879999")
    base.pop("CUDA_DEVICE_SM_LIMIT", None)
    cases = [("no library", {}), ("library, no limit", {"LD_PRELOAD": a.lib}),
             ("library, limit 50, under share", {"LD_PRELOAD": a.lib, "CUDA_DEVICE_SM_LIMIT": "50"})]
    for name, extra in cases:
        best = []
        for _ in range(3):
            out = subprocess.run([a.bench_launch, a.cubin, "empty", "2000", "30", "20"],
                                 env=dict(base, **extra), capture_output=True, text=True)
            if out.returncode == 0 and "launch_ns=" in out.stdout:
                best.append(float(out.stdout.split("launch_ns=")[1]))
        rows.append((name, min(best) if best else float("nan")))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--burner", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--secs", type=float, default=12)
    ap.add_argument("--loads", default="burner,matmul,graph")
    ap.add_argument("--limits", default="10,25,50,75")
    ap.add_argument("--bench-launch")
    ap.add_argument("--cubin")
    ap.add_argument("--no-slots", action="store_true",
                    help="no SOFTMIG_SM_SLOT: the NVML controller alone, as before time slots")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    b = Bench(a)
    loads = a.loads.split(",")
    limits = [int(x) for x in a.limits.split(",")]
    md = ["# Compute slicing on %s" % open("/proc/sys/kernel/hostname").read().strip(), ""]
    try:
        name = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True).stdout.strip()
        md += ["GPU: %s. Windows of 1 s over %g s per run; job utilisation from "
               "nvmlDeviceGetProcessUtilization summed over the job's pids. %s" % (
                   name, a.secs, "No time slots (NVML controller alone)." if a.no_slots else
                   "Time slots as softmig-conf gives them (a single job at L: SOFTMIG_SM_SLOT=0-L)."), ""]
    except OSError:
        pass
    plots = []
    base, base_clock = {}, {}
    for load in loads:
        r = b.run([("job", None, [load], None)], min(a.secs, 8))["job"]
        base[load] = r["rate"]
        if load == "burner" and r.get("iters"):
            b.burner_iters = r["iters"]
        base_clock[load] = r["clock"]
        print("baseline %s: rate %.1f, util %.1f" % (load, r["rate"], stats(r["win"], 100)[0]), flush=True)
    md += ["## Single jobs", "",
           "| load | limit | median util | device util | median err | p90 abs err | throughput % of unthrottled | SM clock MHz (unthrottled) | ok (±3, ±5, ±5) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for load in loads:
        for lim in limits:
            r = b.run([("job", lim, [load], "0-%d" % lim)], a.secs)["job"]
            med, merr, p90 = stats(r["win"], lim)
            dmed = statistics.median(r["dev"]) if r["dev"] else float("nan")
            thr = 100.0 * r["rate"] / base[load] if base[load] else float("nan")
            good = abs(merr) <= 3 and p90 <= 5 and abs(thr - lim) <= 5
            md.append("| %s | %d | %.1f | %.1f | %+.1f | %.1f | %.1f | %.0f (%.0f) | %s |" % (
                load, lim, med, dmed, merr, p90, thr, r["clock"], base_clock.get(load, float("nan")), ok(good)))
            plots.append(("%s at %d%%" % (load, lim), {"job": r}, {"job": lim}))
            print(md[-1], flush=True)
    md += ["", "## Several jobs on one GPU (burner)", "",
           "NVML's per-process utilisation of time-sliced processes is coarse (whole time slices,",
           "late), so each job's share is also given as its part of the jobs' summed NVML utilisation,",
           "and by the work it did: its throughput against one unthrottled burner alone on the GPU.", "",
           "| run | job | limit | median util | share of summed util | throughput % of unthrottled | share of summed throughput | ok (share ±3) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]

    def shares(r, names):
        util = {n: statistics.mean(r[n]["win"]) if r[n]["win"] else 0.0 for n in names}
        tu, tr = sum(util.values()), sum(r[n]["rate"] for n in names)
        return {n: (100.0 * util[n] / tu if tu else float("nan"),
                    100.0 * r[n]["rate"] / base["burner"] if base.get("burner") else float("nan"),
                    100.0 * r[n]["rate"] / tr if tr else float("nan")) for n in names}

    r = b.run([("a", 30, ["burner"], "0-30"), ("b", 70, ["burner"], "30-100")], a.secs)
    sh = shares(r, ["a", "b"])
    for n, lim in (("a", 30), ("b", 70)):
        med, merr, p90 = stats(r[n]["win"], lim)
        us, thr, ts = sh[n]
        md.append("| 30/70 | %s | %d | %.1f | %.1f | %.1f | %.1f | %s |" % (
            n, lim, med, us, thr, ts, ok(abs(ts - lim) <= 3 and abs(us - lim) <= 3)))
    plots.append(("two jobs 30/70", r, {"a": 30, "b": 70}))
    q = [("q%d" % i, 25, ["burner"], "%d-%d" % (25 * i, 25 * i + 25)) for i in range(4)]
    r = b.run(q, a.secs)
    total = 0.0
    sh = shares(r, [n for n, _, _, _ in q])
    for n, _, _, _ in q:
        med, merr, p90 = stats(r[n]["win"], 25)
        total += r[n]["rate"]
        us, thr, ts = sh[n]
        md.append("| quarters | %s | 25 | %.1f | %.1f | %.1f | %.1f | %s |" % (
            n, med, us, thr, ts, ok(abs(thr - 25) <= 3 and abs(us - 25) <= 3)))
    share = 100.0 * total / base["burner"] if base.get("burner") else float("nan")
    md += ["", "Four quarter jobs together: %.1f%% of one unthrottled burner's throughput (target >= 95%%): %s."
           % (share, ok(share >= 95)), ""]
    plots.append(("four quarter jobs", r, {n: 25 for n, _, _, _ in q}))
    print("\n".join(md[-12:]), flush=True)
    if a.bench_launch and a.cubin:
        rows = bench_launch(a)
        md += ["## Launch overhead (bench_launch, empty kernel, best of 3 x 30 rounds of 2000)", "",
               "| case | ns per launch | added |", "| --- | --- | --- |"]
        for name, ns in rows:
            md.append("| %s | %.1f | %+.1f |" % (name, ns, ns - rows[0][1]))
        md += ["", "Targets: no limit <= +50 ns, limit under share <= +150 ns.", ""]
    with open(os.path.join(a.out, "compute.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("compute_bench: no matplotlib, no plot", file=sys.stderr)
        return
    cols = 3
    rows = (len(plots) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 2.6 * rows), squeeze=False)
    for ax, (title, res, targets) in zip(axes.flat, plots):
        for n, r in res.items():
            ts = [s[0] for s in r["samples"]]
            ax.plot(ts, [s[1] for s in r["samples"]], lw=0.6, alpha=0.5)
            ax.step([i + 1 for i in range(len(r["win"]))], r["win"], where="pre", lw=1.5, label=n)
            ax.axhline(targets[n], ls="--", lw=1, color="k")
        ax.set_title(title, fontsize=9)
        ax.set_ylim(0, 105)
        ax.set_xlabel("s", fontsize=8)
        ax.set_ylabel("% GPU", fontsize=8)
    for ax in list(axes.flat)[len(plots):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "compute.png"), dpi=110)


if __name__ == "__main__":
    main()
