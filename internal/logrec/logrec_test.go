// SPDX-License-Identifier: Apache-2.0

package logrec

import (
	"bufio"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readItems(t *testing.T, path string) []Item {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var items []Item
	r := NewReader(f)
	for {
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			return items
		}
		if err != nil {
			t.Fatalf("Next() = %v", err)
		}
		items = append(items, it)
	}
}

// TestGoodLogRoundTrips: every line of good.log parses, passes CheckEvent,
// and Format gives it back byte for byte (the lines are canonical).
func TestGoodLogRoundTrips(t *testing.T) {
	f, err := os.Open("testdata/good.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	events := map[string]bool{}
	levels := map[Level]bool{}
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		r, err := Parse(line)
		if err != nil {
			t.Fatalf("line %d: Parse() = %v", n, err)
		}
		if err := r.CheckEvent(); err != nil {
			t.Errorf("line %d: CheckEvent() = %v", n, err)
		}
		got, err := Format(r)
		if err != nil || got != line {
			t.Errorf("line %d: Format(Parse(line)) = %q, %v; want %q", n, got, err, line)
		}
		if IsEvent(r.Msg) {
			events[r.Msg] = true
		}
		levels[r.Level] = true
	}
	for msg := range eventKeys {
		if !events[msg] {
			t.Errorf("good.log has no %q event", msg)
		}
	}
	for _, l := range Levels {
		if !levels[l] {
			t.Errorf("good.log has no level %s", l)
		}
	}
}

