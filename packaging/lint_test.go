// SPDX-License-Identifier: Apache-2.0

package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// lintian finds no error and no warning in the deb: what remains is
// explained in packaging/deb/debian/softmig.lintian-overrides.
func TestLintian(t *testing.T) {
	if _, err := exec.LookPath("lintian"); err != nil {
		t.Skip("lintian not installed (.ci/pkg.sh installs it)")
	}
	deb := pick(t, packages(t, "deb", "dpkg-buildpackage"), ".deb")
	out, err := exec.Command("lintian", "--fail-on", "error,warning", deb).CombinedOutput()
	bad := regexp.MustCompile(`(?m)^[EW]: .*$`).FindAllString(string(out), -1)
	if err != nil || len(bad) > 0 {
		t.Errorf("lintian %s: %v\n%s", filepath.Base(deb), err, strings.Join(bad, "\n"))
	}
	// An override that no longer matches anything is a stale explanation.
	info, _ := exec.Command("lintian", "-I", "--pedantic", deb).CombinedOutput()
	if unused := regexp.MustCompile(`(?m)^.*unused-override.*$`).FindAllString(string(info), -1); len(unused) > 0 {
		t.Errorf("lintian overrides that match nothing:\n%s", strings.Join(unused, "\n"))
	}
}

// rpmlint finds nothing but what packaging/rpm/softmig.rpmlintrc explains.
func TestRpmlint(t *testing.T) {
	if _, err := exec.LookPath("rpmlint"); err != nil {
		t.Skip("rpmlint not installed (.ci/pkg.sh installs it)")
	}
	pkgs := packages(t, "rpm", "rpmbuild")
	rc, _ := filepath.Abs("rpm/softmig.rpmlintrc")
	args := []string{"-r", rc, pick(t, pkgs, ".x86_64.rpm"), pick(t, pkgs, ".src.rpm")}
	cmd := exec.Command("rpmlint", args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user rpmlintrc
	out, err := cmd.CombinedOutput()
	msgs := regexp.MustCompile(`(?m)^\S+: [EW]: .*$`).FindAllString(string(out), -1)
	if err != nil || len(msgs) > 0 {
		t.Errorf("rpmlint: %v\n%s", err, out)
	}
}
