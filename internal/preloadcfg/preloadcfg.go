// SPDX-License-Identifier: Apache-2.0

// Package preloadcfg reads and edits /etc/ld.so.preload: it finds, adds and
// removes one library entry while keeping every other line byte for byte, and
// writes the result atomically (temporary file, fsync, rename).
//
// The syntax is glibc's (elf/rtld.c): `#` starts a comment that runs to the
// end of the line, and entries are separated by spaces, tabs, newlines or
// colons.
package preloadcfg

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/softmig/softmig/internal/fsutil"
)

// DefaultPath is the system-wide preload list read by the dynamic loader.
const DefaultPath = "/etc/ld.so.preload"

// File is the content of a preload list, kept as lines so that an edit
// changes only the line it must.
type File struct {
	lines []string // without their newlines
	// final is true when the content ended with a newline (or was empty).
	final bool
}

// Parse splits the content of a preload list into lines.
func Parse(data []byte) *File {
	s := string(data)
	f := &File{final: s == "" || strings.HasSuffix(s, "\n")}
	if s != "" {
		f.lines = strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	}
	return f
}

// Bytes returns the content, unchanged lines byte for byte as parsed.
func (f *File) Bytes() []byte {
	var b bytes.Buffer
	for i, l := range f.lines {
		b.WriteString(l)
		if i < len(f.lines)-1 || f.final {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// fields splits a line into its entries and its comment (with the `#`).
func fields(line string) (entries []string, comment string) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line, comment = line[:i], line[i:]
	}
	entries = strings.FieldsFunc(line, func(r rune) bool {
		return r == ' ' || r == '\t' || r == ':'
	})
	return entries, comment
}

// Entries returns every library named in the list, in order.
func (f *File) Entries() []string {
	var all []string
	for _, l := range f.lines {
		e, _ := fields(l)
		all = append(all, e...)
	}
	return all
}

// Count returns how many times lib is named in the list.
func (f *File) Count(lib string) int {
	n := 0
	for _, e := range f.Entries() {
		if e == lib {
			n++
		}
	}
	return n
}

// Has reports whether lib is named in the list.
func (f *File) Has(lib string) bool { return f.Count(lib) > 0 }

// Add appends lib on a line of its own unless it is already listed; it
// reports whether the content changed.
func (f *File) Add(lib string) bool {
	if f.Has(lib) {
		return false
	}
	f.lines = append(f.lines, lib)
	f.final = true
	return true
}

// Remove deletes every mention of lib. A line left with no entry is dropped
// with its comment; a line holding other entries keeps them (joined by
// spaces) and its comment. It reports whether the content changed.
func (f *File) Remove(lib string) bool {
	changed := false
	kept := f.lines[:0:0]
	for i, l := range f.lines {
		entries, comment := fields(l)
		var rest []string
		for _, e := range entries {
			if e != lib {
				rest = append(rest, e)
			}
		}
		if len(rest) == len(entries) {
			kept = append(kept, l)
			continue
		}
		changed = true
		if len(rest) == 0 {
			if i == len(f.lines)-1 {
				f.final = true // the line before it ended with a newline
			}
			continue
		}
		nl := strings.Join(rest, " ")
		if comment != "" {
			nl += " " + comment
		}
		kept = append(kept, nl)
	}
	f.lines = kept
	if len(f.lines) == 0 {
		f.final = true
	}
	return changed
}

// Empty reports whether the list holds nothing but blank space.
func (f *File) Empty() bool {
	return strings.TrimSpace(string(f.Bytes())) == ""
}

// ErrNotRegular is returned for a preload list that is a symlink or not a
// regular file: an atomic rename would replace the link, not its target.
var ErrNotRegular = errors.New("not a regular file")

// Read reads the preload list at path. A missing file is an empty list with
// exists false.
func Read(path string) (f *File, exists bool, err error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return Parse(nil), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		return nil, true, fmt.Errorf("%q: %w (%s); make it a plain file owned by root, mode 0644", path, ErrNotRegular, fi.Mode().Type())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, true, err
	}
	return Parse(data), true, nil
}

// Write atomically replaces the preload list at path with f, owned by owner
// (when non-nil) with permission bits perm.
func Write(path string, f *File, perm uint32, owner *fsutil.Owner) error {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%q: %w (%s); make it a plain file owned by root, mode 0644", path, ErrNotRegular, fi.Mode().Type())
	}
	if err := fsutil.WriteFile(path, f.Bytes(), perm, owner); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}
