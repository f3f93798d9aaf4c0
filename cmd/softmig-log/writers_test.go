// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/logrec"
	"github.com/softmig/softmig/internal/testutil"
	"github.com/softmig/softmig/internal/testvec"
)

// written is a record kind some writer puts in a job's log.
type written struct {
	level string
	dev   int // -1: dev=-
	msg   string
	kv    []string // key, value, ...
}

// libraryRecords are the records libsoftmig.so writes (every sm_log call in
// preload/*.c; TestEveryRecordKindIsRead finds a missing one), with
// realistic values and the worst text a reason can hold.
var libraryRecords = []written{
	{"error", -1, "config error", []string{"path", "/run/softmig/42.conf", "reason", "/run/softmig/42.conf: line 3: SOFTMIG_GPU_0=1: given twice"}},
	{"error", -1, "config error", []string{"var", "CUDA_DEVICE_SM_LIMIT", "reason", `environment variable CUDA_DEVICE_SM_LIMIT="lots": not a percentage 0-100`}},
	{"error", -1, "config error", []string{"path", "/tmp/my dir/softmig-1001-42.region", "reason", "shared region /tmp/my dir/softmig-1001-42.region: first line\nsecond line\tand a tab"}},
	{"error", -1, "config error", []string{"reason", "libdl is not loaded in this process (glibc before 2.34)"}},
	{"event", -1, "process start", []string{"exe", "/home/josé/bin/train \"v2\".py", "uid", "1001", "source", "/run/softmig/42.conf"}},
	{"event", 0, "device attach", []string{"uuid", "GPU-0f6e1c2a-8d3b-4c11-9a5e-2b7f00c0ffee", "mem_limit", "12884901888", "sm_limit", "25"}},
	{"event", 0, "oom refused", []string{"api", "cuMemAlloc_v2", "requested", "1073741824", "used", "12348030976", "limit", "12884901888", "suppressed", "3"}},
	{"error", 0, "cannot account allocation", []string{"api", "cuMemCreate"}},
	{"error", 0, "nvml unavailable", []string{"api", "cuDevicePrimaryCtxRetain"}},
	{"event", -1, "region lock taken over", []string{"holder_tid", "4242", "holder_state", "T", "waited_ms", "100"}},
	{"error", -1, "shared region damaged", []string{"what", "file cut short", "action", "private memory, usage from NVML", "path", "/run/softmig/42.region"}},
	{"warn", 0, "allocation not tracked for its free", []string{"bytes", "4096"}},
	{"event", 0, "oom kill", []string{"target", "4243"}},
	{"error", -1, "region lock failed", []string{"error", "131"}},
	{"error", -1, "region full", []string{"entries", "1024"}},
	{"event", 0, "throttle", []string{"throttled_ms", "1250", "sm_limit", "25"}},
	{"event", 0, "time authority", []string{"state", "down", "reason", "stale beat", "path", "/run/softmig/GPU-0f6e1c2a-8d3b-4c11-9a5e-2b7f00c0ffee.time"}},
	{"event", 0, "time authority", []string{"state", "up", "reason", "beat fresh", "path", "/run/softmig/GPU-0f6e1c2a-8d3b-4c11-9a5e-2b7f00c0ffee.time"}},
	{"event", 0, "process exit", []string{"peak", "12348030976", "throttled_ms", "1250"}},
}

// toolRecords are the records the Go tools write (through internal/logrec):
// softmig-conf's config error, whose reason lists every error of a site
// config, one a line.
var toolRecords = []written{
	{"error", -1, "config error", []string{"path", "/run/softmig/42.conf", "reason",
		"/etc/softmig/softmig.yaml:3: unknown key \"nvidia_smi_reel\" (did you mean nvidia_smi_real?)\n/etc/softmig/softmig.yaml:7: gpus.l40s.memory: \"48 GB\" is not a size"}},
}

// libraryMsgs finds the msg of every sm_log call in preload/*.c.
func libraryMsgs(t *testing.T) []string {
	files, _ := filepath.Glob(filepath.Join(testutil.Root(t), "preload", "*.c"))
	call := regexp.MustCompile(`sm_log\(\s*SM_\w+\s*,\s*[^,]+,\s*([^,]+),`)
	lit := regexp.MustCompile(`"([^"\\]*)"`)
	var msgs []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllSubmatch(src, -1) {
			for _, l := range lit.FindAllSubmatch(m[1], -1) {
				msgs = append(msgs, string(l[1]))
			}
		}
	}
	if len(msgs) < 15 {
		t.Fatalf("found only %d sm_log messages in preload/*.c: is the pattern stale?", len(msgs))
	}
	return msgs
}

