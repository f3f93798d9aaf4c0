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
	"strconv"
	"strings"
	"testing"
	"time"
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
	ln.Close()
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
			resp.Body.Close()
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
	defer resp.Body.Close()
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
