// SPDX-License-Identifier: Apache-2.0

package jobpath

import (
	"strconv"
	"testing"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testvec"
)

// Every vector of testdata/paths.tsv names the same path here as in the
// library (test/preload's TestPathVectors runs the same lines there).
func TestVectors(t *testing.T) {
	for _, c := range testvec.PathCases(t) {
		got, ok := name(c)
		if !ok {
			t.Fatalf("%s: %q with %d arguments is no vector this test knows", c.Line, c.What, len(c.Args))
		}
		if got != c.Want {
			t.Errorf("%s: %s%q = %q, want %q", c.Line, c.What, c.Args, got, c.Want)
		}
	}
}

func name(c testvec.PathCase) (string, bool) {
	a := c.Args
	switch {
	case c.What == "conf" && len(a) == 1:
		return Conf(defs.RunDir(), a[0]), true
	case c.What == "region" && len(a) == 1:
		return Region(defs.RunDir(), a[0]), true
	case c.What == "log" && len(a) == 1:
		return Log(defs.LogDir(), a[0]), true
	case c.What == "confjob" && len(a) == 1:
		if id, ok := ConfJob(a[0]); ok {
			return id, true
		}
		return "-", true
	case c.What == "tmplog" && len(a) == 2:
		return TmpLog(a[0], a[1]), true
	case c.What == "pidlog" && len(a) == 1:
		pid, err := strconv.Atoi(a[0])
		return PidLog(defs.LogDir(), pid), err == nil
	case c.What == "localregion" && len(a) == 4:
		uid, err := strconv.Atoi(a[2])
		env := map[string]string{}
		for i, k := range []string{"SLURM_TMPDIR", "TMPDIR"} {
			if a[i] != testvec.Unset {
				env[k] = a[i]
			}
		}
		return LocalRegion(func(k string) string { return env[k] }, uid, a[3]), err == nil
	}
	return "", false
}

// LogJob is the inverse of Log and PidLog.
func TestLogJob(t *testing.T) {
	for _, name := range []string{Log("/l", "42"), Log("/l", "123_4"), PidLog("/l", 999)} {
		id, ok := LogJob(name)
		if !ok || Log("/l", id) != name {
			t.Errorf("LogJob(%q) = %q, %v", name, id, ok)
		}
	}
	if id, ok := LogJob("/l/notes.txt"); ok {
		t.Errorf("LogJob(notes.txt) = %q, true; want not a log", id)
	}
}
