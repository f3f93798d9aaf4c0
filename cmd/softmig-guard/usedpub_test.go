// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/region"
	"github.com/softmig/softmig/internal/usedfile"
)

// The guard publishes each job's memory on a GPU (its used file), and a
// job process's first allocation takes its view of the job from there
// instead of reading the GPU's process list (issue 25): a process that
// fits reads no list at all. The view is root's, so a region its user
// zeroed does not let a new process past the slice, and a refusal still
// reads NVML first.
func TestUsedFileStandsInForTheFirstRead(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "nvml-reads")
	if err := os.WriteFile(trace, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(trace, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(trace), 0o777); err != nil {
		t.Fatal(err)
	}
	n := newNode(t, "SOFTMIG_SIM_NVML_TRACE="+trace)
	j := n.job("CUDA_DEVICE_MEMORY_LIMIT=4g\nSOFTMIG_GPU_0=0\nSOFTMIG_REGION=$REGION\n")
	g := n.guard()
	holder := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:2g", "ready", "hold")
	defer holder.stop()
	path := publishedFor(t, j.id, 2<<30)

	fits := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:1g", "ready", "hold")
	defer fits.stop()
	if !strings.Contains(strings.Join(fits.lines, " "), "alloc rc=0") {
		t.Fatalf("1 GiB beside 2 GiB of a 4 GiB slice: %q", fits.lines)
	}
	if k := readsBy(t, trace, fits.pid()); k != 0 {
		t.Errorf("a process whose first allocation fits read the process list %d times, want 0 (used file %s)", k, path)
	}

	// The user zeroes the job's bookkeeping; the guard's numbers still
	// hold a new process: 2 + 1 GiB, three contexts and 3 GiB do not fit.
	zeroUsage(t, filepath.Join(defs.RunDir(), j.id+".region"))
	publishedFor(t, j.id, 3<<30)
	over := n.start(j, true, nil, "cuclient", "init", "dev:0", "meminfo", "alloc:3g", "ready", "hold")
	defer over.stop()
	// What the program is told agrees: at most 1 GiB of the slice is free.
	for _, line := range over.lines {
		var free, total uint64
		if _, err := fmt.Sscanf(line, "meminfo rc=0 free=%d total=%d", &free, &total); err == nil && free > 1<<30 {
			t.Errorf("cuMemGetInfo beside 3 GiB held of a 4 GiB slice, the region zeroed: free %d, want at most 1 GiB", free)
		}
	}
	if !strings.Contains(strings.Join(over.lines, " "), "alloc rc=2") {
		t.Errorf("3 GiB over 3 GiB held of a 4 GiB slice, the region zeroed: %q, want a refusal", over.lines)
	}
	if k := readsBy(t, trace, over.pid()); k == 0 {
		t.Errorf("a refusal read no process list: NVML is consulted before every refusal")
	}

	// The guard gone, its file goes; one left stale is not believed.
	g.stop(t)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("used file after the guard stopped: %v, want it removed", err)
	}
	stale, err := usedfile.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stale.Remove(); err != nil {
			t.Error(err)
		}
	})
	stale.Publish(time.Now().Add(-2*usedfile.Fresh), 0, nil)
	late := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:64m", "ready", "hold")
	defer late.stop()
	if k := readsBy(t, trace, late.pid()); k == 0 {
		t.Errorf("a used file %s old was believed: its process read no process list", 2*usedfile.Fresh)
	}
}

// publishedFor waits until some GPU's used file shows job holding at
// least want, and returns its path.
func publishedFor(t *testing.T, job string, want uint64) string {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		paths, _ := filepath.Glob(filepath.Join(defs.RunDir(), "*"+usedfile.Suffix))
		for _, p := range paths {
			l, err := usedfile.Read(p)
			if err != nil {
				continue
			}
			if used, ok := l.Job(job); ok && used >= want && time.Since(l.Seen()) < usedfile.Fresh/2 {
				return p
			} else if used > 0 {
				last = p + ": " + strconv.FormatUint(used, 10)
			}
		}
	}
	t.Fatalf("no used file showed job %s holding %d within 10 s (last: %q)", job, want, last)
	return ""
}

// readsBy counts the process-list reads pid made (the simulator's trace).
func readsBy(t *testing.T, trace string, pid int) int {
	t.Helper()
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for _, line := range strings.Fields(string(b)) {
		if line == strconv.Itoa(pid) {
			k++
		}
	}
	return k
}

// zeroUsage zeroes what the region says the job holds (its devices'
// counters and its processes' usage), keeping the context size on record,
// as the job's user can.
func zeroUsage(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var l region.Layout
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&l)), unsafe.Sizeof(l))
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	for d := range l.Devs {
		l.Devs[d].Tracked, l.Devs[d].Excess, l.Devs[d].Peak = 0, 0, 0
	}
	for p := range l.Procs {
		l.Procs[p].Used, l.Procs[p].NVML = [defs.MaxDevices]uint64{}, [defs.MaxDevices]uint64{}
	}
	if _, err := f.WriteAt(buf[unsafe.Offsetof(l.Devs):], int64(unsafe.Offsetof(l.Devs))); err != nil {
		t.Fatal(err)
	}
}
