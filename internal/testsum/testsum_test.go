// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A throwaway module with a passing, a failing and a skipped test, a
// skipped subtest, a package that passes and one that does not compile.
var sample = map[string]string{
	"go.mod": "module sample\n\ngo 1.22\n",
	"good/good_test.go": `package good
import "testing"
func TestPass(t *testing.T) {}
func TestSkip(t *testing.T) { t.Skip("needs a GPU: none here") }
func TestParent(t *testing.T) {
	t.Run("sub", func(t *testing.T) { t.Skipf("no %s installed", "rpmbuild") })
}
func TestFail(t *testing.T) { t.Log("the detail"); t.Fatal("wanted 2, got 3") }
`,
	"fine/fine_test.go":     "package fine\nimport \"testing\"\nfunc TestFine(t *testing.T) {}\n",
	"broken/broken_test.go": "package broken\nimport \"testing\"\nfunc TestX(t *testing.T) { undefined() }\n",
}

func TestSummaryOfRealRun(t *testing.T) {
	dir := t.TempDir()
	for name, body := range sample {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "testsum")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "go", "test", "-json", "-count=1", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	// Build errors come as JSON from Go 1.24 on, on stderr before: either
	// way the reader of make test sees them.
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("testsum exit = %v; want 1 (a test failed)\n%s", err, out)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	// Pass, Parent (its subtest skipped, it passes) and Fine pass; Fail
	// and the broken package fail; Skip and Parent/sub skip.
	if last := lines[len(lines)-1]; last != "3 passed, 2 failed, 2 skipped" {
		t.Errorf("last line %q; want \"3 passed, 2 failed, 2 skipped\"\n%s", last, out)
	}
	// A line per package as it finishes: status, name, time, its counts.
	for _, want := range []string{
		`^ok   sample/fine +\d+\.\ds  1 passed, 0 failed, 0 skipped$`,
		`^FAIL sample/good +\d+\.\ds  2 passed, 1 failed, 2 skipped$`,
		`^FAIL sample/broken +\d+\.\ds  0 passed, 1 failed, 0 skipped$`,
	} {
		if !regexp.MustCompile("(?m)" + want).MatchString(out) {
			t.Errorf("output lacks a line matching %s\n%s", want, out)
		}
	}
	for _, want := range []string{
		"sample/good TestSkip: needs a GPU: none here",
		"sample/good TestParent/sub: no rpmbuild installed",
		"--- FAIL: sample/good TestFail",
		"wanted 2, got 3",
		"undefined: undefined",
		"FAIL sample/broken",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}
