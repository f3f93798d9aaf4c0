// SPDX-License-Identifier: Apache-2.0

package testutil

import (
	"io"
	"testing"
)

// Must stops the test at a setup step that failed (a file written, a
// directory made, a mode or owner set): the test would otherwise go on to
// assert on a node it did not build. The standard library's errors name
// the file and the operation.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Close closes c and fails the test if that fails; for a defer.
func Close(t testing.TB, c io.Closer) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}
