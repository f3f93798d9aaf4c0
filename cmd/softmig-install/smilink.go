// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// smiLink makes softmig-smi the nvidia-smi of every PATH with /usr/local/bin
// before /usr/bin (login shells, Slurm jobs), without touching the driver's
// /usr/bin/nvidia-smi: driver updates leave it alone, and softmig-smi finds
// the driver's one itself.
const smiLink = "/usr/local/bin/nvidia-smi"

// linkSmi links smiLink to smi (a node path) unless something else is
// there already, which it leaves alone and reports.
func (in *installer) linkSmi(smi string) error {
	p := in.l.host(smiLink)
	if target, err := os.Readlink(p); err == nil && target == smi {
		return nil
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		in.e.say("note: kept %s (not softmig's): nvidia-smi in PATH stays as it is; see softmig-smi(1)", smiLink)
		return nil
	}
	if err := in.ensureDir(dirSpec{path: filepath.Dir(smiLink), mode: 0o755}); err != nil {
		return err
	}
	if err := os.Symlink(smi, p); err != nil {
		return fmt.Errorf("link %s to %s: %w", smiLink, smi, err)
	}
	if in.m.find("link", smiLink) == nil {
		in.m.add(entry{op: "link", path: smiLink, sum: smi})
	}
	in.note("linked %s to %s", smiLink, smi)
	return nil
}

// unlinkSmi removes smiLink when it is the link install made.
func unlinkSmi(l layout, smi string) (bool, error) {
	p := l.host(smiLink)
	if target, err := os.Readlink(p); err != nil || target != smi {
		return false, nil
	}
	if err := os.Remove(p); err != nil {
		return false, err
	}
	return true, nil
}

// besideSelf is the node path of softmig-smi next to this program, when
// this program lives below the root and softmig-smi is there.
func (e *env) besideSelf(l layout) string {
	self, err := filepath.Abs(e.self[0])
	if err != nil {
		return ""
	}
	dir := filepath.Dir(self)
	if !l.live() {
		rel, err := filepath.Rel(l.root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			return ""
		}
		dir = "/" + rel
	}
	smi := filepath.Join(dir, "softmig-smi")
	if !isFile(l.host(smi)) {
		return ""
	}
	return smi
}
