// SPDX-License-Identifier: Apache-2.0

package testvec

import "testing"

// JobCase is one vector of testdata/cgroup.tsv (In: a cgroup file's text,
// Want: its job id or "-") or testdata/jobid.tsv (In: a SLURM_JOB_ID value,
// Want: "yes" or "no").
type JobCase struct {
	Line
	In, Want string
}

// Files of the job-identity vectors.
const (
	CgroupFile = "testdata/cgroup.tsv"
	JobIDFile  = "testdata/jobid.tsv"
)

// JobCases reads CgroupFile or JobIDFile.
func JobCases(t testing.TB, file string) []JobCase {
	var out []JobCase
	for _, l := range Lines(t, file, 2) {
		out = append(out, JobCase{Line: l, In: Unescape(l.Fields[0]), Want: l.Fields[1]})
	}
	return out
}
