// SPDX-License-Identifier: Apache-2.0

package packaging

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/elfcheck"
	"github.com/softmig/softmig/internal/testlibs"
	"github.com/softmig/softmig/internal/testutil"
)

// glibcVersions are the symbol versions x86-64 glibc defines, oldest first,
// up to the releases EL7 (2.17), EL8 (2.28) and EL9 (2.34) ship.
var glibcVersions = strings.Fields(`GLIBC_2.2.5 GLIBC_2.2.6 GLIBC_2.3 GLIBC_2.3.2 GLIBC_2.3.3 GLIBC_2.3.4
	GLIBC_2.4 GLIBC_2.5 GLIBC_2.6 GLIBC_2.7 GLIBC_2.8 GLIBC_2.9 GLIBC_2.10 GLIBC_2.11 GLIBC_2.12
	GLIBC_2.13 GLIBC_2.14 GLIBC_2.15 GLIBC_2.16 GLIBC_2.17 GLIBC_2.18 GLIBC_2.22 GLIBC_2.23
	GLIBC_2.24 GLIBC_2.25 GLIBC_2.26 GLIBC_2.27 GLIBC_2.28 GLIBC_2.29 GLIBC_2.30 GLIBC_2.31
	GLIBC_2.32 GLIBC_2.33 GLIBC_2.34`)

// glibcUpTo builds a stand-in for the libc.so.6 of glibc release v.
func glibcUpTo(t *testing.T, v string) string {
	t.Helper()
	for i, name := range glibcVersions {
		if name == "GLIBC_"+v {
			dir := filepath.Join(t.TempDir(), v)
			testutil.Must(t, os.MkdirAll(dir, 0o755))
			return testlibs.FakeLibc(t, dir, glibcVersions[:i+1]...)
		}
	}
	t.Fatalf("no glibc %s in the table", v)
	return ""
}

// The builds of this machine against the glibc of each EL release: the
// library loads on glibc 2.17 and later (it is mapped into every process,
// old containers' too), while the tools need the glibc they were built
// with, so a build made here is refused for an older distribution, with
// the version it needs: what verify does on a node, and why the packages
// require their build host's glibc.
func TestGlibcOfTheBuild(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler to build the stand-in libc")
	}
	testutil.Build(t, "lib", "tools")
	lib := testutil.Path(t, "build/libsoftmig.so")
	tool := testutil.Path(t, "build/bin/softmig-conf")
	needs, err := elfcheck.LibcNeeds(tool)
	if err != nil {
		t.Fatal(err)
	}
	toolNeeds := strings.TrimPrefix(needs[len(needs)-1], "GLIBC_")
	for _, v := range []string{"2.17", "2.28", "2.34"} {
		libc := glibcUpTo(t, v)
		if err := elfcheck.CheckLibc(lib, libc); err != nil {
			t.Errorf("libsoftmig.so against glibc %s: %v; it must load there", v, err)
		}
		err := elfcheck.CheckLibc(tool, libc)
		newer := versionLess(v, toolNeeds)
		switch {
		case newer && !errors.Is(err, elfcheck.ErrGlibcTooOld):
			t.Errorf("softmig-conf (needs %s) against glibc %s: %v; want it refused", toolNeeds, v, err)
		case newer && !strings.Contains(err.Error(), "GLIBC_"+toolNeeds):
			t.Errorf("the refusal does not name the version needed: %v", err)
		case !newer && err != nil:
			t.Errorf("softmig-conf (needs %s) against glibc %s: %v", toolNeeds, v, err)
		}
	}
}

// versionLess compares dotted release numbers (2.17 < 2.34).
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			return len(pa[i]) < len(pb[i]) || len(pa[i]) == len(pb[i]) && pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}
