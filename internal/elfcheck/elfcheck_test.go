// SPDX-License-Identifier: Apache-2.0

package elfcheck

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/softmig/softmig/internal/testlibs"
)

func TestCheck(t *testing.T) {
	testlibs.NeedCC(t)
	dir := t.TempDir()
	good := testlibs.Lib(t, dir, "good.so", testlibs.Good("1.0"))
	host, err := HostArch()
	if err != nil {
		t.Skip(err)
	}

	otherArch := filepath.Join(dir, "other-arch.so")
	b, _ := os.ReadFile(good)
	m := elf.EM_AARCH64
	if host.Machine == elf.EM_AARCH64 {
		m = elf.EM_X86_64
	}
	binary.LittleEndian.PutUint16(b[0x12:], uint16(m))
	if err := os.WriteFile(otherArch, b, 0o644); err != nil {
		t.Fatal(err)
	}

	text := filepath.Join(dir, "text.so")
	if err := os.WriteFile(text, []byte("#!/bin/sh\necho not a library\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		path string
		want error
	}{
		{"good", good, nil},
		{"crashing constructor is a well-formed file", testlibs.Lib(t, dir, "crash.so", testlibs.Crashing), nil},
		{"truncated", testlibs.Truncated(t, good, dir, "trunc.so"), ErrTruncated},
		{"no symbol", testlibs.Lib(t, dir, "nosym.so", testlibs.NoVersion), ErrMissingSym},
		{"hidden symbol", testlibs.Lib(t, dir, "hidden.so", testlibs.Hidden), ErrMissingSym},
		{"executable", testlibs.Program(t, dir, "prog", testlibs.Starter), ErrNotShared},
		{"other architecture", otherArch, ErrWrongArch},
		{"text", text, ErrNotELF},
		{"directory", dir, ErrNotShared},
		{"empty", writeFile(t, dir, "empty.so", ""), ErrNotELF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.path, "softmig_version")
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Check(%q) = %v, want %v", tc.path, err, tc.want)
			}
		})
	}
	if err := Check(filepath.Join(dir, "missing.so"), "softmig_version"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Check(missing) = %v, want ErrNotExist", err)
	}
}

func writeFile(t *testing.T, dir, name, s string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
