// SPDX-License-Identifier: Apache-2.0

package gpu

import (
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/softmig/softmig/internal/testutil"
)

// Samples that appear between go-nvml's sizing call and its second call
// make the second answer NVML_ERROR_INSUFFICIENT_SIZE with a larger
// count, and go-nvml then slices its buffer past its end: a panic that
// took softmig-guard down whenever a sampling instant fell between two of
// its calls (with 20 ms bins, within seconds). Utilization asks again
// instead. Here the simulator's bins are 1 ms, a process keeps the GPU
// busy, and two readers ask for the last second's samples as fast as
// they can. The readers run in a process of their own: the simulator's
// state is fixed when a process first loads NVML.
func TestUtilizationWhileSamplesGrow(t *testing.T) {
	if os.Getenv("SOFTMIG_GPU_TEST_READERS") == "1" {
		hammerUtilization(t)
		return
	}
	testutil.Build(t, "sim", "cprogs")
	env := testutil.SimEnv(t, t.TempDir(), "SOFTMIG_SIM_SAMPLE_MS=1")
	load := exec.Command(testutil.Path(t, "build/test/loadgen"), "secs=4", "us=300", "sync=1")
	load.Env = env
	load.Stderr = os.Stderr
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	defer load.Wait()
	time.Sleep(300 * time.Millisecond)
	readers := exec.Command(os.Args[0], "-test.run=^TestUtilizationWhileSamplesGrow$", "-test.v")
	readers.Env = append(env, "SOFTMIG_GPU_TEST_READERS=1", "SOFTMIG_GPU_TEST_NVML="+testutil.Path(t, "build/sim/libnvidia-ml.so.1"))
	out, err := readers.CombinedOutput()
	t.Logf("readers:\n%s", out)
	if err != nil {
		t.Fatalf("readers: %v", err)
	}
}

func hammerUtilization(t *testing.T) {
	lib, err := Open(os.Getenv("SOFTMIG_GPU_TEST_NVML"))
	if err != nil {
		t.Fatal(err)
	}
	defer testutil.Close(t, lib)
	d, err := lib.Device(0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	calls, got := 0, 0
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
				s, err := d.Utilization(time.Now().Add(-time.Second))
				mu.Lock()
				calls++
				if err == nil && len(s) > 0 {
					got++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d calls, %d with samples", calls, got)
	if got == 0 {
		t.Fatalf("no samples in %d calls while a process kept the GPU busy", calls)
	}
	oneCallReadsWhatGoNVMLReads(t, lib, d.(*NVMLDevice))
}

// The one-call read (utilread.go) gives the samples go-nvml's two calls
// give: every sample it returned is in a two-call read made just after,
// which may hold newer ones besides.
func oneCallReadsWhatGoNVMLReads(t *testing.T, lib *NVML, d *NVMLDevice) {
	if lib.util == nil {
		t.Fatal("the one-call reader did not find nvmlDeviceGetProcessUtilization and nvmlDeviceGetHandleByUUID")
	}
	uuid, err := d.UUID()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		since := uint64(time.Now().Add(-300 * time.Millisecond).UnixMicro())
		one, ret := lib.util.read(uuid, since)
		// go-nvml's two calls, its panic caught; new samples between them
		// make the second too small.
		two, ret2 := d.processUtilization(time.UnixMicro(int64(since)))
		for try := 0; try < 3 && ret2 == nvml.ERROR_INSUFFICIENT_SIZE; try++ {
			two, ret2 = d.processUtilization(time.UnixMicro(int64(since)))
		}
		if ret != nvml.SUCCESS || ret2 != nvml.SUCCESS || len(one) == 0 {
			t.Fatalf("one call: %d samples (%v); two: %d (%v)", len(one), ret, len(two), ret2)
		}
		have := map[[2]uint64]uint32{}
		for _, s := range two {
			have[[2]uint64{uint64(s.Pid), s.TimeStamp}] = s.SmUtil
		}
		for _, s := range one {
			if u, ok := have[[2]uint64{uint64(s.Pid), s.TimeStamp}]; !ok || u != s.SmUtil {
				t.Fatalf("one call read pid %d at %d util %d; the two calls after it: %v", s.Pid, s.TimeStamp, s.SmUtil, two)
			}
		}
	}
}
