// SPDX-License-Identifier: Apache-2.0

package metrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/softmig/softmig/internal/siteconf"
	"github.com/softmig/softmig/internal/testutil"
)

// scrape GETs url and returns the status and body.
func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err = errors.Join(err, resp.Body.Close()); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func parse(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, body)
	}
	return fams
}

// value returns the sample of family name whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func serveSnapshots(t *testing.T, source func() Snapshot) string {
	t.Helper()
	srv := httptest.NewServer(Handler(source))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Every figure of every job comes back under its own labels, in base units.
func TestExpositionValues(t *testing.T) {
	snap := synthetic(2, 4, 600)
	url := serveSnapshots(t, func() Snapshot { return snap })
	code, body := scrape(t, url+Path)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d; want 200\n%s", Path, code, body)
	}
	fams := parse(t, body)
	for _, j := range snap.Jobs {
		labels := map[string]string{"jobid": j.JobID, "user": j.User, "gpu": strconv.Itoa(j.GPU), "uuid": j.UUID, "slice": j.Slice}
		want := map[string]float64{
			"softmig_job_slice_bytes":                      float64(j.SliceBytes),
			"softmig_job_memory_used_bytes":                float64(j.UsedBytes),
			"softmig_job_memory_peak_bytes":                float64(j.PeakBytes),
			"softmig_job_sm_limit_ratio":                   j.SMLimit,
			"softmig_job_gpu_time_seconds_total":           j.GPUTime.Seconds(),
			"softmig_job_paused_seconds_total":             j.Paused.Seconds(),
			"softmig_job_guard_kills_total":                float64(j.GuardKills),
			"softmig_job_self_reported_oom_refusals_total": float64(j.SelfReportedOOMRefusals),
		}
		for name, w := range want {
			if got, ok := value(fams, name, labels); !ok || got != w {
				t.Errorf("%s%v = %v (present %v); want %v", name, labels, got, ok, w)
			}
		}
		got, ok := value(fams, "softmig_job_lent_seconds_total", labels)
		if ok != j.Lending || (ok && got != j.Lent.Seconds()) {
			t.Errorf("softmig_job_lent_seconds_total%v = %v (present %v); want present only where lending (%v), = %v", labels, got, ok, j.Lending, j.Lent.Seconds())
		}
	}
	node := map[string]float64{
		"softmig_guard_rounds_total":                 600,
		"softmig_guard_round_seconds_total":          1.8,
		"softmig_guard_last_round_seconds":           0.003,
		"softmig_guard_nvml_errors_total":            12,
		"softmig_guard_last_round_timestamp_seconds": float64(snap.Taken.Unix()),
		"softmig_build_info":                         1,
	}
	for name, w := range node {
		if got, ok := value(fams, name, nil); !ok || got != w {
			t.Errorf("%s = %v (present %v); want %v", name, got, ok, w)
		}
	}
	// The daemon's CPU: the standard process collector, in this process.
	if _, ok := value(fams, "process_cpu_seconds_total", nil); !ok {
		t.Errorf("process_cpu_seconds_total missing; want the serving process's CPU time")
	}
	if !strings.Contains(body, "# HELP softmig_job_self_reported_oom_refusals_total") || !strings.Contains(body, "which its user can write") {
		t.Errorf("the self-reported refusals do not say where they come from:\n%s", body)
	}
}

// promtool, the Prometheus project's own linter, accepts the output:
// names, units, types, help.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus): .ci/metrics.sh installs it")
	}
	url := serveSnapshots(t, func() Snapshot { return synthetic(8, 4, 100) })
	code, body := scrape(t, url+Path)
	if code != http.StatusOK {
		t.Fatalf("GET = %d", code)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	// And it does find faults: the same output with a badly named metric.
	cmd = exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body + "# HELP softmig_bad_milliseconds wrong unit\n# TYPE softmig_bad_milliseconds counter\nsoftmig_bad_milliseconds 1\n")
	if out, err := cmd.CombinedOutput(); err == nil && len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("promtool accepted a counter in milliseconds without _total: the check proves nothing")
	}
}

// A job that has ended has no series at the next scrape.
func TestFinishedJobGoesAway(t *testing.T) {
	var n atomic.Int32
	before := synthetic(1, 3, 10)
	after := before
	after.Jobs = append([]JobGPU(nil), before.Jobs[:1]...)
	after.Jobs = append(after.Jobs, before.Jobs[2])
	gone := before.Jobs[1].JobID
	url := serveSnapshots(t, func() Snapshot {
		if n.Add(1) == 1 {
			return before
		}
		return after
	})
	_, first := scrape(t, url+Path)
	_, second := scrape(t, url+Path)
	if !strings.Contains(first, `jobid="`+gone+`"`) {
		t.Fatalf("job %s missing from the first scrape:\n%s", gone, first)
	}
	if strings.Contains(second, `jobid="`+gone+`"`) {
		t.Errorf("job %s ended but still has series:\n%s", gone, second)
	}
	if !strings.Contains(second, `jobid="`+after.Jobs[1].JobID+`"`) {
		t.Errorf("job %s still runs but has no series", after.Jobs[1].JobID)
	}
}

