// SPDX-License-Identifier: Apache-2.0

package fsutil

import (
	"os"
	"path/filepath"
)

// SamePath reports whether the absolute paths a and b name the same place:
// equal once cleaned, equal once the symbolic links of the part of each
// that exists are resolved (/var/run/softmig is /run/softmig where
// /var/run links to /run, even before softmig exists), or the same inode
// (a bind mount). A relative path is the same only as its own spelling.
func SamePath(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	if a == b {
		return true
	}
	if !filepath.IsAbs(a) || !filepath.IsAbs(b) {
		return false
	}
	if resolve(a) == resolve(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// resolve resolves the symbolic links of the longest prefix of the clean,
// absolute path p that exists, and appends the rest unchanged.
func resolve(p string) string {
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
