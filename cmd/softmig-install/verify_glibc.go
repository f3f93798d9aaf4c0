// SPDX-License-Identifier: Apache-2.0

package main

import (
	"debug/elf"
	"errors"
	"path/filepath"

	"github.com/softmig/softmig/internal/elfcheck"
)

// checkGlibc checks that the node's glibc defines every symbol version the
// library and the tools need: a build made on a newer distribution installs
// without complaint and then fails every tool at start (the loader refuses
// it), or, for the library, every process on the node.
func (c *checklist) checkGlibc(l layout) {
	var bins []string
	for _, p := range append([]string{l.lib()}, c.toolPaths(l)...) {
		if isFile(l.host(p)) {
			bins = append(bins, p)
		}
	}
	if len(bins) == 0 {
		return
	}
	libc, err := elfcheck.FindLibc(l.root, l.host(bins[0]))
	if err != nil {
		c.skip("glibc: %v: the programs' glibc needs are not checked", err)
		return
	}
	bad := false
	for _, b := range bins {
		err := elfcheck.CheckLibc(l.host(b), libc)
		var notELF *elf.FormatError
		switch {
		case errors.As(err, &notELF):
			continue // a script: the loader does not check it
		case errors.Is(err, elfcheck.ErrGlibcTooOld):
			bad = true
			c.fail("build SoftMig on a build host of this node's distribution and major version (make rpm or make deb there), and install that build",
				"%s: built for a newer distribution: %v", b, err)
		case err != nil:
			bad = true
			c.fail(c.kind.reinstall(), "%s: %v", b, err)
		}
	}
	if !bad {
		c.ok("%s and the tools need no newer glibc than this node's %s", l.lib(), nodePath(l, libc))
	}
}

// toolPaths are the node paths of the tools installed beside this program.
func (c *checklist) toolPaths(l layout) []string {
	bin := filepath.Join(c.prefix, "bin")
	var out []string
	for _, t := range tools {
		out = append(out, filepath.Join(bin, t))
	}
	return out
}
