# SPDX-License-Identifier: Apache-2.0
"""Raw nvmlDeviceGetProcessUtilization samples for 1 and 4 busy burners, as
the compute controller polls them (every 20 ms, lastSeenTimeStamp = newest
sample seen).  Records what real NVML returns, so the simulator and the
controller's measurement can be made to match it (docs/compute.md).
Usage: nvml_samples.py BURNER OUTDIR"""
import csv
import ctypes
import os
import statistics
import subprocess
import sys
import time


class Sample(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint), ("timeStamp", ctypes.c_ulonglong), ("smUtil", ctypes.c_uint),
                ("memUtil", ctypes.c_uint), ("encUtil", ctypes.c_uint), ("decUtil", ctypes.c_uint)]


def main():
    burner, out = sys.argv[1], sys.argv[2]
    lib = ctypes.CDLL("libnvidia-ml.so.1")
    lib.nvmlInit_v2()
    dev = ctypes.c_void_p()
    lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(dev))
    buf = (Sample * 512)()
    rows, summary = [], []
    for nproc in (1, 4):
        procs = [subprocess.Popen([burner, "1000", "6", "8"], stdout=subprocess.PIPE, text=True) for _ in range(nproc)]
        for p in procs:
            while p.stdout.readline().strip() != "ready":
                pass
        time.sleep(1.0)
        last = int(time.time() * 1e6)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3.0:
            n = ctypes.c_uint(512)
            now = int(time.time() * 1e6)
            r = lib.nvmlDeviceGetProcessUtilization(dev, buf, ctypes.byref(n), ctypes.c_ulonglong(last))
            got = [(s.pid, s.timeStamp, s.smUtil) for s in buf[:n.value]] if r == 0 else []
            for pid, ts, sm in got:
                rows.append((nproc, now, last, r, pid, ts, sm))
            if not got:
                rows.append((nproc, now, last, r, 0, 0, 0))
            if got:
                last = max(last, max(ts for _, ts, _ in got))
            time.sleep(0.02)
        for p in procs:
            p.wait()
        mine = [r for r in rows if r[0] == nproc and r[4]]
        by = {}
        for r in mine:
            by.setdefault(r[4], []).append(r[5])
        deltas = [b - a for ts in by.values() for a, b in zip(sorted(set(ts)), sorted(set(ts))[1:])]
        delays = [r[1] - r[5] for r in mine]
        calls = [r for r in rows if r[0] == nproc]
        summary.append("%d busy: %d samples, per-pid period median %.0f us (min %.0f), delay now-ts median %.0f us, "
                       "mean smUtil %.1f, empty calls %d of %d" % (
                           nproc, len(mine), statistics.median(deltas) if deltas else -1, min(deltas) if deltas else -1,
                           statistics.median(delays) if delays else -1,
                           statistics.mean(r[6] for r in mine) if mine else -1,
                           sum(1 for r in calls if r[4] == 0), len(set((r[1]) for r in calls))))
    with open(os.path.join(out, "nvml-samples.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["busy_procs", "call_us", "last_seen_us", "ret", "pid", "sample_ts_us", "sm_util"])
        w.writerows(rows)
    print("\n".join(summary))


main()
