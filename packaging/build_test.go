// SPDX-License-Identifier: Apache-2.0

// Package packaging tests the packages an admin installs: `make rpm` and
// `make deb` build them from this tree, and the tests check what they
// hold, install them into scratch roots and onto a real one-node Slurm,
// upgrade, remove and purge them, and run lintian and rpmlint on them.
package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// workDir holds every build of this test binary; TestMain removes it.
var workDir string

// insideEnv marks the copy of this test binary that runs the lifecycle in a
// private mount namespace (lifecycle_test.go): it builds nothing itself.
const insideEnv = "SOFTMIG_PACKAGING_INSIDE"

func TestMain(m *testing.M) {
	if os.Getenv(insideEnv) == "" {
		dir, err := os.MkdirTemp("", "softmig-packaging-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		workDir = dir
	}
	code := m.Run()
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

// builder identifies the builds of this test (the Maintainer and Packager
// of the packages): who builds a site's packages, as make deb asks.
var builder = []string{"DEBFULLNAME=SoftMig packaging test", "DEBEMAIL=softmig-test@example.org"}

var (
	buildMu sync.Mutex
	builds  = map[string]buildResult{}
)

type buildResult struct {
	pkgs []string
	err  error
}

// packages runs make TARGET with its own build directory (never the build/
// other tests use) and the given make variables, once per test binary, and
// returns the packages made.
func packages(t *testing.T, target, tool string, vars ...string) []string {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed (.ci/pkg.sh installs it): make %s not tried", tool, target)
	}
	testutil.NeedRoot(t, "packages are staged with root-owned files")
	if !hasBuildID(vars) {
		if count, rest := buildID(t); count == 0 {
			// A shallow clone (CI's, say) has no build number and make
			// refuses to package it (TestShallowCloneRefused): number it.
			vars = append(vars, "BUILD_ID=1."+rest)
		}
	}
	key := target + " " + strings.Join(vars, " ")
	buildMu.Lock()
	defer buildMu.Unlock()
	r, ok := builds[key]
	if !ok {
		dir := filepath.Join(workDir, fmt.Sprintf("build%d", len(builds)))
		out := filepath.Join(dir, "out")
		args := append([]string{"-C", "..", "BUILD=" + filepath.Join(dir, "build"), "PKG_OUT=" + out, target}, vars...)
		cmd := exec.Command("make", args...)
		// The tests' Go build cache: the second build reuses the first's.
		cache, _ := exec.Command("go", "env", "GOCACHE").Output()
		cmd.Env = append(append(os.Environ(), builder...), "GOCACHE="+strings.TrimSpace(string(cache)))
		if b, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("make %s: %w\n%s", strings.Join(args, " "), err, tail(string(b), 3000))
		} else {
			r.pkgs, _ = filepath.Glob(filepath.Join(out, "*"))
		}
		builds[key] = r
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.pkgs
}

// pick returns the one package whose name ends with suffix (and is not
// the source RPM, unless asked for).
func pick(t *testing.T, pkgs []string, suffix string) string {
	t.Helper()
	var found []string
	for _, p := range pkgs {
		if strings.HasSuffix(p, suffix) && (suffix == ".src.rpm" || !strings.HasSuffix(p, ".src.rpm")) {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the build made %v: want one *%s", pkgs, suffix)
	}
	return found[0]
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
	return string(b)
}

// buildID splits what packaging/build-id.sh says of this tree into the
// build number and the rest (0 and "shallow.g<hash>" in a shallow clone).
func buildID(t *testing.T) (int, string) {
	t.Helper()
	id := strings.TrimSpace(run(t, "../packaging/build-id.sh", ".."))
	n, rest, _ := strings.Cut(id, ".")
	count, _ := strconv.Atoi(n)
	return count, rest
}

func hasBuildID(vars []string) bool {
	for _, v := range vars {
		if strings.HasPrefix(v, "BUILD_ID=") {
			return true
		}
	}
	return false
}
