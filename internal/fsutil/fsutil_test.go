// SPDX-License-Identifier: Apache-2.0

package fsutil

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		old  string // "" = no old file
		data string
		perm uint32
	}{
		{"new file", "", "hello\n", 0o644},
		{"replace", "old content\n", "new\n", 0o600},
		{"sticky dir bits kept", "", "x", 0o1755},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if tc.old != "" {
				if err := os.WriteFile(p, []byte(tc.old), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFile(p, []byte(tc.data), tc.perm, nil); err != nil {
				t.Fatalf("WriteFile(%q) = %v", p, err)
			}
			got, err := os.ReadFile(p)
			if err != nil || string(got) != tc.data {
				t.Fatalf("content = %q, %v; want %q", got, err, tc.data)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			if st.Mode&0o7777 != tc.perm {
				t.Errorf("mode = %#o, want %#o", st.Mode&0o7777, tc.perm)
			}
		})
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".new-") {
			t.Errorf("temporary file %q left behind", e.Name())
		}
	}
}

func TestStageIsInvisibleUntilCommit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "lib.so")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp, err := Stage(p, strings.NewReader("new"), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(tmp) != dir {
		t.Errorf("Stage put %q outside %q", tmp, dir)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("before Commit %q = %q, want old", p, got)
	}
	old, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := Commit(tmp, p); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "new" {
		t.Errorf("after Commit %q = %q, want new", p, got)
	}
	buf := make([]byte, 8)
	n, _ := old.Read(buf)
	if string(buf[:n]) != "old" {
		t.Errorf("a reader that opened before Commit sees %q, want old", buf[:n])
	}
}

func TestSameContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, data string
		want       bool
	}{
		{p, "abc", true},
		{p, "abd", false},
		{p, "ab", false},
		{filepath.Join(dir, "missing"), "", false},
	} {
		got, err := SameContent(tc.path, []byte(tc.data))
		if err != nil || got != tc.want {
			t.Errorf("SameContent(%q, %q) = %v, %v; want %v", tc.path, tc.data, got, err, tc.want)
		}
	}
}
