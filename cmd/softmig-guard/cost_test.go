package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/testutil"
)

// TestGuardCost measures the guard's own cost on a node with 8 simulated
// GPUs, each with a sliced job of 4 processes under the library (32
// processes judged every round): CPU time per second and NVML calls per
// second, from the guard's stop line. Numbers go to docs/benchmarks.md.
// Opt in: SOFTMIG_GUARD_COST=30s go test -run TestGuardCost -v ./cmd/softmig-guard
func TestGuardCost(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("SOFTMIG_GUARD_COST"))
	if err != nil {
		t.Skip("set SOFTMIG_GUARD_COST to a duration to measure the guard's cost")
	}
	n := newNode(t, "SOFTMIG_SIM_DEVICES=8")
	for gpu := 0; gpu < 8; gpu++ {
		j := n.job(fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=6g\nSOFTMIG_GPU_0=%d\nSOFTMIG_REGION=$REGION\n", gpu))
		for p := 0; p < 4; p++ {
			c := n.start(j, true, []string{fmt.Sprintf("CUDA_VISIBLE_DEVICES=%d", gpu)}, "cuclient", "init", "dev:0", "alloc:1g", "ready", "hold")
			if res := testutil.ClientResults(c.lines); len(res) != 3 || res[2] != "alloc rc=0" {
				t.Fatalf("client: %q", c.lines)
			}
		}
	}
	g := n.guard()
	time.Sleep(d)
	out := g.stop(t)
	m := regexp.MustCompile(`stop: rounds=(\d+) kills=(\d+) nvml_calls=(\d+) nvml_calls_per_s=([\d.]+) cpu_ms=(\d+) seconds=([\d.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no stop line:\n%s", out)
	}
	if m[2] != "0" {
		t.Errorf("the guard killed %s times:\n%s", m[2], out)
	}
	cpu, _ := strconv.ParseFloat(m[5], 64)
	secs, _ := strconv.ParseFloat(m[6], 64)
	t.Logf("8 GPUs, 32 processes: %s rounds in %s s, NVML %s calls/s, CPU %.1f ms/s (%.2f %% of one core)",
		m[1], m[6], m[4], cpu/secs, cpu/secs/10)
}
