// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// delegated makes a cgroup subtree under base owned by uid, as systemd
// hands user@<uid>.service to its user (on v1's name=systemd hierarchy
// and on v2), removed with all it holds when the test ends; it skips the
// test where it cannot.
func delegated(t *testing.T, base string, uid int) string {
	t.Helper()
	deleg := filepath.Join(base, fmt.Sprintf("user_smdeleg_%d", rand.Intn(1e9)))
	if err := os.Mkdir(deleg, 0o755); err != nil {
		t.Skipf("cannot make a delegated cgroup under %s: %v", base, err)
	}
	t.Cleanup(func() {
		var dirs []string
		_ = filepath.WalkDir(deleg, func(p string, d os.DirEntry, err error) error { // best effort: what it cannot list stays
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- { // the deepest first
			for k := 0; k < 100 && os.Remove(dirs[i]) != nil; k++ {
				time.Sleep(20 * time.Millisecond) // killed members leave the cgroup
			}
		}
	})
	for _, f := range []string{"", "cgroup.procs", "tasks"} {
		if err := os.Chown(filepath.Join(deleg, f), uid, uid); err != nil && f != "tasks" {
			t.Fatal(err)
		}
	}
	return deleg
}
