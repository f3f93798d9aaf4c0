// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/testutil"
)

// The attacks of issue 12 that the library is to refuse (item 1), run
// against library and guard together: whichever layer stops it, one second
// after the last process crossed, the job holds no more than its slice (plus
// the guard's margin), and every process killed died within 1 s of its
// crossing.
func heldToSlice(t *testing.T, n *node, g *guardProc, j *sjob, limit uint64, clients ...*client) {
	t.Helper()
	var last time.Time
	for _, c := range clients {
		if c.ready.After(last) {
			last = c.ready
		}
	}
	time.Sleep(time.Until(last.Add(killLimit + 100*time.Millisecond)))
	var pids []int
	killed := 0
	for _, c := range clients {
		if c.alive() {
			pids = append(pids, c.pid())
			continue
		}
		killed++
		if !c.ready.IsZero() && c.exitAt.Sub(c.ready) > killLimit {
			t.Errorf("pid %d died %s after crossing; want within %s", c.pid(), c.exitAt.Sub(c.ready), killLimit)
		}
	}
	used := n.nvmlUsed(0, pids...)
	margin := uint64(64 << 20)
	if used > limit+margin {
		t.Fatalf("job holds %d bytes 1 s after crossing, slice %d:\n%s\nguard:\n%s", used, limit, j.guardLog(t), g.output())
	}
	t.Logf("held: %d MiB of %d MiB, %d of %d processes killed by the guard", used>>20, limit>>20, killed, len(clients))
}

// unshare -U -C: the process's own /proc/self/cgroup shows no job.
func TestAttackCgroupNamespace(t *testing.T) {
	t.Parallel()
	if err := exec.Command("unshare", "-U", "-C", "true").Run(); err != nil {
		t.Skipf("unprivileged user and cgroup namespaces not available: %v", err)
	}
	n := newNode(t)
	j := n.job(slicedConf)
	g := n.guard()
	argv := []string{"setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
		"unshare", "-U", "-C", n.shared.Path("build/test/cuclient"), "init", "dev:0", "alloc:13g", "ready", "hold"}
	c := n.startArgv(j, []string{"LD_PRELOAD=" + n.lib()}, argv)
	heldToSlice(t, n, g, j, 12<<30, c)
}

// No SOFTMIG_REGION in the config, one TMPDIR per process: one region each.
func TestAttackTMPDIRRegions(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	j := n.job("CUDA_DEVICE_MEMORY_LIMIT=12g\nSOFTMIG_GPU_0=0\n")
	g := n.guard()
	var cs []*client
	for i := 0; i < 3; i++ {
		tmp := filepath.Join(n.dir, fmt.Sprintf("tmp%d", i))
		testutil.Must(t, os.Mkdir(tmp, 0o777))
		testutil.Must(t, os.Chmod(tmp, 0o777))
		cs = append(cs, n.start(j, true, []string{"TMPDIR=" + tmp, "SLURM_TMPDIR=" + tmp}, "cuclient", "init", "dev:0", "alloc:5g", "ready", "hold"))
	}
	heldToSlice(t, n, g, j, 12<<30, cs...)
}

// Eight contexts created at once where three fit (1 GiB slice, 300 MiB a
// context on the simulator).
func TestAttackConcurrentContexts(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	j := n.job("CUDA_DEVICE_MEMORY_LIMIT=1g\nSOFTMIG_GPU_0=0\nSOFTMIG_REGION=$REGION\n")
	g := n.guard()
	cs := make([]*client, 8)
	var wg sync.WaitGroup
	for i := range cs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cs[i] = n.start(j, true, nil, "cuclient", "init", "dev:0", "ready", "hold")
		}(i)
	}
	wg.Wait()
	heldToSlice(t, n, g, j, 1<<30, cs...)
}

// A user's NVML first on LD_LIBRARY_PATH, whose nvmlInit fails: contexts go
// uncounted by a library that trusts it.
func TestAttackUserNVML(t *testing.T) {
	t.Parallel()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build the stub NVML")
	}
	n := newNode(t)
	stub := filepath.Join(n.dir, "stub")
	testutil.Must(t, os.Mkdir(stub, 0o755))
	src := filepath.Join(stub, "nvml.c")
	testutil.Must(t, os.WriteFile(src, []byte("int nvmlInit(void){return 999;}\nint nvmlInit_v2(void){return 999;}\nint nvmlInitWithFlags(unsigned f){(void)f;return 999;}\n"), 0o644))
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", filepath.Join(stub, "libnvidia-ml.so.1"), src).CombinedOutput(); err != nil {
		t.Fatalf("stub NVML: %v\n%s", err, out)
	}
	j := n.job("CUDA_DEVICE_MEMORY_LIMIT=2g\nSOFTMIG_GPU_0=0\nSOFTMIG_REGION=$REGION\n")
	g := n.guard()
	env := []string{"LD_LIBRARY_PATH=" + stub + ":" + n.shared.Path("build/sim")}
	c := n.start(j, true, env, "cuclient", "init", "dev:0", "alloc:1500m", "ctxcreate", "ctxcreate", "ctxcreate", "ready", "hold")
	heldToSlice(t, n, g, j, 2<<30, c)
}
