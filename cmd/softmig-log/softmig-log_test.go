// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/cmdline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/summary")

const logs = "testdata/logs"

// site is the site config of the test logs (summary suggests its slices).
const site = "testdata/softmig.yaml"

// fakeSlurm knows two array tasks: 123_4 is job 130, 123_5 is job 131.
func fakeSlurm(_ context.Context, id string) []string {
	switch id {
	case "130", "123_4":
		return []string{"130", "123_4"}
	case "131", "123_5":
		return []string{"131", "123_5"}
	}
	return nil
}

func testEnv(ctx context.Context, stdout, stderr *syncBuffer) *env {
	return &env{
		ctx: ctx, stdout: stdout, stderr: stderr,
		now:   func() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) },
		slurm: fakeSlurm,
		poll:  5 * time.Millisecond,
	}
}

// runT runs softmig-log with the test environment.
func runT(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb syncBuffer
	err := runEnv(testEnv(context.Background(), &out, &errb), args)
	return out.String(), errb.String(), err
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"--help"}, &out, &errb); err != nil {
		t.Fatalf("run(--help) = %v", err)
	}
	for _, want := range []string{"Usage: softmig-log", "ls", "tail", "show", "summary", "--dir"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run([]string{"show", "--help"}, &out, &errb); err != nil || !strings.Contains(out.String(), "--since") {
		t.Errorf("run(show --help) = %v, output:\n%s", err, out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frob"}, "unexpected argument frob"},
		{[]string{"summary"}, "expected \"<job>\""},
		{[]string{"tail", "-n", "x", "1"}, "--lines"},
	}
	for _, tt := range tests {
		_, stderr, err := runT(t, tt.args...)
		var ex *cmdline.Exit
		if !errors.As(err, &ex) || ex.Code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("run(%q) = %v, stderr %q; want exit 2 and %q", tt.args, err, stderr, tt.want)
		}
	}
}

func TestLogPath(t *testing.T) {
	tests := []struct {
		id, want, err string
	}{
		{"12345", "12345.log", ""},
		{"123_4", "123_4.log", ""},              // the seed's name
		{"130", "123_4.log", ""},                // the task's own job id, written under the seed's name
		{"123_5", "131.log", ""},                // the seed's name of a task logged under its own id
		{"pid999", "pid999.log", ""},            // outside a job
		{logs + "/34567.log", "34567.log", ""},  // a path
		{"123", "", "123_4.log (name the task"}, // an array: list its tasks
		{"99999", "", `no log for job 99999 in "testdata/logs" (looked for 99999.log)`},
		{"123_9", "", "(looked for 123_9.log)"},
		{"12a", "", `bad job "12a"`},
		{"../etc/x", "", "no log"},
	}
	for _, tt := range tests {
		e := testEnv(context.Background(), nil, nil)
		e.dir = logs
		got, err := e.logPath(tt.id)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("logPath(%q) = %q, %v; want error containing %q", tt.id, got, err, tt.err)
			}
			continue
		}
		if err != nil || filepath.Base(got) != tt.want {
			t.Errorf("logPath(%q) = %q, %v; want %s", tt.id, got, err, tt.want)
		}
	}
}

func TestParseSlurm(t *testing.T) {
	sc := "JobId=130 ArrayJobId=123 ArrayTaskId=4 JobName=x UserId=ana(1002) JobState=RUNNING\n"
	if got := parseScontrol(sc); !reflect.DeepEqual(got, []string{"130", "123_4"}) {
		t.Errorf("parseScontrol(task) = %q", got)
	}
	if got := parseScontrol("JobId=42 JobName=x\n"); !reflect.DeepEqual(got, []string{"42"}) {
		t.Errorf("parseScontrol(plain job) = %q", got)
	}
	if got := parseScontrol(sc + "JobId=131 ArrayJobId=123 ArrayTaskId=5\n"); got != nil {
		t.Errorf("parseScontrol(two jobs) = %q; want nil", got)
	}
	if got := parseScontrol("JobId=130 ArrayJobId=123 ArrayTaskId=1-3%2\n"); !reflect.DeepEqual(got, []string{"130"}) {
		t.Errorf("parseScontrol(pending range) = %q; want only 130", got)
	}
	if got := parseSacct("130|123_4\n"); !reflect.DeepEqual(got, []string{"130", "123_4"}) {
		t.Errorf("parseSacct() = %q", got)
	}
	if got := parseSacct(""); got != nil {
		t.Errorf("parseSacct(empty) = %q", got)
	}
}