// Before the daemon's first round (a restart) a scrape gets 503 and says
// why, rather than zeros that would read as every job freeing its memory.
func TestScrapeBeforeFirstRound(t *testing.T) {
	url := serveSnapshots(t, func() Snapshot { return Snapshot{} })
	code, body := scrape(t, url+Path)
	if code != http.StatusServiceUnavailable || body != NotReady {
		t.Fatalf("GET before the first round = %d %q; want 503 %q", code, body, NotReady)
	}
}

// A job whose label is not UTF-8 (a user name from a broken passwd entry)
// is reported as an error; every other job is still served.
func TestBadLabelKeepsOtherJobs(t *testing.T) {
	snap := synthetic(1, 2, 10)
	snap.Jobs[0].User = "bad\xff"
	url := serveSnapshots(t, func() Snapshot { return snap })
	code, body := scrape(t, url+Path)
	if code != http.StatusOK {
		t.Fatalf("GET = %d; want 200 with the other job\n%s", code, body)
	}
	fams := parse(t, body)
	if _, ok := value(fams, "softmig_job_slice_bytes", map[string]string{"jobid": snap.Jobs[1].JobID}); !ok {
		t.Errorf("job %s lost because another job's label is bad:\n%s", snap.Jobs[1].JobID, body)
	}
	if strings.Contains(body, "bad") {
		t.Errorf("the bad label value was exported:\n%s", body)
	}
}

func TestListenErrors(t *testing.T) {
	if _, err := Listen("9847"); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf(`Listen("9847") = %v; want an error that asks for host:port`, err)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer testutil.Close(t, ln)
	_, err = Listen(ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "metrics.listen") || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("Listen on a port in use = %v; want an error naming the address and metrics.listen", err)
	}
}

// Serve answers until its context ends, then returns nil and frees the port.
func TestServeStopsWithContext(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, func() Snapshot { return synthetic(1, 1, 1) }) }()
	if code, _ := scrape(t, "http://"+addr+Path); code != http.StatusOK {
		t.Fatalf("GET = %d; want 200", code)
	}
	if code, body := scrape(t, "http://"+addr+"/"); code != http.StatusOK || !strings.Contains(body, Path) {
		t.Errorf("GET / = %d %q; want a pointer to %s", code, body, Path)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeListener after cancel = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeListener did not return after its context ended")
	}
	c, err := net.Dial("tcp", addr)
	if err == nil {
		testutil.Close(t, c)
		t.Errorf("%s still accepts connections after Serve returned", addr)
	}
}

// A job the daemon lists twice for one GPU is rendered once (Prometheus
// would refuse the whole page otherwise), and the error names it.
func TestDuplicateJobOnce(t *testing.T) {
	snap := synthetic(1, 2, 10)
	dup := snap.Jobs[0]
	dup.UsedBytes++
	snap.Jobs = append(snap.Jobs, dup)
	fams, err := Gatherer(func() Snapshot { return snap }).Gather()
	if err == nil || !strings.Contains(err.Error(), `job "`+dup.JobID+`" on GPU 0 is in the snapshot twice`) {
		t.Errorf("Gather error = %v; want the duplicate named", err)
	}
	for _, f := range fams {
		if f.GetName() == "softmig_job_memory_used_bytes" {
			if len(f.Metric) != 2 || f.Metric[0].GetGauge().GetValue() != float64(snap.Jobs[0].UsedBytes) {
				t.Errorf("%s: %d samples, first %v; want 2, the first entry's value", f.GetName(), len(f.Metric), f.Metric[0])
			}
			return
		}
	}
	t.Fatal("softmig_job_memory_used_bytes missing")
}

// ServeSite follows the site config: off serves nothing, on serves on
// metrics.listen until the context ends.
func TestServeSite(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		done <- ServeSite(context.Background(), siteconf.Metrics{Enabled: false, Listen: "127.0.0.1:1"}, func() Snapshot { return Snapshot{} })
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeSite(off) = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeSite(off) serves; want it to return at once")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer testutil.Close(t, busy)
	err = ServeSite(context.Background(), siteconf.Metrics{Enabled: true, Listen: busy.Addr().String()}, func() Snapshot { return Snapshot{} })
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Errorf("ServeSite on a port in use = %v; want an error naming the address", err)
	}
}
