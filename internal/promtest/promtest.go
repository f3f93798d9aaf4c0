// SPDX-License-Identifier: Apache-2.0

// Package promtest runs a real Prometheus server (Debian's prometheus
// package) for tests: it scrapes the given targets every second, and
// Query asks its HTTP API, as a dashboard would. The server is stopped
// and its data removed when the test ends.
package promtest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/testutil"
)

// Server is a running Prometheus.
type Server struct {
	API string // http://127.0.0.1:port
	log string
}

// Start starts a Prometheus that scrapes targets (host:port, path
// /metrics) every second as job "softmig". It skips the test where
// prometheus is not installed.
func Start(t testing.TB, targets ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (apt-get install prometheus): .ci/metrics.sh installs it")
	}
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: softmig\n    static_configs:\n      - targets: [%s]\n", strings.Join(quoted, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	testutil.Must(t, ln.Close())
	s := &Server{API: "http://" + addr, log: filepath.Join(dir, "prometheus.log")}
	logf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.API + "/-/ready")
		if err == nil {
			testutil.Close(t, resp.Body)
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 60 s:\n%s", s.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Log returns what the server wrote, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// Sample is one element of an instant query's vector.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant query through the HTTP API and returns its vector
// (empty for a result of another type).
func (s *Server) Query(t testing.TB, q string) []Sample {
	t.Helper()
	resp, err := http.Get(s.API + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer testutil.Close(t, resp.Body)
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s", q, r.Error)
	}
	var out []Sample
	if r.Data.ResultType != "vector" {
		return out
	}
	for _, e := range r.Data.Result {
		str, _ := e.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			t.Fatalf("query %s: value %v: %v", q, e.Value, err)
		}
		out = append(out, Sample{Metric: e.Metric, Value: v})
	}
	return out
}

// WaitFor polls q until a sample satisfies ok, and fails the test after within.
func (s *Server) WaitFor(t testing.TB, q string, ok func(float64) bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, e := range s.Query(t, q) {
			if ok(e.Value) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no satisfying sample after %v (last: %v)\n%s", q, within, s.Query(t, q), s.Log())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// DashboardQueries returns every PromQL expression of the Grafana
// dashboard at file: the panels' targets and the variables' queries, by
// where they are.
func DashboardQueries(t testing.TB, file string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	q := map[string]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			q["panel "+p.Title+" "+tg.RefID] = tg.Expr
		}
	}
	for _, v := range d.Templating.List {
		if m, ok := v.Query.(map[string]any); ok && v.Type == "query" {
			q["variable "+v.Name], _ = m["query"].(string)
		}
	}
	if len(q) < 10 {
		t.Fatalf("%s: only %d queries found: is the layout read right?", file, len(q))
	}
	return q
}

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*[a-z]+\)$`)

// CheckDashboard runs every query of the dashboard at file against s, with
// its variables set to "all", and fails the test for each that returns no
// data.
func (s *Server) CheckDashboard(t testing.TB, file string) {
	t.Helper()
	vars := strings.NewReplacer(`$instance`, `.+`, `$jobid`, `.+`, `$__rate_interval`, `15s`)
	for where, expr := range DashboardQueries(t, file) {
		q := vars.Replace(expr)
		if m := labelValues.FindStringSubmatch(q); m != nil {
			q = m[1] // the values come from these series
		}
		if got := s.Query(t, q); len(got) == 0 {
			t.Errorf("%s: %s returns no data", where, q)
		}
	}
}
