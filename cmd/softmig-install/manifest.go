// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/softmig/softmig/internal/fsutil"
)

// The manifest records, in order, what install created and what it changed,
// so that uninstall can undo exactly that. One entry a line, fields
// separated by tabs:
//
//	mkdir   PATH MODE UID GID          directory created
//	file    PATH MODE UID GID          file created
//	conf    PATH MODE UID GID SHA256   site config created (kept if edited since)
//	chmod   PATH MODE UID GID          existing path whose mode/owner install changed: the old values
//	preload PATH LIBRARY created|existed  LIBRARY line added to the preload list PATH
//	link    PATH TARGET                symbolic link created
type entry struct {
	op       string
	path     string
	mode     uint32
	uid, gid int
	sum      string // conf: sha256 of the installed content; preload: the library; link: the target
	created  bool   // preload: the list did not exist before
}

type manifest struct {
	entries []entry
	dirty   bool
}

const manifestHeader = "# softmig-install manifest: what install created and changed; uninstall undoes it in reverse.\n"

func (m *manifest) find(op, path string) *entry {
	for i := range m.entries {
		if m.entries[i].op == op && m.entries[i].path == path {
			return &m.entries[i]
		}
	}
	return nil
}

// owns reports whether install created path or already recorded its old mode.
func (m *manifest) owns(path string) bool {
	for _, e := range m.entries {
		if e.path == path && e.op != "preload" {
			return true
		}
	}
	return false
}

func (m *manifest) add(e entry) {
	m.entries = append(m.entries, e)
	m.dirty = true
}

func (m *manifest) bytes() []byte {
	var b bytes.Buffer
	b.WriteString(manifestHeader)
	for _, e := range m.entries {
		switch e.op {
		case "preload":
			state := "existed"
			if e.created {
				state = "created"
			}
			fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", e.op, e.path, e.sum, state)
		case "conf":
			fmt.Fprintf(&b, "%s\t%s\t%04o\t%d\t%d\t%s\n", e.op, e.path, e.mode, e.uid, e.gid, e.sum)
		case "link":
			fmt.Fprintf(&b, "%s\t%s\t%s\n", e.op, e.path, e.sum)
		default:
			fmt.Fprintf(&b, "%s\t%s\t%04o\t%d\t%d\n", e.op, e.path, e.mode, e.uid, e.gid)
		}
	}
	return b.Bytes()
}

func parseManifest(r io.Reader) (*manifest, error) {
	m := &manifest{}
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseEntry(strings.Split(line, "\t"))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		m.entries = append(m.entries, e)
	}
	return m, s.Err()
}

func parseEntry(f []string) (entry, error) {
	want := map[string]int{"mkdir": 5, "file": 5, "chmod": 5, "conf": 6, "preload": 4, "link": 3}
	if len(f) == 0 || want[f[0]] == 0 {
		return entry{}, fmt.Errorf("unknown entry %q", f[0])
	}
	if len(f) != want[f[0]] {
		return entry{}, fmt.Errorf("%s entry has %d fields, want %d", f[0], len(f), want[f[0]])
	}
	e := entry{op: f[0], path: f[1]}
	if !strings.HasPrefix(e.path, "/") {
		return entry{}, fmt.Errorf("path %q is not absolute", e.path)
	}
	if e.op == "link" {
		e.sum = f[2]
		return e, nil
	}
	if e.op == "preload" {
		if f[3] != "created" && f[3] != "existed" {
			return entry{}, fmt.Errorf("preload state %q, want created or existed", f[3])
		}
		e.sum, e.created = f[2], f[3] == "created"
		return e, nil
	}
	mode, err1 := strconv.ParseUint(f[2], 8, 32)
	uid, err2 := strconv.Atoi(f[3])
	gid, err3 := strconv.Atoi(f[4])
	if err := errors.Join(err1, err2, err3); err != nil || mode > 0o7777 {
		return entry{}, fmt.Errorf("bad mode or owner in %q: %w", strings.Join(f, " "), err)
	}
	e.mode, e.uid, e.gid = uint32(mode), uid, gid
	if e.op == "conf" {
		e.sum = f[5]
	}
	return e, nil
}

// readManifest reads the manifest at path; a missing one is empty, exists false.
func readManifest(path string) (m *manifest, exists bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return &manifest{}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	m, err = parseManifest(f)
	if err != nil {
		return nil, true, fmt.Errorf("manifest %q: %w", path, err)
	}
	return m, true, nil
}

// save writes the manifest atomically when it changed.
func (m *manifest) save(path string, owner *fsutil.Owner) error {
	if !m.dirty {
		return nil
	}
	if err := fsutil.WriteFile(path, m.bytes(), 0o644, owner); err != nil {
		return fmt.Errorf("save manifest: %w", err)
	}
	m.dirty = false
	return nil
}
