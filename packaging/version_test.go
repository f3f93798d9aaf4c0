// SPDX-License-Identifier: Apache-2.0

package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// clone makes a clone of this repository at commit (HEAD~1, HEAD), sharing
// its objects, and returns its directory.
func clone(t *testing.T, commit string, extra ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "src")
	run(t, "git", append([]string{"clone", "-q", "--no-checkout"}, append(extra, "file://"+testutil.Root(t), dir)...)...)
	run(t, "git", "-C", dir, "checkout", "-q", commit)
	return dir
}

// makeVersion is what make says the version of the tree at dir is.
func makeVersion(t *testing.T, dir string, target string) (string, error) {
	t.Helper()
	out, err := exec.Command("make", "-s", "-C", dir, "--no-print-directory", target).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Two builds from two commits: the later one's version sorts above the
// earlier one's in dpkg and in rpm, whatever their commit hashes.
func TestVersionsGoUp(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	if out, err := exec.Command("git", "-C", testutil.Root(t), "rev-parse", "--is-shallow-repository").Output(); err != nil || strings.TrimSpace(string(out)) != "false" {
		t.Skip("a shallow clone counts only the commits it has: TestShallowCloneRefused covers it")
	}
	// The parent commit may predate `make version`: its version is its
	// VERSION file and what build-id.sh says of it.
	parent := clone(t, "HEAD~1")
	older := strings.TrimSpace(run(t, "cat", filepath.Join(parent, "VERSION"))) + "+" +
		strings.TrimSpace(run(t, testutil.Path(t, "packaging/build-id.sh"), parent))
	newer, err := makeVersion(t, clone(t, "HEAD"), "version")
	if err != nil {
		t.Fatal(newer, err)
	}
	release, _ := os.ReadFile(testutil.Path(t, "VERSION"))
	form := regexp.MustCompile(`^` + regexp.QuoteMeta(strings.TrimSpace(string(release))) + `\+\d+\.g[0-9a-f]{7}$`)
	for _, v := range []string{older, newer} {
		if !form.MatchString(v) {
			t.Errorf("version %q: want VERSION+<commits>.g<commit>", v)
		}
	}
	if _, err := exec.LookPath("dpkg"); err == nil {
		if err := exec.Command("dpkg", "--compare-versions", newer, "gt", older).Run(); err != nil {
			t.Errorf("dpkg --compare-versions %s gt %s: %v", newer, older, err)
		}
	}
	if _, err := exec.LookPath("rpm"); err == nil {
		// rpm.vercmp: rpm's own comparison (rpmdev-vercmp uses it too).
		cmp := run(t, "rpm", "--eval", `%{lua: print(rpm.vercmp("`+newer+`", "`+older+`"))}`)
		if strings.TrimSpace(cmp) != "1" {
			t.Errorf("rpm.vercmp(%s, %s) = %s; want 1", newer, older, cmp)
		}
	}
	// The tarball's build keeps the number: a tree without git (as make dist
	// packs it) with its BUILD_ID file says the same version.
	tree := clone(t, "HEAD")
	dist := filepath.Join(t.TempDir(), "softmig")
	testutil.Must(t, os.MkdirAll(dist, 0o755))
	run(t, "sh", "-c", "cd "+tree+" && git ls-files -z | tar --null -T - -cf - | tar -x -C "+dist)
	testutil.Must(t, os.WriteFile(filepath.Join(dist, "BUILD_ID"), []byte(strings.TrimPrefix(newer, strings.TrimSpace(string(release))+"+")+"\n"), 0o644))
	if v, err := makeVersion(t, dist, "version"); err != nil || v != newer {
		t.Errorf("make version in a tree without git, with BUILD_ID = %q, %v; want %q", v, err, newer)
	}
}

// A shallow clone cannot count its commits: its packages would sort below
// older builds, so make refuses to package it, saying why.
func TestShallowCloneRefused(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := clone(t, "HEAD", "--depth", "1")
	v, err := makeVersion(t, dir, "version")
	if err != nil || !strings.Contains(v, "+0.shallow.g") {
		t.Errorf("make version in a shallow clone = %q, %v; want build 0.shallow", v, err)
	}
	out, err := makeVersion(t, dir, "pkg-version")
	if err == nil || !strings.Contains(out, "no build number") || !strings.Contains(out, "git fetch --unshallow") {
		t.Errorf("make pkg-version in a shallow clone = %v:\n%s\nwant a refusal naming the fix", err, out)
	}
}

// make dist in an unpacked release tarball (no git, vendor/ in it) packs
// the tree again, offline, with the same version: a site builds its
// packages from the tarball with no network (the deb and the RPM are built
// from it with GOPROXY=off).
func TestDistFromTarball(t *testing.T) {
	tarball := pick(t, packages(t, "deb", "dpkg-buildpackage"), ".tar.gz")
	dir := t.TempDir()
	run(t, "tar", "-C", dir, "-xzf", tarball)
	src := filepath.Join(dir, strings.TrimSuffix(filepath.Base(tarball), ".tar.gz"))
	if _, err := os.Stat(filepath.Join(src, "vendor/modules.txt")); err != nil {
		t.Fatalf("the tarball has no vendored modules: %v", err)
	}
	out := filepath.Join(dir, "out")
	cmd := exec.Command("make", "-C", src, "BUILD="+filepath.Join(dir, "build"), "PKG_OUT="+out, "dist")
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=vendor")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist in the unpacked tarball: %v\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(out, filepath.Base(tarball))); err != nil {
		t.Errorf("make dist in the unpacked tarball made no %s: %v", filepath.Base(tarball), err)
	}
}
