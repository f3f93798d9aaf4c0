package metrics

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// promServer is a real Prometheus server (Debian's prometheus package)
// that scrapes target every second, started for one test.
type promServer struct {
	api string // http://127.0.0.1:port
}

func startPrometheus(t *testing.T, target string) *promServer {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (apt-get install prometheus): .ci/metrics.sh installs it")
	}
	dir := t.TempDir()
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: softmig\n    static_configs:\n      - targets: [%q]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	p := &promServer{api: "http://" + addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.api + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("prometheus not ready after 60 s:\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// promSample is one element of a query's vector result.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s promSample) float(t *testing.T) float64 {
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("promSample value %v: %v", s.Value, err)
	}
	return v
}

// query runs an instant query through the HTTP API.
func (p *promServer) query(t *testing.T, q string) []promSample {
	t.Helper()
	resp, err := http.Get(p.api + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s", q, r.Error)
	}
	var out []promSample
	if r.Data.ResultType == "vector" {
		if err := json.Unmarshal(r.Data.Result, &out); err != nil {
			t.Fatalf("query %s: %v", q, err)
		}
	}
	return out
}

// waitFor polls q until it returns a promSample whose value satisfies ok.
func (p *promServer) waitFor(t *testing.T, q string, ok func(float64) bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, s := range p.query(t, q) {
			if ok(s.float(t)) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no satisfying promSample after %v (last: %v)", q, within, p.query(t, q))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

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
	p := startPrometheus(t, exp.Listener.Addr().String())

	p.waitFor(t, `count_over_time(softmig_guard_rounds_total[5m])`, func(v float64) bool { return v >= float64(src.moving+1) }, 90*time.Second)
	if s := p.query(t, `min_over_time(up{job="softmig"}[5m])`); len(s) != 1 || s[0].float(t) != 0 {
		t.Errorf("min_over_time(up[5m]) = %v; want 0: the scrapes before the first round must read as down", s)
	}
	if s := p.query(t, `up{job="softmig"}`); len(s) != 1 || s[0].float(t) != 1 {
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
			got := p.query(t, name+sel)
			if len(got) != 1 || got[0].float(t) != v {
				t.Errorf("%s%s = %v; want one promSample = %v", name, sel, got, v)
			}
		}
	}
	if got := p.query(t, `softmig_guard_rounds_total`); len(got) != 1 || got[0].float(t) != float64(want.Node.Rounds) {
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
		got := p.query(t, fmt.Sprintf(`sum by (gpu) (softmig_job_memory_used_bytes{gpu="%d"})`, g))
		if len(got) != 1 || got[0].float(t) != sum {
			t.Errorf("memory used on GPU %d = %v; want %v", g, got, sum)
		}
	}
	t.Run("dashboard", func(t *testing.T) { checkDashboardQueries(t, p) })
}
