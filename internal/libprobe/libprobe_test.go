// SPDX-License-Identifier: Apache-2.0

package libprobe

import (
	"errors"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testlibs"
)

func TestVersion(t *testing.T) {
	if !Supported {
		t.Skip("built without cgo")
	}
	dir := t.TempDir()
	good := testlibs.Lib(t, dir, "good.so", testlibs.Good("9.9-test"))
	v, err := Version(good, false)
	if err != nil || v != "9.9-test" {
		t.Errorf("Version(good) = %q, %v; want 9.9-test", v, err)
	}
	// This test process did not preload it.
	other := testlibs.Lib(t, dir, "other.so", testlibs.Good("x"))
	if _, err := Version(other, true); !errors.Is(err, ErrNotPreloaded) {
		t.Errorf("Version(not preloaded, true) = %v, want ErrNotPreloaded", err)
	}
	nosym := testlibs.Lib(t, dir, "nosym.so", testlibs.NoVersion)
	if _, err := Version(nosym, false); err == nil || !strings.Contains(err.Error(), "no softmig_version") {
		t.Errorf("Version(no symbol) = %v, want a missing-symbol error", err)
	}
	// A truncated library is not tried here: the loader maps it past its end
	// and the process dies of SIGBUS, which is why Version runs in a child.
}
