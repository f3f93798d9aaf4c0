// SPDX-License-Identifier: Apache-2.0

package testutil

import "strings"

// ClientResults reduces lines of the test client (test/cprog/client, run
// as cuclient, dl_client or dl_dlmopen) to their command and rc, as in
// "alloc rc=2": what scripts assert, without pointers and error names.
func ClientResults(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) > 2 {
			f = f[:2]
		}
		out[i] = strings.Join(f, " ")
	}
	return out
}
