// SPDX-License-Identifier: Apache-2.0

package testutil

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// OnlyChild returns the pid of pid's one child, as the host sees it: the
// program `unshare -p -f` started in a new PID namespace.
func OnlyChild(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	f := strings.Fields(string(b))
	if err != nil || len(f) != 1 {
		t.Fatalf("children of %d: %q %v", pid, b, err)
	}
	child, _ := strconv.Atoi(f[0])
	return child
}