func TestLs(t *testing.T) {
	out, stderr, err := runT(t, "-d", logs, "--config", "/nonexistent/softmig.yaml", "ls")
	if err != nil || stderr != "" {
		t.Fatalf("ls = %v, stderr %q", err, stderr)
	}
	var jobs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		jobs = append(jobs, strings.Fields(l)[0])
	}
	want := []string{"123_4", "131", "200_7", "12345", "23456", "34567", "45678", "56789", "pid999"}
	if !reflect.DeepEqual(jobs, want) {
		t.Errorf("ls jobs = %q; want %q\n%s", jobs, want, out)
	}
	if !strings.Contains(out, "2026-11-26T08:03:03Z  process exit") {
		t.Errorf("ls lacks the last event of 23456:\n%s", out)
	}

	out, _, err = runT(t, "-d", logs, "ls", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got []jobLog
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("ls --json: %v\n%s", err, out)
	}
	by := map[string]jobLog{}
	for _, j := range got {
		by[j.Job] = j
	}
	if j := by["23456"]; j.Records != 10 || j.Errors != 1 || j.Refused != 14 || j.Kills != 1 || j.LastMsg != "process exit" {
		t.Errorf("ls 23456 = %+v", j)
	}
	if j := by["56789"]; j.Skipped != 4 || j.Records != 5 || j.Refused != 1 || j.LastMsg != "process start" {
		t.Errorf("ls 56789 = %+v", j)
	}
	if j := by["45678"]; j.LastMsg != "config error" || j.Size != 273 {
		t.Errorf("ls 45678 = %+v", j)
	}

	if _, _, err := runT(t, "-d", filepath.Join(t.TempDir(), "none"), "ls"); err == nil || !strings.Contains(err.Error(), "--dir") {
		t.Errorf("ls of a missing dir = %v; want an error naming --dir", err)
	}
}

// lines returns the lines of testdata/logs/<job>.log with these numbers.
func lines(t *testing.T, job string, nums ...int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(logs, job+".log"))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Split(string(b), "\n")
	var s strings.Builder
	for _, n := range nums {
		s.WriteString(all[n-1] + "\n")
	}
	return s.String()
}

