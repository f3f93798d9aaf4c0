// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seriesOfLog reads a test log into its series.
func seriesOfLog(t *testing.T, name string) *jobSeries {
	t.Helper()
	s := newJobSeries()
	e := &env{stderr: io.Discard}
	if _, err := e.readRecords(filepath.Join(logs, name), s.add); err != nil {
		t.Fatal(err)
	}
	return s
}

func values(pts []point) []float64 {
	var v []float64
	for _, p := range pts {
		v = append(v, p.v)
	}
	return v
}

// The series hold what the log says, event by event.
func TestSeriesFromLog(t *testing.T) {
	s := seriesOfLog(t, "23456.log") // two processes on a 12 GiB slice, refusals, a kill
	d := s.devs[0]
	if d == nil || len(s.devs) != 1 {
		t.Fatalf("devices = %v; want device 0 only", s.devs)
	}
	const gb = 1 << 30
	if got := values(d.slice); len(got) != 2 || got[0] != 12*gb {
		t.Errorf("slice = %v; want 12 GiB at each attach", got)
	}
	if got := values(d.asked); len(got) != 3 || got[0] != 11811160064+2*gb || got[2] != 11811160064+4*gb {
		t.Errorf("asked = %v; want used+requested of the 3 refusals", got)
	}
	if got := values(d.held); len(got) != 4 {
		t.Errorf("held = %v; want the use at 3 refusals and 1 exit peak", got)
	}
	if len(d.kills) != 1 || !d.kills[0].t.Equal(time.Date(2026, 11, 26, 8, 3, 2, 100000, time.UTC)) {
		t.Errorf("kills = %v; want one at 08:03:02.0001", d.kills)
	}

	s = seriesOfLog(t, "12345.log") // throttled 61 s over the 599.649888 s after its attach
	d = s.devs[0]
	if got := values(d.smLimit); len(got) != 2 || got[0] != 0.25 {
		t.Errorf("smLimit = %v; want 0.25 at each attach", got)
	}
	if got := values(d.heldBack); len(got) != 2 || math.Abs(got[0]-61000.0/599649.888) > 1e-9 || math.Abs(got[1]-0.0975) > 1e-9 {
		t.Errorf("heldBack = %v; want [%v 0.0975]", got, 61000.0/599649.888)
	}
}

// plot writes an SVG with both panels of each device, and a PNG.
func TestPlotWritesPictures(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "job.svg")
	_, stderr, err := runT(t, "--dir", logs, "plot", "-o", svg, "23456")
	if err != nil {
		t.Fatalf("plot: %v\n%s", err, stderr)
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := dec.Token(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s is not XML: %v", svg, err)
		}
	}
	for _, want := range []string{"job 23456, device 0", "memory against its slice", "GPU time against its share", "asked for and refused", "process killed", "share (SM limit)"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("the SVG lacks %q", want)
		}
	}

	pngPath := filepath.Join(dir, "job.png")
	if _, stderr, err := runT(t, "--dir", logs, "plot", "-o", pngPath, "12345"); err != nil {
		t.Fatalf("plot png: %v\n%s", err, stderr)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", pngPath, err)
	}
	if b := img.Bounds(); b.Dx() != 960 || b.Dy() < 600 {
		t.Errorf("PNG is %v; want 960 wide, two panels high", b)
	}

	stdout, _, err := runT(t, "--dir", logs, "plot", "-o", "-", "12345")
	if err != nil || !strings.HasPrefix(stdout, "<?xml") {
		t.Errorf("plot -o - = %v, %.40q; want SVG on stdout", err, stdout)
	}
}

// A log that is missing, empty, garbage, cut off or about no GPU gets a
// message that says which and why; a cut-off log is still drawn.
func TestPlotBadLogs(t *testing.T) {
	dir := t.TempDir()
	whole, err := os.ReadFile(filepath.Join(logs, "12345.log"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"1.log": "",
		"2.log": "not a log\nat all\n",
		"3.log": string(whole[:len(whole)-40]), // the last line cut off
		"4.log": "ts=2026-11-25T21:00:00.104211Z level=event job=4 pid=1 dev=- msg=\"process start\" exe=/bin/true uid=0\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		job, err, stderr string
	}{
		{"99", "no log for job 99", ""},
		{"1", "the log is empty", ""},
		{"2", "none of its 2 lines is a record", "skipped"},
		{"4", "its 1 records name no GPU", ""},
		{"3", "", "the log ends in a partial line (cut off, or still being written): plotted the 8 records before it"},
	} {
		out := filepath.Join(dir, tc.job+".svg")
		_, stderr, err := runT(t, "--dir", dir, "plot", "-o", out, tc.job)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("plot %s = %v; want a picture", tc.job, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("plot %s = %v; want an error with %q", tc.job, err, tc.err)
		case !strings.Contains(stderr, tc.stderr):
			t.Errorf("plot %s: stderr %q; want %q", tc.job, stderr, tc.stderr)
		}
		if _, statErr := os.Stat(out); (statErr == nil) != (tc.err == "") {
			t.Errorf("plot %s: picture written = %v; want %v", tc.job, statErr == nil, tc.err == "")
		}
	}
}
