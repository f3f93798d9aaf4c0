// SPDX-License-Identifier: Apache-2.0

package preloadcfg

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const lib = "/var/lib/shared/libsoftmig.so"

func TestEntries(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"/a.so\n", []string{"/a.so"}},
		{"/a.so /b.so:/c.so\t/d.so", []string{"/a.so", "/b.so", "/c.so", "/d.so"}},
		{"# /x.so\n/a.so # /y.so\n\n", []string{"/a.so"}},
	}
	for _, tc := range tests {
		if got := Parse([]byte(tc.in)).Entries(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q).Entries() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		in, want string
		changed  bool
	}{
		{"", lib + "\n", true},
		{"/a.so\n", "/a.so\n" + lib + "\n", true},
		{"/a.so", "/a.so\n" + lib + "\n", true},
		{"# keep me\n\n", "# keep me\n\n" + lib + "\n", true},
		{lib + "\n", lib + "\n", false},
		{"/a.so:" + lib + " # both\n", "/a.so:" + lib + " # both\n", false},
		{"# " + lib + "\n", "# " + lib + "\n" + lib + "\n", true},
	}
	for _, tc := range tests {
		f := Parse([]byte(tc.in))
		changed := f.Add(lib)
		if got := string(f.Bytes()); got != tc.want || changed != tc.changed {
			t.Errorf("Parse(%q).Add() = %q, %v; want %q, %v", tc.in, got, changed, tc.want, tc.changed)
		}
	}
}

func TestRemove(t *testing.T) {
	tests := []struct {
		in, want string
		changed  bool
	}{
		{"", "", false},
		{lib + "\n", "", true},
		{"/a.so\n" + lib + "\n/b.so\n", "/a.so\n/b.so\n", true},
		{"/a.so\n" + lib, "/a.so\n", true},
		{"/a.so  " + lib + ":/b.so # c\n", "/a.so /b.so # c\n", true},
		{lib + " # ours\n# other\n", "# other\n", true},
		{"# " + lib + "\n", "# " + lib + "\n", false},
		{"  /a.so\t\n", "  /a.so\t\n", false},
		{lib + "\n" + lib + "\n", "", true},
	}
	for _, tc := range tests {
		f := Parse([]byte(tc.in))
		changed := f.Remove(lib)
		if got := string(f.Bytes()); got != tc.want || changed != tc.changed {
			t.Errorf("Parse(%q).Remove() = %q, %v; want %q, %v", tc.in, got, changed, tc.want, tc.changed)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, in := range []string{"", "\n", "a", "a\n", "a\n\n", "#x\n a : b \n\tc"} {
		if got := string(Parse([]byte(in)).Bytes()); got != in {
			t.Errorf("Parse(%q).Bytes() = %q", in, got)
		}
		f := Parse([]byte(in))
		f.Add(lib)
		f.Remove(lib)
		want := in
		if want != "" && want[len(want)-1] != '\n' {
			want += "\n" // Add completed the last line
		}
		if got := string(f.Bytes()); got != want {
			t.Errorf("Add then Remove on %q = %q, want %q", in, got, want)
		}
	}
}

func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ld.so.preload")
	f, exists, err := Read(p)
	if err != nil || exists || !f.Empty() {
		t.Fatalf("Read(missing) = %v, %v, %v; want empty, false, nil", f, exists, err)
	}
	f.Add(lib)
	if err := Write(p, f, 0o644, nil); err != nil {
		t.Fatal(err)
	}
	f, exists, err = Read(p)
	if err != nil || !exists || !f.Has(lib) {
		t.Fatalf("Read after Write = %q, %v, %v", f.Bytes(), exists, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode())
	}

	link := filepath.Join(dir, "link")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Read(link); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Read(symlink) = %v, want ErrNotRegular", err)
	}
	if err := Write(link, f, 0o644, nil); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Write(symlink) = %v, want ErrNotRegular", err)
	}
}
