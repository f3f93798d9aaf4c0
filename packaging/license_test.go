// SPDX-License-Identifier: Apache-2.0

package packaging

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// Every Go module linked into the tools has its licence in the Debian
// copyright file and in NOTICE, and the RPM's License names it: a module
// added to go.mod without them fails here.
func TestLicencesCoverLinkedModules(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", testutil.Root(t)+"/cmd/...").Output()
	if err != nil {
		t.Skipf("go list: %v (no module cache?)", err)
	}
	copyright, _ := os.ReadFile("deb/debian/copyright")
	notice, _ := os.ReadFile(testutil.Path(t, "NOTICE"))
	spec, _ := os.ReadFile("rpm/softmig.spec")
	seen := map[string]bool{}
	for _, mod := range strings.Fields(string(out)) {
		if mod == "github.com/softmig/softmig" || seen[mod] {
			continue
		}
		seen[mod] = true
		if !strings.Contains(string(copyright), "Files: vendor/"+mod+"/*") {
			t.Errorf("packaging/deb/debian/copyright has no \"Files: vendor/%s/*\" stanza", mod)
		}
		if !strings.Contains(string(notice), mod) {
			t.Errorf("NOTICE does not name %s", mod)
		}
	}
	if len(seen) < 4 {
		t.Fatalf("only %d modules found (%v): is go list right?", len(seen), seen)
	}
	for _, lic := range []string{"Apache-2.0", "MIT", "BSD-3-Clause", "OFL-1.1", "FTL", "CC-BY-4.0"} {
		if !strings.Contains(string(spec), lic) || !strings.Contains(string(copyright), "License: "+lic) {
			t.Errorf("the spec's License or the copyright file lacks %s", lic)
		}
	}
}

// Debian's Go (1.19; Ubuntu 22.04's 1.18) cannot build the tools: make
// says so, with the floor and where to get a newer Go, before any
// dependency fails with its own message.
func TestOldGoRefused(t *testing.T) {
	old := "/usr/lib/go-1.19/bin/go"
	if _, err := os.Stat(old); err != nil {
		t.Skipf("%s not installed (.ci/pkg.sh installs golang-1.19-go, Debian 12's Go)", old)
	}
	cmd := exec.Command("make", "-C", "..", "BUILD="+t.TempDir(), "GO="+old, "tools")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	mod, _ := os.ReadFile(testutil.Path(t, "go.mod"))
	floor := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if floor == nil {
		t.Fatalf("go.mod has no go line:\n%s", mod)
	}
	for _, want := range []string{"Go " + string(floor[1]) + " or newer builds the SoftMig tools; " + old + " is go1.19", "bookworm-backports"} {
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("make tools with Go 1.19 = %v; want a refusal with %q:\n%s", err, want, out)
		}
	}
	if strings.Contains(string(out), "requires go") {
		t.Errorf("make tools with Go 1.19 got as far as a dependency:\n%s", out)
	}
}
