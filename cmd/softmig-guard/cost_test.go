// SPDX-License-Identifier: Apache-2.0

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
// GPUs, each shared by 4 quarter jobs (memory and time slices) of one
// process each that launches kernels under the library (32 jobs whose
// memory, mappings and GPU time the guard judges): CPU time per second and
// NVML calls per second, from the guard's stop line. Numbers go to
// docs/benchmarks.md. Opt in (it is a benchmark):
// SOFTMIG_GUARD_COST=30s go test -run TestGuardCost -v ./cmd/softmig-guard
func TestGuardCost(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("SOFTMIG_GUARD_COST"))
	if err != nil {
		t.Skip("set SOFTMIG_GUARD_COST to a duration to measure the guard's cost")
	}
	n := newNode(t, "SOFTMIG_SIM_DEVICES=8", "SOFTMIG_SIM_CTX_MEMORY=300m")
	var clients []*client
	for gpu := 0; gpu < 8; gpu++ {
		for q := 0; q < 4; q++ {
			j := n.job(fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=12g\nCUDA_DEVICE_SM_LIMIT=25\nSOFTMIG_SM_SLOT_0=%d-%d\nSOFTMIG_GPU_0=%d\nSOFTMIG_UID=%d\nSOFTMIG_REGION=$REGION\n",
				25*q, 25*q+25, gpu, nobody))
			c := n.start(j, true, []string{fmt.Sprintf("CUDA_VISIBLE_DEVICES=%d", gpu)}, "cuclient", "init", "dev:0", "alloc:1g", "ready",
				"launch:1000:100000")
			if res := testutil.ClientResults(c.lines); len(res) != 3 || res[2] != "alloc rc=0" {
				t.Fatalf("client: %q", c.lines)
			}
			clients = append(clients, c)
		}
	}
	g := n.guard()
	time.Sleep(d)
	out := g.stop(t)
	for _, c := range clients { // at once: each would take its 5 s to stop
		c.cmd.Process.Kill()
	}
	m := regexp.MustCompile(`stop: looks=(\d+) .* kills=(\d+) pauses=(\d+) nvml_calls=(\d+) nvml_calls_per_s=([\d.]+) .* cpu_ms=(\d+) nvml_cpu_ms=(\d+) seconds=([\d.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no stop line:\n%s", out)
	}
	if m[2] != "0" || m[3] != "0" {
		t.Errorf("the guard killed %s and paused %s times:\n%s", m[2], m[3], out)
	}
	cpu, _ := strconv.ParseFloat(m[6], 64)
	driver, _ := strconv.ParseFloat(m[7], 64)
	secs, _ := strconv.ParseFloat(m[8], 64)
	t.Logf("8 GPUs, 32 jobs: %s looks in %s s, NVML %s calls/s, CPU %.1f ms/s (%.2f %% of one core; %.2f %% inside the simulated NVML, %.2f %% the guard's own)",
		m[1], m[8], m[5], cpu/secs, cpu/secs/10, driver/secs/10, (cpu-driver)/secs/10)
}
