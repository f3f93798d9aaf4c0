// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/preloadcfg"
)

const libName = "libsoftmig.so"

// findLibrary identifies the preload library: path, or the libsoftmig.so
// entry of /etc/ld.so.preload. Without either, mappings are judged by file
// name alone (warned about once at start).
func findLibrary(path string) (libID, string) {
	if path == "" {
		f, _, err := preloadcfg.Read(preloadcfg.DefaultPath)
		if err == nil {
			for _, e := range f.Entries() {
				if filepath.Base(e) == libName {
					path = e
				}
			}
		}
	}
	if path == "" {
		return libID{name: libName}, fmt.Sprintf("no %s in %s: processes are judged by the file name of what they map; pass --library", libName, preloadcfg.DefaultPath)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return libID{path: path, name: libName, known: map[string]bool{}}, fmt.Sprintf("library %s: %v: processes are judged by the file at that path once it exists", path, err)
	}
	l := libID{
		path:  path,
		dev:   fmt.Sprintf("%02x:%02x", unix.Major(st.Dev), unix.Minor(st.Dev)),
		inode: strconv.FormatUint(st.Ino, 10),
		name:  libName,
		known: map[string]bool{},
	}
	l.known[fileID(st)] = true
	return l, ""
}
