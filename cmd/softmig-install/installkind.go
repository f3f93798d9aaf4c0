// SPDX-License-Identifier: Apache-2.0

// installkind.go: how SoftMig came onto this node decides the fix verify
// gives for a missing or damaged file: the package manager's reinstall for
// a package, softmig-install install for an install from the sources.

package main

import (
	"os"
	"os/exec"
	"strings"
)

// installKind is how the library came onto the node.
type installKind struct {
	manager string // "dpkg", "rpm", or "" (softmig-install install, or unknown)
	pkg     string // the package that owns the library
}

// detectInstall asks the package managers below the root which package
// owns the library; none means softmig-install put it there.
func detectInstall(l layout) installKind {
	lib := l.lib()
	if _, err := exec.LookPath("dpkg-query"); err == nil {
		out, err := exec.Command("dpkg-query", "--root="+l.root, "-S", lib).Output()
		if err == nil {
			if name, _, ok := strings.Cut(string(out), ":"); ok && name != "" {
				return installKind{manager: "dpkg", pkg: name}
			}
		}
	}
	if _, err := exec.LookPath("rpm"); err == nil {
		if _, err := os.Stat(l.host("/var/lib/rpm")); err == nil {
			out, err := exec.Command("rpm", "--root", l.root, "-qf", "--qf", "%{NAME}", lib).Output()
			if err == nil && len(out) > 0 {
				return installKind{manager: "rpm", pkg: string(out)}
			}
		}
	}
	return installKind{}
}

// managers are the package managers' commands, before the package name.
var managers = map[string]struct{ reinstall, verify string }{
	"dpkg": {"apt-get install --reinstall ", "dpkg --verify "},
	"rpm":  {"dnf reinstall ", "rpm -V "},
}

// reinstall is the command that puts the installed files back.
func (k installKind) reinstall() string {
	if m, ok := managers[k.manager]; ok {
		return m.reinstall + k.pkg
	}
	return "softmig-install install   (from the build tree: make install)"
}

// verifyCmd is the package manager's check of the installed files.
func (k installKind) verifyCmd() string {
	if m, ok := managers[k.manager]; ok {
		return m.verify + k.pkg
	}
	return "softmig-install verify (the manifest)"
}

// String says how SoftMig was installed, for the checklist.
func (k installKind) String() string {
	if k.manager == "" {
		return "softmig-install install (no package owns the library)"
	}
	return "the " + k.manager + " package " + k.pkg
}
