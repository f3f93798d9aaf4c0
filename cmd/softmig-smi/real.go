// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
)

// findReal finds the driver's nvidia-smi when no setting names it, so that
// softmig-smi can be installed as `nvidia-smi` earlier in PATH (a link in
// /usr/local/bin) without moving the driver's file, which the next driver
// update would put back.  It takes the first nvidia-smi in PATH that is not
// softmig-smi itself, then /usr/bin/nvidia-smi, then nvidia-smi.real (the
// old way: the driver's binary renamed).  Empty when there is none.
func findReal(path, selfExe string) string {
	self, _ := os.Stat(selfExe)
	var candidates []string
	for _, dir := range filepath.SplitList(path) {
		if dir != "" && filepath.IsAbs(dir) {
			candidates = append(candidates, filepath.Join(dir, "nvidia-smi"))
		}
	}
	candidates = append(candidates, "/usr/bin/nvidia-smi", "/usr/bin/nvidia-smi.real")
	for _, c := range candidates {
		fi, err := os.Stat(c)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		if self != nil && os.SameFile(fi, self) {
			continue
		}
		return c
	}
	return ""
}

// isVersion reports whether the real nvidia-smi's arguments ask only for
// the version.
func isVersion(realArgs []string) bool {
	return len(realArgs) == 1 && strings.TrimLeft(realArgs[0], "-") == "version"
}
