package preloadtest

import (
	"strings"
	"testing"
)

func TestPassiveIsTheDriversOwnAnswer(t *testing.T) {
	r := newRig(t)
	lines, stderr := r.run(nil, "cuclient", "dev", "0", "info", "devtotal", "alloc", "40g", "badfree")
	want(t, "passive client", lines[:1], "dev=OK")
	total, free := totalFree(t, lines[1])
	if total != 48*GiB || free != 48*GiB-ctxMem {
		t.Fatalf("passive info total=%d free=%d, want the simulator's 48 GiB less one context", total, free)
	}
	want(t, "passive rest", lines[2:], "devtotal=51539607552", "alloc=OK", "badfree=1")
	if stderr != "" {
		t.Fatalf("passive process wrote to stderr: %q", stderr)
	}
	if readFile(t, r.regionPath("")) != "" || readFile(t, r.dir+"/softmig.log") != "" {
		t.Fatal("a passive process created a region or a log")
	}
}

func TestLimitShapesEveryView(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	lines, _ := r.run(nil, "cuclient", "dev", "0", "info", "devtotal", "alloc", "1g", "info")
	want(t, "dev", lines[:1], "dev=OK")
	total, free := totalFree(t, lines[1])
	if total != 2*GiB || free != 2*GiB-ctxMem {
		t.Fatalf("info total=%d free=%d, want total 2 GiB, free 2 GiB less the context", total, free)
	}
	want(t, "devtotal", lines[2:4], "devtotal=2147483648", "alloc=OK")
	total, free = totalFree(t, lines[4])
	if total != 2*GiB || free != GiB-ctxMem {
		t.Fatalf("info after 1 GiB: total=%d free=%d", total, free)
	}
}

// Every allocation path is held to the slice: fill it, be refused, free,
// and fit again.
func TestEveryAllocationPath(t *testing.T) {
	cases := []struct {
		name string
		fill []string // takes 1 GiB
		over []string // would take 1 GiB more
	}{
		{"cuMemAlloc_v2", []string{"alloc", "1g"}, []string{"alloc", "1g"}},
		{"cuMemAlloc(v1)", []string{"v1alloc", "1g"}, []string{"v1alloc", "1g"}},
		{"cuMemAllocPitch_v2", []string{"pitch", "1m", "1024"}, []string{"pitch", "1m", "1024"}},
		{"cuMemAllocManaged", []string{"managed", "1g"}, []string{"managed", "1g"}},
		{"cuMemAllocAsync", []string{"async", "1g"}, []string{"async", "1g"}},
		{"cuMemAllocFromPoolAsync", []string{"pool", "1g"}, []string{"pool", "1g"}},
		{"cuMemCreate", []string{"vmm", "1g"}, []string{"vmm", "1g"}},
		{"cuArrayCreate_v2", []string{"array", "16384", "16384"}, []string{"array", "16384", "16384"}},
		{"cuArray3DCreate_v2", []string{"array3d", "1024", "1024", "256"}, []string{"array3d", "1024", "1024", "256"}},
		{"cuMipmappedArrayCreate", []string{"mipmap", "16384", "12288", "1"}, []string{"mipmap", "16384", "16384", "1"}},
		{"cuGraphAddMemAllocNode", []string{"graphmem", "1g"}, []string{"graphmem", "1g"}},
	}
	for _, client := range []string{"cuclient", "dl_client"} {
		for _, c := range cases {
			if client == "dl_client" && c.name == "cuMemAlloc(v1)" {
				continue // the runtime never asks for pre-3.2 entry points
			}
			t.Run(client+"/"+c.name, func(t *testing.T) {
				r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=2g")
				args := []string{"dev", "0"}
				args = append(args, c.fill...)
				args = append(args, c.over...)
				args = append(args, "free")
				args = append(args, c.over...)
				args = append(args, "freeall", "info")
				lines, _ := r.run(nil, client, args...)
				want(t, "results", lines[:5], "dev=OK", "alloc=OK", "alloc=ERR 2", "free=OK", "alloc=OK")
				_, free := totalFree(t, lines[6])
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
	lines, _ := r.run(nil, "cuclient", "dev", "0", "badfree", "alloc", "1g", "info")
	// The simulator answers CUDA_ERROR_INVALID_VALUE, as the driver does.
	want(t, "bad free", lines[:3], "dev=OK", "badfree=1", "alloc=OK")
}

func TestContextMemoryCounts(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=1g")
	// 300 MiB of context + 700 MiB fits 1 GiB exactly; a second context
	// (300 MiB) then does not.
	lines, _ := r.run(nil, "cuclient", "dev", "0", "alloc", "724m", "alloc", "1m", "ctxcreate", "free", "free", "ctxcreate", "ctxdestroy", "dev", "0", "info")
	want(t, "context", lines[:7], "dev=OK", "alloc=OK", "alloc=ERR 2", "ctxcreate=ERR 2", "free=OK",
		"free=ERR 1", "ctxcreate=OK")
	want(t, "destroy", lines[7:9], "ctxdestroy=OK", "dev=OK")
	_, free := totalFree(t, lines[9])
	if free != GiB-ctxMem {
		t.Fatalf("after the created context is gone free=%d, want %d", free, GiB-ctxMem)
	}
}

func TestForkChildDoesNotReleaseParentsMemory(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	lines, _ := r.run(nil, "cuclient", "dev", "0", "alloc", "1g", "fork", "info")
	want(t, "fork", lines[:3], "dev=OK", "alloc=OK", "fork=OK")
	_, free := totalFree(t, lines[3])
	if free != GiB-ctxMem {
		t.Fatalf("after a child exited free=%d, want %d (the parent's 1 GiB still counted)", free, GiB-ctxMem)
	}
}

func TestPerDeviceLimitsFollowCudaVisibleDevices(t *testing.T) {
	r := newRig(t, "SOFTMIG_SIM_DEVICES=2", "CUDA_DEVICE_MEMORY_LIMIT=4g", "CUDA_DEVICE_MEMORY_LIMIT_1=2g")
	lines, _ := r.run(nil, "cuclient", "dev", "0", "info", "dev", "1", "info")
	t0, _ := totalFree(t, lines[1])
	t1, _ := totalFree(t, lines[3])
	if t0 != 4*GiB || t1 != 2*GiB {
		t.Fatalf("ordinals 0,1: totals %d,%d, want 4 GiB, 2 GiB", t0, t1)
	}
	// With only physical GPU 1 visible, it is ordinal 0 and gets _0's limit.
	lines, _ = r.run([]string{"CUDA_VISIBLE_DEVICES=1"}, "cuclient", "dev", "0", "info")
	if tt, _ := totalFree(t, lines[1]); tt != 4*GiB {
		t.Fatalf("CUDA_VISIBLE_DEVICES=1, ordinal 0: total %d, want 4 GiB", tt)
	}
}

func TestMalformedEnvironmentFailsClosed(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=12X")
	lines, stderr := r.run(nil, "cuclient", "dev", "0")
	want(t, "fail closed", lines, "init=ERR 800")
	if !strings.Contains(stderr, "softmig: GPU disabled for this process") ||
		!strings.Contains(stderr, "CUDA_DEVICE_MEMORY_LIMIT") {
		t.Fatalf("stderr %q does not name the variable", stderr)
	}
}
