// SPDX-License-Identifier: Apache-2.0

package testvec

import (
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/defs"
)

// PathsFile holds the vectors of a job's file names (preload/paths.c,
// internal/jobpath).
const PathsFile = "testdata/paths.tsv"

// PathCase is one vector of PathsFile: what is named (conf, region, log,
// confjob, tmplog, pidlog, localregion), its arguments (escapes undone;
// Unset marks an unset variable) and the expected path, with $RUNDIR and
// $LOGDIR replaced by the built-in directories, or "-" for none.
type PathCase struct {
	Line
	What string
	Args []string
	Want string
}

// Unset is the argument of an unset variable.
const Unset = "<unset>"

// PathCases reads PathsFile.
func PathCases(t testing.TB) []PathCase {
	dirs := strings.NewReplacer("$RUNDIR", defs.RunDir(), "$LOGDIR", defs.LogDir())
	var out []PathCase
	for _, l := range Lines(t, PathsFile, 3) {
		n := len(l.Fields)
		c := PathCase{Line: l, What: l.Fields[0], Want: dirs.Replace(l.Fields[n-1])}
		for _, f := range l.Fields[1 : n-1] {
			if f != Unset {
				f = Unescape(f)
			}
			c.Args = append(c.Args, f)
		}
		out = append(out, c)
	}
	return out
}
