// SPDX-License-Identifier: Apache-2.0

package job

import (
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testvec"
)

// FromCgroup gives every cgroup vector its job; test/preload's
// TestCgroupVectors holds the library to the same lines.
func TestCgroupVectors(t *testing.T) {
	for _, c := range testvec.JobCases(t, testvec.CgroupFile) {
		got, ok := FromCgroup(strings.NewReader(c.In))
		if !ok {
			got = "-"
		}
		if got != c.Want {
			t.Errorf("%s: FromCgroup(%q) = %s, want %s", c.Line, c.In, got, c.Want)
		}
	}
}

// FromEnv accepts exactly the SLURM_JOB_ID vectors marked yes.
func TestJobIDVectors(t *testing.T) {
	for _, c := range testvec.JobCases(t, testvec.JobIDFile) {
		_, ok := FromEnv(func(string) string { return c.In })
		if got := map[bool]string{true: "yes", false: "no"}[ok]; got != c.Want {
			t.Errorf("%s: SLURM_JOB_ID=%q accepted: %s, want %s", c.Line, c.In, got, c.Want)
		}
	}
}