func TestShow(t *testing.T) {
	tests := []struct {
		name string
		args []string
		job  string
		want []int
	}{
		{"all", nil, "12345", []int{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"level warn", []string{"--level=warn"}, "12345", []int{3}},
		{"level list", []string{"--level", "error,warn"}, "23456", []int{9}},
		{"level 0", []string{"--level=0"}, "12345", []int{1, 2, 4, 5, 6, 7, 8, 9}},
		{"level 1", []string{"--level=1"}, "12345", []int{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"pid", []string{"--pid=4250"}, "12345", []int{4, 5, 6}},
		{"pids", []string{"--pid", "4250", "--pid", "1"}, "12345", []int{4, 5, 6}},
		{"grep", []string{"--grep", `msg="(throttle|process exit)"`}, "12345", []int{6, 7, 8, 9}},
		{"since RFC 3339", []string{"--since", "2026-11-25T21:10:00Z"}, "12345", []int{7, 8, 9}},
		{"since offset", []string{"--since", "2026-11-25T22:15:00+01:00"}, "12345", []int{8, 9}},
		{"since duration ago", []string{"--since", "27h58m"}, "23456", []int{5, 6, 7, 8, 9, 10}}, // now is 11-27 12:00
		{"since days", []string{"--since", "1d"}, "34567", []int{1, 2, 3, 4, 5}},
		{"combined", []string{"--pid=901", "--grep=oom", "--since=2026-11-26T08:03:00Z"}, "23456", []int{7, 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-d", logs, "show"}, tt.args...)
			out, stderr, err := runT(t, append(args, tt.job)...)
			if err != nil || stderr != "" {
				t.Fatalf("show = %v, stderr %q", err, stderr)
			}
			if want := lines(t, tt.job, tt.want...); out != want {
				t.Errorf("show %q =\n%s\nwant\n%s", tt.args, out, want)
			}
		})
	}
}

func TestShowErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--level=loud"}, `--level: unknown level`},
		{[]string{"--level=5"}, `--level`},
		{[]string{"--since=yesterday"}, `--since: want RFC 3339`},
		{[]string{"--since=-5m"}, `--since`},
		{[]string{"--grep=("}, `--grep "("`},
	}
	for _, tt := range tests {
		args := append([]string{"-d", logs, "show"}, tt.args...)
		if _, _, err := runT(t, append(args, "12345")...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("show %q = %v; want error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestShowJSON(t *testing.T) {
	out, _, err := runT(t, "-d", logs, "show", "--json", "--grep=oom kill|process start", "23456")
	if err != nil {
		t.Fatal(err)
	}
	ls := strings.Split(strings.TrimSpace(out), "\n")
	if len(ls) != 3 {
		t.Fatalf("show --json gave %d lines; want 3:\n%s", len(ls), out)
	}
	want := `{"line":1,"ts":"2026-11-26T08:00:00.000000Z","level":"event","job":"23456","pid":900,"dev":null,"msg":"process start","fields":{"exe":"/home/ana/venv/bin/python","uid":"1002"}}`
	if ls[0] != want {
		t.Errorf("show --json line 1 =\n%s\nwant\n%s", ls[0], want)
	}
	var rec struct {
		Line   int
		Dev    *int
		Msg    string
		Fields map[string]string
	}
	if err := json.Unmarshal([]byte(ls[2]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Line != 8 || rec.Dev == nil || *rec.Dev != 0 || rec.Msg != "oom kill" || rec.Fields["target"] != "900" {
		t.Errorf("show --json line 3 = %+v", rec)
	}
}

// TestBadLines: garbage, a fragment of an interleaved write, a malformed
// event and a partial last line are each reported once, with their line
// numbers, and every other record is kept.
func TestBadLines(t *testing.T) {
	out, stderr, err := runT(t, "-d", logs, "show", "56789")
	if err != nil {
		t.Fatal(err)
	}
	l4 := lines(t, "56789", 4)
	l4 = l4[strings.Index(l4[1:], "ts=")+1:] // after the fragment
	if want := lines(t, "56789", 1, 2) + l4 + lines(t, "56789", 6, 7); out != want {
		t.Errorf("show 56789 =\n%s\nwant\n%s", out, want)
	}
	for _, want := range []string{"56789.log:3: skipped: not a softmig log record", "56789.log:4: skipped: fragment", "56789.log:5: skipped", "56789.log:8: skipped: partial last line"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	_, stderr, err = runT(t, "-d", logs, "summary", "56789")
	if err != nil || !strings.Contains(stderr, "56789.log:6: skipped: malformed event \"process exit\": missing key throttled_ms") {
		t.Errorf("summary 56789 = %v, stderr:\n%s", err, stderr)
	}
}

func TestSummaryGolden(t *testing.T) {
	for _, job := range []string{"12345", "23456", "34567", "45678", "56789", "123_4"} {
		t.Run(job, func(t *testing.T) {
			out, _, err := runT(t, "-d", logs, "--config", site, "summary", job)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "summary", job+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("summary %s =\n%s\nwant (%s)\n%s", job, out, golden, want)
			}
		})
	}
}

func TestSummaryVerdicts(t *testing.T) {
	tests := map[string]string{
		"12345":  "verdict: peak 9.1 GiB of a 12 GiB slice (76%): the slice fits\n",
		"23456":  "verdict: refused 14 allocations and killed 1 process: needs a larger slice, at least 15 GiB (has 12 GiB); next time ask for --gres=gpu:l40s.2:1 (24 GiB)\n",
		"34567":  "verdict: dev 0: peak 2 GiB of a 24 GiB slice (8%): --gres=gpu:l40s.8:1 (6 GiB) would do; dev 1: peak 20 GiB of a 24 GiB slice (83%): the slice fits\n",
		"45678":  "verdict: GPU disabled by a config error (/var/run/softmig/45678.conf: owned by uid 1004, not root)\n",
		"130":    "verdict: peak 5 GiB of a 6 GiB slice (83%): the slice fits\n",
		"pid999": "verdict: no GPU use logged\n",
	}
	for job, want := range tests {
		out, _, err := runT(t, "-d", logs, "--config", site, "summary", job)
		if err != nil || !strings.HasSuffix(out, want) {
			t.Errorf("summary %s = %v, output:\n%s\nwant it to end with %q", job, err, out, want)
		}
	}
}

func TestSummaryJSON(t *testing.T) {
	out, _, err := runT(t, "-d", logs, "summary", "--json", "23456")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Log       string
		Job       string
		Records   int
		Errors    int
		Devices   []map[string]any
		Processes []map[string]any
		Skipped   []any `json:"skipped_lines"`
		Verdict   string
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("summary --json: %v\n%s", err, out)
	}
	if s.Log != logs+"/23456.log" || s.Job != "23456" || s.Records != 10 || s.Errors != 1 || len(s.Devices) != 1 || len(s.Processes) != 2 || s.Skipped == nil {
		t.Fatalf("summary --json = %+v", s)
	}
	d := s.Devices[0]
	want := map[string]any{
		"dev": 0.0, "mem_limit": 12884901888.0, "sm_limit": 25.0, "peak": 11811160064.0, "peak_time": "2026-11-26T08:03:00Z",
		"oom_refused": 14.0, "oom_refused_lines": 3.0, "needed": 16106127360.0, "throttled_ms": 900.0, "processes": 2.0,
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("devices[0].%s = %v; want %v", k, d[k], v)
		}
	}
	if p := s.Processes[0]; p["pid"] != 900.0 || p["killed"] != "2026-11-26T08:03:02.0001Z" || p["exit"] != nil {
		t.Errorf("processes[0] = %v", p)
	}
	if !strings.HasPrefix(s.Verdict, "refused 14 allocations") {
		t.Errorf("verdict = %q", s.Verdict)
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		job    string
		want   []int
		stderr []string
	}{
		{"default", nil, "12345", []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, nil},
		{"last 2", []string{"-n", "2"}, "12345", []int{8, 9}, nil},
		{"none", []string{"-n", "0"}, "12345", nil, nil},
		{"bad lines in the window are reported", []string{"-n", "3"}, "56789", []int{4, 6, 7},
			[]string{":5: skipped", ":8: skipped: partial last line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-d", logs, "tail"}, tt.args...)
			out, stderr, err := runT(t, append(args, tt.job)...)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if tt.want != nil {
				want = lines(t, tt.job, tt.want...)
			}
			if tt.job == "56789" { // line 4 holds a fragment, then the record
				want = strings.Replace(want, `ts=2026-11-30T07:00:01.000000Z level=event job=56789 pid=21 dev=0 msg="oo`, "", 1)
			}
			if out != want {
				t.Errorf("tail %q =\n%s\nwant\n%s", tt.args, out, want)
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, ":3: skipped") {
				t.Errorf("stderr reports a bad line before the window:\n%s", stderr)
			}
		})
	}
	if _, _, err := runT(t, "-d", logs, "tail", "-n", "-1", "12345"); err == nil {
		t.Error("tail -n -1 succeeded")
	}
}
