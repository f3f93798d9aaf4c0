// SPDX-License-Identifier: Apache-2.0

package metrics

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/promtest"
)

// scripted is an exporter's source that answers "starting" for the first
// scrapes (a daemon restart), then advances its rounds by 10 per scrape
// for a few scrapes, then holds still, so every value Prometheus stores
// last is known exactly.
type scripted struct {
	mu           sync.Mutex
	scrapes      int
	down, moving int
	gpus, perGPU int
	last         Snapshot
}

func (s *scripted) source() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scrapes++
	if s.scrapes <= s.down {
		return Snapshot{}
	}
	if n := s.scrapes - s.down; n <= s.moving {
		s.last = synthetic(s.gpus, s.perGPU, uint64(10*n))
	}
	return s.last
}

func (s *scripted) final() Snapshot {
	return synthetic(s.gpus, s.perGPU, uint64(10*s.moving))
}

// A real Prometheus scrapes the endpoint through a restart: it sees the
// target down while the daemon has no round yet, then up, and its HTTP API
// returns every figure the daemon reported, under the job's labels.
func TestPrometheusScrapesEndpoint(t *testing.T) {
	src := &scripted{down: 2, moving: 4, gpus: 2, perGPU: 4}
	exp := httptest.NewServer(Handler(src.source))
	t.Cleanup(exp.Close)
	p := promtest.Start(t, exp.Listener.Addr().String())

	p.WaitFor(t, `count_over_time(softmig_guard_rounds_total[5m])`, func(v float64) bool { return v >= float64(src.moving+1) }, 90*time.Second)
	if s := p.Query(t, `min_over_time(up{job="softmig"}[5m])`); len(s) != 1 || s[0].Value != 0 {
		t.Errorf("min_over_time(up[5m]) = %v; want 0: the scrapes before the first round must read as down", s)
	}
	if s := p.Query(t, `up{job="softmig"}`); len(s) != 1 || s[0].Value != 1 {
		t.Errorf("up = %v; want 1 after the first round", s)
	}
	want := src.final()
	for _, j := range want.Jobs {
		sel := fmt.Sprintf(`{jobid=%q,gpu="%d",uuid=%q,user=%q,slice=%q}`, j.JobID, j.GPU, j.UUID, j.User, j.Slice)
		for name, v := range map[string]float64{
			"softmig_job_memory_used_bytes":      float64(j.UsedBytes),
			"softmig_job_slice_bytes":            float64(j.SliceBytes),
			"softmig_job_sm_limit_ratio":         j.SMLimit,
			"softmig_job_gpu_time_seconds_total": j.GPUTime.Seconds(),
			"softmig_job_guard_kills_total":      float64(j.GuardKills),
		} {
			got := p.Query(t, name+sel)
			if len(got) != 1 || got[0].Value != v {
				t.Errorf("%s%s = %v; want one sample = %v", name, sel, got, v)
			}
		}
	}
	if got := p.Query(t, `softmig_guard_rounds_total`); len(got) != 1 || got[0].Value != float64(want.Node.Rounds) {
		t.Errorf("softmig_guard_rounds_total = %v; want %d", got, want.Node.Rounds)
	}
	// Each GPU's jobs sum to what the snapshot holds.
	for g := 0; g < src.gpus; g++ {
		var sum float64
		for _, j := range want.Jobs {
			if j.GPU == g {
				sum += float64(j.UsedBytes)
			}
		}
		got := p.Query(t, fmt.Sprintf(`sum by (gpu) (softmig_job_memory_used_bytes{gpu="%d"})`, g))
		if len(got) != 1 || got[0].Value != sum {
			t.Errorf("memory used on GPU %d = %v; want %v", g, got, sum)
		}
	}
	t.Run("dashboard", func(t *testing.T) { checkDashboardQueries(t, p) })
}
