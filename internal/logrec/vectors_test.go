// SPDX-License-Identifier: Apache-2.0

package logrec

import (
	"reflect"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testvec"
)

func vectorRecord(t *testing.T, c testvec.LogCase) Record {
	lvl, err := ParseLevel(c.Level)
	if err != nil {
		t.Fatalf("%s: %v", c.Line, err)
	}
	r := Record{Time: c.Time, Level: lvl, Job: c.Job, PID: c.PID, Dev: c.Dev, Msg: c.Msg}
	for _, f := range c.Fields {
		r.Fields = append(r.Fields, Field{f[0], f[1]})
	}
	return r
}

// The encoder writes every vector's line byte for byte (test/preload's
// TestLogVectors holds the library's encoder to the same lines), and the
// parser reads the record back, the time cut to microseconds.
func TestVectors(t *testing.T) {
	var all strings.Builder
	for _, c := range testvec.LogCases(t) {
		r := vectorRecord(t, c)
		got, err := Format(r)
		if err != nil || got != c.Want {
			t.Errorf("%s: Format = %v\n got  %s\n want %s", c.Line, err, got, c.Want)
			continue
		}
		back, err := Parse(got)
		r.Time = r.Time.Truncate(1000)
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Errorf("%s: Parse(%s) = %+v, %v; want %+v", c.Line, got, back, err, r)
		}
		all.WriteString(got + "\n")
	}
	recs, err := Records(strings.NewReader(all.String()), func(it Item) {
		t.Errorf("the reader skipped a vector: %v", it)
	})
	if err != nil || len(recs) != len(testvec.LogCases(t)) {
		t.Errorf("Records: %d records, %v", len(recs), err)
	}
}
