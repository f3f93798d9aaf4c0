// SPDX-License-Identifier: Apache-2.0

package elfcheck

import (
	"errors"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testlibs"
)

// A program built on this machine against an older glibc: the check finds
// what the loader would refuse, and names the version.
func TestCheckLibc(t *testing.T) {
	testlibs.NeedCC(t)
	dir := t.TempDir()
	prog := testlibs.Program(t, dir, "prog", "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
	needs, err := LibcNeeds(prog)
	if err != nil || len(needs) == 0 {
		t.Fatalf("LibcNeeds(a C program) = %v, %v; want its GLIBC_ versions", needs, err)
	}
	newest := needs[len(needs)-1]
	hostLibc, err := FindLibc("/", prog)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckLibc(prog, hostLibc); err != nil {
		t.Errorf("CheckLibc(prog, the libc it was built with) = %v", err)
	}
	old := testlibs.FakeLibc(t, dir, "GLIBC_2.2.5", "GLIBC_2.17")
	if defs, err := LibcDefines(old); err != nil || len(defs) != 2 || !defs["GLIBC_2.17"] {
		t.Fatalf("LibcDefines(fake 2.17) = %v, %v", defs, err)
	}
	err = CheckLibc(prog, old)
	if newest == "GLIBC_2.2.5" || newest == "GLIBC_2.17" {
		if err != nil {
			t.Errorf("CheckLibc(prog needing %s, glibc 2.17) = %v", newest, err)
		}
		return
	}
	if !errors.Is(err, ErrGlibcTooOld) || !strings.Contains(err.Error(), "needs "+newest) || !strings.Contains(err.Error(), "up to GLIBC_2.17") {
		t.Errorf("CheckLibc(prog needing %s, glibc 2.17) = %v; want ErrGlibcTooOld naming both", newest, err)
	}
}

func TestVersionOrder(t *testing.T) {
	got := sortedVersions(map[string]bool{"GLIBC_2.34": true, "GLIBC_2.2.5": true, "GLIBC_2.17": true, "GLIBC_2.3.4": true, "GLIBC_2.3": true})
	want := "GLIBC_2.2.5 GLIBC_2.3 GLIBC_2.3.4 GLIBC_2.17 GLIBC_2.34"
	if strings.Join(got, " ") != want {
		t.Errorf("sortedVersions = %v; want %s", got, want)
	}
}