func TestParse(t *testing.T) {
	ts := time.Date(2026, 11, 25, 21, 39, 37, 123456000, time.UTC)
	tests := []struct {
		name string
		line string
		want Record
	}{
		{"contract example",
			`ts=2026-11-25T21:39:37.123456Z level=event job=42 pid=1234 dev=0 msg="oom refused" api=cuMemAlloc_v2 requested=1073741824 used=12348030976 limit=12884901888` + "\n",
			Record{Time: ts, Level: LevelEvent, Job: "42", PID: 1234, Dev: 0, Msg: "oom refused", Fields: []Field{
				{"api", "cuMemAlloc_v2"}, {"requested", "1073741824"}, {"used", "12348030976"}, {"limit", "12884901888"}}}},
		{"no job, no dev, escapes",
			`ts=2026-11-25T21:39:37.123456Z level=error job=- pid=1 dev=- msg="a \"b\" \\c" reason="x\ny\tz\x01" empty="" raw=C:\dir`,
			Record{Time: ts, Level: LevelError, Job: NoJob, PID: 1, Dev: NoDev, Msg: `a "b" \c`, Fields: []Field{
				{"reason", "x\ny\tz\x01"}, {"empty", ""}, {"raw", `C:\dir`}}}},
		{"array task, offset time, extra spaces, bare empty value",
			`ts=2026-11-25T22:39:37.123456+01:00  level=trace job=123_4 pid=99 dev=15 msg="" k=`,
			Record{Time: ts, Level: LevelTrace, Job: "123_4", PID: 99, Dev: 15, Msg: "", Fields: []Field{{"k", ""}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.line)
			if err != nil {
				t.Fatalf("Parse() = %v", err)
			}
			if !got.Time.Equal(tt.want.Time) {
				t.Errorf("Parse().Time = %v; want %v", got.Time, tt.want.Time)
			}
			got.Time = tt.want.Time
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse() = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const h = `ts=2026-11-25T21:39:37.123456Z level=event job=42 pid=1234 dev=0`
	tests := []struct{ name, line, want string }{
		{"empty", "", "empty line"},
		{"garbage", "hello world", `"hello world" is not key=value`},
		{"no header", `msg="x"`, "key msg where ts was expected"},
		{"order", `level=event ts=2026-11-25T21:39:37.123456Z job=1 pid=1 dev=0 msg="x"`, "key level where ts was expected"},
		{"missing msg", h, "missing key msg"},
		{"unquoted msg", h + ` msg=x`, "msg is not quoted"},
		{"bad ts", `ts=now level=event job=1 pid=1 dev=0 msg="x"`, `bad ts "now"`},
		{"bad level", `ts=2026-11-25T21:39:37.123456Z level=fatal job=1 pid=1 dev=0 msg="x"`, "unknown level"},
		{"bad job", `ts=2026-11-25T21:39:37.123456Z level=event job=42a pid=1 dev=0 msg="x"`, `bad job "42a"`},
		{"bad pid", `ts=2026-11-25T21:39:37.123456Z level=event job=42 pid=-1 dev=0 msg="x"`, `bad pid "-1"`},
		{"zero pid", `ts=2026-11-25T21:39:37.123456Z level=event job=42 pid=0 dev=0 msg="x"`, `bad pid "0"`},
		{"bad dev", `ts=2026-11-25T21:39:37.123456Z level=event job=42 pid=1 dev=+1 msg="x"`, `bad dev "+1"`},
		{"unterminated", h + ` msg="x`, "unterminated quote"},
		{"bad escape", h + ` msg="\q"`, `bad escape \q`},
		{"raw newline in quotes", h + " msg=\"a\rb\"", "control byte 0x0d"},
		{"glued quote", h + ` msg="x"y=1`, "no space after the quoted value of msg"},
		{"stray quote", h + ` msg="x" a=b"c`, "stray quote in the value of a"},
		{"duplicate", h + ` msg="x" a=1 a=2`, "key a twice"},
		{"two records", h + ` msg="x" ` + h + ` msg="y"`, "key ts twice"},
		{"bad key", h + ` msg="x" a/b=1`, `bad key "a/b"`},
		{"no value", h + ` msg="x" flag`, `"flag" is not key=value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.line)
			if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v; want an ErrSyntax containing %q", tt.line, err, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	ts := time.Date(2026, 11, 25, 22, 39, 37, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"quoting", Record{Time: ts, Level: LevelEvent, Job: "42", PID: 7, Dev: 1, Msg: "process start", Fields: []Field{
			{"exe", "/opt/a b/c"}, {"eq", "a=b"}, {"q", `say "hi"`}, {"bs", `a\b`}, {"empty", ""}, {"nl", "a\nts=x"}, {"ctl", "\x00\x7f"}}},
			`ts=2026-11-25T21:39:37.123456Z level=event job=42 pid=7 dev=1 msg="process start" exe="/opt/a b/c" eq="a=b" q="say \"hi\"" bs=a\b empty="" nl="a\nts=x" ctl="\x00\x7f"`},
		{"no job no dev", Record{Time: ts, Level: LevelError, Job: NoJob, PID: 1, Dev: NoDev, Msg: "config error", Fields: []Field{{"reason", `bad "x"\`}}},
			`ts=2026-11-25T21:39:37.123456Z level=error job=- pid=1 dev=- msg="config error" reason="bad \"x\"\\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Format(tt.rec)
			if err != nil || got != tt.want {
				t.Fatalf("Format() = %q, %v; want %q", got, err, tt.want)
			}
			back, err := Parse(got)
			if err != nil {
				t.Fatalf("Parse(Format()) = %v", err)
			}
			want := tt.rec
			want.Time = want.Time.UTC().Truncate(time.Microsecond)
			if !reflect.DeepEqual(back, want) {
				t.Errorf("Parse(Format()) = %+v; want %+v", back, want)
			}
		})
	}
}

func TestFormatRejects(t *testing.T) {
	ts := time.Now()
	tests := []struct {
		name string
		rec  Record
	}{
		{"no time", Record{Level: LevelEvent, Job: "1", PID: 1}},
		{"no level", Record{Time: ts, Job: "1", PID: 1}},
		{"bad job", Record{Time: ts, Level: LevelEvent, Job: "", PID: 1}},
		{"bad pid", Record{Time: ts, Level: LevelEvent, Job: "1"}},
		{"bad dev", Record{Time: ts, Level: LevelEvent, Job: "1", PID: 1, Dev: -2}},
		{"header key", Record{Time: ts, Level: LevelEvent, Job: "1", PID: 1, Fields: []Field{{"pid", "2"}}}},
		{"duplicate", Record{Time: ts, Level: LevelEvent, Job: "1", PID: 1, Fields: []Field{{"a", "1"}, {"a", "2"}}}},
		{"bad key", Record{Time: ts, Level: LevelEvent, Job: "1", PID: 1, Fields: []Field{{"a b", "1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Format(tt.rec); !errors.Is(err, ErrRecord) {
				t.Errorf("Format() = %q, %v; want ErrRecord", got, err)
			}
		})
	}
}

// TestEncoderOneWritePerLine: the encoder writes each line with a single
// Write, as the C library must (O_APPEND keeps whole writes whole).
func TestEncoderOneWritePerLine(t *testing.T) {
	var w writes
	e := NewEncoder(&w)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for i := 1; i <= 3; i++ {
		if err := e.Encode(Event(ts, "9", i, 0, MsgOOMKill, "target", "5")); err != nil {
			t.Fatal(err)
		}
	}
	if len(w) != 3 {
		t.Fatalf("writes = %d; want 3", len(w))
	}
	want := "ts=2026-01-02T03:04:05.000006Z level=event job=9 pid=2 dev=0 msg=\"oom kill\" target=5\n"
	if w[1] != want {
		t.Errorf("write 2 = %q; want %q", w[1], want)
	}
}

type writes []string

func (w *writes) Write(p []byte) (int, error) { *w = append(*w, string(p)); return len(p), nil }

func TestCheckEvent(t *testing.T) {
	ts := time.Now()
	tests := []struct {
		name string
		rec  Record
		want string // "" for valid
	}{
		{"not an event", Record{Msg: "anything"}, ""},
		{"attach without dev", Event(ts, "1", 1, NoDev, MsgDeviceAttach, "uuid", "u", "mem_limit", "1", "sm_limit", "0"), "dev=-"},
		{"refused without suppressed", Event(ts, "1", 1, 0, MsgOOMRefused, "api", "a", "requested", "1", "used", "1", "limit", "1"), "missing key suppressed"},
		{"exit with bad peak", Event(ts, "1", 1, 0, MsgProcessExit, "peak", "-5", "throttled_ms", "0"), `bad value peak="-5"`},
		{"throttle with size suffix", Event(ts, "1", 1, 0, MsgThrottle, "throttled_ms", "5ms", "sm_limit", "25"), `bad value throttled_ms="5ms"`},
		{"start without exe", Event(ts, "1", 1, NoDev, MsgProcessStart, "uid", "0"), "missing key exe"},
		{"kill without target", Event(ts, "1", 1, 0, MsgOOMKill), "missing key target"},
		{"config error without path or var", Event(ts, "1", 1, NoDev, MsgConfigError, "reason", "x"), ""},
		{"config error without reason", Event(ts, "1", 1, NoDev, MsgConfigError, "path", "/x"), "missing key reason"},
		{"config error at level event", Record{Time: ts, Level: LevelEvent, Job: "1", PID: 1, Dev: NoDev, Msg: MsgConfigError, Fields: []Field{{"var", "X"}, {"reason", "r"}}}, "level=event, want error"},
		{"config error with var", Event(ts, "1", 1, NoDev, MsgConfigError, "var", "X", "reason", "r"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rec.CheckEvent()
			if tt.want == "" {
				if err != nil {
					t.Errorf("CheckEvent() = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrEvent) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckEvent() = %v; want ErrEvent containing %q", err, tt.want)
			}
		})
	}
}

func TestLevels(t *testing.T) {
	want := map[string]int{"error": 0, "event": 0, "warn": 1, "debug": 2, "info": 3, "trace": 4}
	for name, v := range want {
		l, err := ParseLevel(name)
		if err != nil || l.String() != name || l.Verbosity() != v {
			t.Errorf("ParseLevel(%q) = %v (verbosity %d), %v; want verbosity %d", name, l, l.Verbosity(), err, v)
		}
	}
	if _, err := ParseLevel("WARN"); !errors.Is(err, ErrLevel) {
		t.Errorf("ParseLevel(WARN) = %v; want ErrLevel", err)
	}
}

type itemSummary struct {
	line int
	rec  string // msg of a record, or "" for a skipped line
	err  error  // for skipped lines checked with errors.Is, nil to check ErrSyntax
}

func checkItems(t *testing.T, got []Item, want []itemSummary) {
	t.Helper()
	if len(got) != len(want) {
		for _, it := range got {
			t.Logf("item: line %d err=%v raw=%q", it.Line, it.Err, it.Raw)
		}
		t.Fatalf("got %d items; want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Line != w.line {
			t.Errorf("item %d: line %d; want %d", i, g.Line, w.line)
		}
		if w.rec != "" {
			if g.Err != nil || g.Rec.Msg != w.rec {
				t.Errorf("item %d (line %d): err=%v msg=%q; want record %q", i, g.Line, g.Err, g.Rec.Msg, w.rec)
			}
			continue
		}
		we := w.err
		if we == nil {
			we = ErrSyntax
		}
		if !errors.Is(g.Err, we) {
			t.Errorf("item %d (line %d): err=%v; want %v (raw %q)", i, g.Line, g.Err, we, g.Raw)
		}
	}
}

func TestReaderBad(t *testing.T) {
	checkItems(t, readItems(t, "testdata/bad.log"), []itemSummary{
		{1, "process start", nil},
		{2, "", nil}, {3, "", nil}, {4, "", nil}, {5, "", nil}, {6, "", nil}, {7, "", nil},
		{8, "", nil}, {9, "", nil}, {10, "", nil}, {11, "", nil}, {12, "", nil},
		{13, "process exit", nil},
	})
}

func TestReaderInterleaved(t *testing.T) {
	items := readItems(t, "testdata/interleaved.log")
	checkItems(t, items, []itemSummary{
		{1, "process start", nil},
		{2, "", ErrInterleaved},
		{2, "device attach", nil},
		{3, "", nil},
		{4, "process exit", nil},
		{4, "process exit", nil},
		{5, "process start", nil},
	})
	if items[4].Rec.PID != 10 || items[5].Rec.PID != 13 {
		t.Errorf("glued records: pids %d, %d; want 10, 13", items[4].Rec.PID, items[5].Rec.PID)
	}
	if want := `ts=2026-11-25T21:00:01.000000Z level=event job=7 pid=11 dev=0 msg="oom`; items[1].Raw != want {
		t.Errorf("fragment = %q; want %q", items[1].Raw, want)
	}
}

func TestReaderPartial(t *testing.T) {
	items := readItems(t, "testdata/partial.log")
	checkItems(t, items, []itemSummary{
		{1, "process start", nil},
		{2, "process exit", nil},
		{3, "", ErrPartial},
	})
	if got := items[2].Error(); !strings.HasPrefix(got, "line 3: partial last line") {
		t.Errorf("Item.Error() = %q", got)
	}
}

func TestReaderLongLine(t *testing.T) {
	good := "ts=2026-11-25T21:00:01.000000Z level=event job=8 pid=10 dev=- msg=\"x\"\n"
	in := good + strings.Repeat("x", MaxLine+10) + "\n" + good
	recs := 0
	var bad []Item
	rs, err := Records(strings.NewReader(in), func(it Item) { bad = append(bad, it) })
	recs = len(rs)
	if err != nil || recs != 2 || len(bad) != 1 || bad[0].Line != 2 || !errors.Is(bad[0].Err, ErrTooLong) {
		t.Errorf("Records() = %d records, bad %v, %v; want 2 records and line 2 too long", recs, bad, err)
	}
}

func TestParseLineThreeGlued(t *testing.T) {
	a := `ts=2026-11-25T21:00:01.000000Z level=event job=8 pid=1 dev=- msg="a"`
	b := `ts=2026-11-25T21:00:01.000000Z level=event job=8 pid=2 dev=- msg="b"`
	c := `ts=2026-11-25T21:00:01.000000Z level=event job=8 pid=3 dev=- msg="c"`
	items := ParseLine(5, a+" "+b+c+"\n")
	checkItems(t, items, []itemSummary{{5, "a", nil}, {5, "b", nil}, {5, "c", nil}})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("process start", "exe", "/usr/bin/python3")
	f.Add("x y", "k", "a \"b\" \\ = \n")
	f.Add("", "k", "")
	f.Fuzz(func(t *testing.T, msg, key, val string) {
		r := Record{Time: time.Unix(1, 0), Level: LevelWarn, Job: "1", PID: 1, Dev: NoDev, Msg: msg, Fields: []Field{{key, val}}}
		s, err := Format(r)
		if err != nil {
			return // invalid key
		}
		if strings.ContainsAny(s, "\n") {
			t.Fatalf("Format() = %q holds a newline", s)
		}
		back, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) = %v", s, err)
		}
		r.Time = r.Time.UTC()
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("Parse(Format(r)) = %+v; want %+v", back, r)
		}
	})
}
