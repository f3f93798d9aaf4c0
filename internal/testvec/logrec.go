// SPDX-License-Identifier: Apache-2.0

package testvec

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// LogFile holds log-record vectors (contract 5): the fields of a record and
// the exact line both encoders (preload/log.c, internal/logrec) write.
const LogFile = "testdata/logrec.tsv"

// LogCase is one record and its line.
type LogCase struct {
	Line
	Time       time.Time
	Level, Job string
	PID, Dev   int // Dev -1: dev=-
	Msg        string
	Fields     [][2]string // further keys, in order, values unescaped
	Want       string      // the line, without its newline
}

// LogCases reads LogFile: ts (seconds.nanoseconds since the epoch), level,
// job, pid, dev (or -), msg, any key=value fields, then the line.
func LogCases(t testing.TB) []LogCase {
	var out []LogCase
	for _, l := range Lines(t, LogFile, 7) {
		f := l.Fields
		c := LogCase{Line: l, Level: f[1], Job: f[2], Msg: Unescape(f[5]), Want: f[len(f)-1], Dev: -1}
		sec, frac, _ := strings.Cut(f[0], ".")
		s, err1 := strconv.ParseInt(sec, 10, 64)
		ns, err2 := strconv.ParseInt(frac, 10, 64)
		pid, err3 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || err3 != nil || len(frac) != 9 {
			t.Fatalf("%s: ts %q (want seconds.nanoseconds, 9 digits) or pid %q", l, f[0], f[3])
		}
		c.Time, c.PID = time.Unix(s, ns).UTC(), pid
		if f[4] != "-" {
			if c.Dev, err1 = strconv.Atoi(f[4]); err1 != nil {
				t.Fatalf("%s: dev %q", l, f[4])
			}
		}
		for _, kv := range f[6 : len(f)-1] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("%s: field %q is not key=value", l, kv)
			}
			c.Fields = append(c.Fields, [2]string{k, Unescape(v)})
		}
		out = append(out, c)
	}
	return out
}
