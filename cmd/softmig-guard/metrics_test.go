// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/promtest"
	"github.com/softmig/softmig/internal/testutil"
)

// A real Prometheus scrapes softmig-guard while jobs run on the simulated
// GPU (issue 21): its API returns the memory each job's processes hold (to
// 1 %), the GPU time they ran (to 5 %), the slice and the share; a job's
// series go away when it ends, and every query of the dashboard returns
// data.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	n := newNode(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	testutil.Must(t, ln.Close())
	conf := filepath.Join(n.dir, "metrics.yaml")
	if err := os.WriteFile(conf, []byte("gpus:\n  h100:\n    shards: 4\nmetrics:\n  listen: "+addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := promtest.Start(t, addr)
	g := n.guard("--config", conf)
	mem := n.job(fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=12g\nSOFTMIG_GPU_0=0\nSOFTMIG_SLICE_0=h100.4\nSOFTMIG_UID=%d\nSOFTMIG_REGION=$REGION\n", nobody))
	holder := n.start(mem, true, nil, "cuclient", "init", "dev:0", "alloc:3g", "ready", "hold")
	timed := n.timeJob(50, "0-50", "lend")
	time.Sleep(1200 * time.Millisecond)
	load := n.load(timed, 4)
	if err := load.cmd.Wait(); err != nil {
		t.Fatalf("loadgen: %v: %s", err, load.out.String())
	}
	ranMs := loadGPUms(t, load.out.String())

	wantUsed := float64(n.nvmlUsed(0, holder.pid()))
	q := fmt.Sprintf(`softmig_job_memory_used_bytes{jobid=%q}`, mem.id)
	prom.WaitFor(t, q, func(v float64) bool { return math.Abs(v-wantUsed) <= 0.01*wantUsed }, 15*time.Second)
	if s := prom.Query(t, fmt.Sprintf(`softmig_job_slice_bytes{jobid=%q,slice="h100.4",gpu="0"}`, mem.id)); len(s) != 1 || s[0].Value != 12<<30 {
		t.Errorf("slice of the memory job: %v, want one series of 12 GiB labelled h100.4", s)
	}
	q = fmt.Sprintf(`softmig_job_gpu_time_seconds_total{jobid=%q}`, timed.id)
	want := ranMs / 1000
	t.Logf("loadgen launched %.3f s of kernels", want)
	prom.WaitFor(t, q, func(v float64) bool { return math.Abs(v-want) <= 0.05*want }, 15*time.Second)
	if s := prom.Query(t, fmt.Sprintf(`softmig_job_sm_limit_ratio{jobid=%q}`, timed.id)); len(s) != 1 || s[0].Value != 0.5 {
		t.Errorf("share of the timed job: %v, want 0.5", s)
	}
	t.Logf("Prometheus: %s used %.0f MiB (NVML %.0f), %s ran %.2f s of GPU time (loadgen launched %.2f s)",
		mem.id, prom.Query(t, `softmig_job_memory_used_bytes{jobid="`+mem.id+`"}`)[0].Value/(1<<20), wantUsed/(1<<20),
		timed.id, prom.Query(t, q)[0].Value, want)
	// The dashboard's rates need a few scrapes of every series.
	prom.WaitFor(t, "count_over_time(up[15s])", func(v float64) bool { return v >= 5 }, 20*time.Second)
	prom.CheckDashboard(t, "../../docs/grafana-softmig.json")

	// The memory job ends: its series go.
	holder.stop()
	os.Remove(filepath.Join("/run/softmig", mem.id+".conf"))
	prom.WaitFor(t, fmt.Sprintf(`absent(softmig_job_slice_bytes{jobid=%q})`, mem.id), func(v float64) bool { return v == 1 }, 20*time.Second)
	if out := g.output(); strings.Contains(out, "error") {
		t.Errorf("the guard logged errors:\n%s", out)
	}
}

// loadGPUms is the kernel time loadgen launched (its gpu_ms=).
func loadGPUms(t *testing.T, out string) float64 {
	t.Helper()
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, "gpu_ms="); ok {
			ms, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return ms
			}
		}
	}
	t.Fatalf("no gpu_ms in loadgen's output %q", out)
	return 0
}