// Every record kind the library and the tools write, encoded by their own
// encoders (the library's through build/test/unit), is read by softmig-log
// with no line skipped and no event malformed: a job's "config error" with a
// multi-line reason is one record, shown whole.
func TestEveryRecordKindIsRead(t *testing.T) {
	have := map[string]bool{}
	for _, r := range libraryRecords {
		have[r.msg] = true
	}
	for _, m := range libraryMsgs(t) {
		if !have[m] {
			t.Errorf("the library writes %q: add it to libraryRecords", m)
		}
	}

	// The library's lines, from its encoder.
	testutil.Build(t, "cprogs")
	ts := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var tsv strings.Builder
	for i, r := range libraryRecords {
		dev := "-"
		if r.dev >= 0 {
			dev = strconv.Itoa(r.dev)
		}
		at := ts.Add(time.Duration(i) * time.Millisecond)
		tsv.WriteString(strings.Join([]string{fmt.Sprintf("%d.%09d", at.Unix(), at.Nanosecond()),
			r.level, "42", "4242", dev, testvec.Escape(r.msg)}, "\t"))
		for k := 0; k < len(r.kv); k += 2 {
			tsv.WriteString("\t" + r.kv[k] + "=" + testvec.Escape(r.kv[k+1]))
		}
		tsv.WriteString("\t-\n")
	}
	in := filepath.Join(t.TempDir(), "records.tsv")
	if err := os.WriteFile(in, []byte(tsv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testutil.Path(t, "build/test/unit"), "log", in).Output()
	if err != nil {
		t.Fatalf("unit log: %v", err)
	}
	log := string(out)

	// The tools' lines, from internal/logrec.
	for _, r := range toolRecords {
		lvl, _ := logrec.ParseLevel(r.level)
		rec := logrec.Event(ts, "42", 4300, r.dev, r.msg, r.kv...)
		rec.Level = lvl
		line, err := logrec.Format(rec)
		if err != nil {
			t.Fatal(err)
		}
		log += line + "\n"
	}
	want := len(libraryRecords) + len(toolRecords)
	if n := strings.Count(log, "\n"); n != want {
		t.Fatalf("%d lines for %d records:\n%s", n, want, log)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "42.log"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, err := runT(t, "--dir", dir, "summary", "--json", "42")
	if err != nil || stderr != "" {
		t.Fatalf("summary: %v\nstderr: %s", err, stderr)
	}
	var sum struct {
		Skipped      []any                     `json:"skipped_lines"`
		Records      int                       `json:"records"`
		Malformed    []any                     `json:"malformed_events"`
		ConfigErrors []struct{ Reason string } `json:"config_errors"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("summary --json: %v\n%s", err, stdout)
	}
	if len(sum.Skipped) != 0 || len(sum.Malformed) != 0 || sum.Records != want {
		t.Errorf("summary read %d records of %d, skipped %v, malformed %v\nlog:\n%s", sum.Records, want, sum.Skipped, sum.Malformed, log)
	}
	if got := len(sum.ConfigErrors); got != 5 {
		t.Errorf("summary has %d config errors, want 5:\n%s", got, stdout)
	}
	reasons := ""
	for _, ce := range sum.ConfigErrors {
		reasons += ce.Reason + "|"
	}
	if !strings.Contains(reasons, "second line\tand a tab") || !strings.Contains(reasons, "softmig.yaml:7: gpus.l40s.memory") {
		t.Errorf("multi-line reasons not read whole: %q", reasons)
	}

	stdout, stderr, err = runT(t, "--dir", dir, "show", "--level", "4", "42")
	if err != nil || stderr != "" {
		t.Fatalf("show: %v\nstderr: %s", err, stderr)
	}
	if n := strings.Count(stdout, "\n"); n != want {
		t.Errorf("show printed %d lines for %d records:\n%s", n, want, stdout)
	}
}
