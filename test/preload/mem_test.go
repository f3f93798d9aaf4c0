// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"strings"
	"testing"
)

func TestPassiveIsTheDriversOwnAnswer(t *testing.T) {
	r := newRig(t)
	lines, stderr := r.run(nil, "cuclient", "init", "dev:0", "meminfo", "devtotal", "alloc:40g", "badfree")
	want(t, "passive client", results(lines[:2]), "init rc=0", "dev rc=0")
	total, free := totalFree(t, lines[2])
	if total != 48*GiB || free != 48*GiB-ctxMem {
		t.Fatalf("passive info total=%d free=%d, want the simulator's 48 GiB less one context", total, free)
	}
	want(t, "passive devtotal", lines[3:4], "devtotal rc=0 total=51539607552")
	want(t, "passive rest", results(lines[4:]), "alloc rc=0", "badfree rc=1")
	if stderr != "" {
		t.Fatalf("passive process wrote to stderr: %q", stderr)
	}
	if readFile(t, r.regionPath("")) != "" || readFile(t, r.dir+"/softmig.log") != "" {
		t.Fatal("a passive process created a region or a log")
	}
}

func TestLimitShapesEveryView(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "meminfo", "devtotal", "alloc:1g", "meminfo")
	want(t, "dev", results(lines[:2]), "init rc=0", "dev rc=0")
	total, free := totalFree(t, lines[2])
	if total != 2*GiB || free != 2*GiB-ctxMem {
		t.Fatalf("info total=%d free=%d, want total 2 GiB, free 2 GiB less the context", total, free)
	}
	want(t, "devtotal", lines[3:4], "devtotal rc=0 total=2147483648")
	want(t, "alloc", results(lines[4:5]), "alloc rc=0")
	total, free = totalFree(t, lines[5])
	if total != 2*GiB || free != GiB-ctxMem {
		t.Fatalf("info after 1 GiB: total=%d free=%d", total, free)
	}
}

// Every allocation path is held to the slice: fill it, be refused, free,
// and fit again.
func TestEveryAllocationPath(t *testing.T) {
	cases := []struct {
		name string
		fill string // takes 1 GiB
		over string // would take 1 GiB more
	}{
		{"cuMemAlloc_v2", "alloc:1g", "alloc:1g"},
		{"cuMemAlloc(v1)", "v1alloc:1g", "v1alloc:1g"},
		{"cuMemAllocPitch_v2", "pitch:1m:1024", "pitch:1m:1024"},
		{"cuMemAllocManaged", "managed:1g", "managed:1g"},
		{"cuMemAllocAsync", "async:1g", "async:1g"},
		{"cuMemAllocFromPoolAsync", "pool:1g", "pool:1g"},
		{"cuMemCreate", "vmm:1g", "vmm:1g"},
		{"cuArrayCreate_v2", "array:16384:16384", "array:16384:16384"},
		{"cuArray3DCreate_v2", "array3d:1024:1024:256", "array3d:1024:1024:256"},
		{"cuMipmappedArrayCreate", "mipmap:16384:12288:1", "mipmap:16384:16384:1"},
		{"cuGraphAddMemAllocNode", "graphmem:1g", "graphmem:1g"},
	}
	for _, client := range []string{"cuclient", "dl_client"} {
		for _, c := range cases {
			if client == "dl_client" && c.name == "cuMemAlloc(v1)" {
				continue // the runtime never asks for pre-3.2 entry points
			}
			t.Run(client+"/"+c.name, func(t *testing.T) {
				r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=2g")
				lines, _ := r.run(nil, client, "init", "dev:0", c.fill, c.over, "free", c.over, "freeall", "meminfo")
				cmd, _, _ := strings.Cut(c.over, ":")
				want(t, "results", results(lines[:6]), "init rc=0", "dev rc=0", cmd+" rc=0", cmd+" rc=2", "free rc=0", cmd+" rc=0")
				_, free := totalFree(t, lines[7])
				if free != 2*GiB-ctxMem {
					t.Fatalf("after freeing everything free=%d, want %d", free, 2*GiB-ctxMem)
				}
				if v := readRegion(t, r.regionPath("")); v.tracked(0) != 0 {
					t.Fatalf("region still counts %d bytes after exit", v.tracked(0))
				}
			})
		}
	}
}

func TestFreeOfUnknownPointerGoesToTheDriver(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "badfree", "alloc:1g", "meminfo")
	// The simulator answers CUDA_ERROR_INVALID_VALUE, as the driver does.
	want(t, "bad free", results(lines[:4]), "init rc=0", "dev rc=0", "badfree rc=1", "alloc rc=0")
}

func TestContextMemoryCounts(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=1g")
	// 300 MiB of context + 700 MiB fits 1 GiB exactly; a second context
	// (300 MiB) then does not.
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "alloc:724m", "alloc:1m", "ctxcreate", "free", "free", "ctxcreate", "ctxdestroy", "dev:0", "meminfo")
	want(t, "context", results(lines[:8]), "init rc=0", "dev rc=0", "alloc rc=0", "alloc rc=2", "ctxcreate rc=2", "free rc=0",
		"free rc=1", "ctxcreate rc=0")
	want(t, "destroy", results(lines[8:10]), "ctxdestroy rc=0", "dev rc=0")
	_, free := totalFree(t, lines[10])
	if free != GiB-ctxMem {
		t.Fatalf("after the created context is gone free=%d, want %d", free, GiB-ctxMem)
	}
}

func TestForkChildDoesNotReleaseParentsMemory(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "alloc:1g", "fork", "meminfo")
	want(t, "fork", results(lines[:4]), "init rc=0", "dev rc=0", "alloc rc=0", "fork rc=0")
	_, free := totalFree(t, lines[4])
	if free != GiB-ctxMem {
		t.Fatalf("after a child exited free=%d, want %d (the parent's 1 GiB still counted)", free, GiB-ctxMem)
	}
}

func TestPerDeviceLimitsFollowCudaVisibleDevices(t *testing.T) {
	r := newRig(t, "SOFTMIG_SIM_DEVICES=2", "CUDA_DEVICE_MEMORY_LIMIT=4g", "CUDA_DEVICE_MEMORY_LIMIT_1=2g")
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "meminfo", "dev:1", "meminfo")
	t0, _ := totalFree(t, lines[2])
	t1, _ := totalFree(t, lines[4])
	if t0 != 4*GiB || t1 != 2*GiB {
		t.Fatalf("ordinals 0,1: totals %d,%d, want 4 GiB, 2 GiB", t0, t1)
	}
	// With only physical GPU 1 visible, it is ordinal 0 and gets _0's limit.
	lines, _ = r.run([]string{"CUDA_VISIBLE_DEVICES=1"}, "cuclient", "init", "dev:0", "meminfo")
	if tt, _ := totalFree(t, lines[2]); tt != 4*GiB {
		t.Fatalf("CUDA_VISIBLE_DEVICES=1, ordinal 0: total %d, want 4 GiB", tt)
	}
}

func TestMalformedEnvironmentFailsClosed(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=12X")
	lines, stderr := r.run(nil, "cuclient", "init")
	want(t, "fail closed", results(lines), "init rc=800")
	if !strings.Contains(stderr, "softmig: GPU disabled for this process") ||
		!strings.Contains(stderr, "CUDA_DEVICE_MEMORY_LIMIT") {
		t.Fatalf("stderr %q does not name the variable", stderr)
	}
}
