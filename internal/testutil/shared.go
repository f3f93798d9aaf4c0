// SPDX-License-Identifier: Apache-2.0

package testutil

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Shared gives copies of the build's files that users other than the
// tester can reach, for tests that run programs as another user (nobody,
// a job's user): the checkout itself may lie where others cannot search
// (a 0700 mktemp -d directory, /root), and the tests must pass there too.
type Shared struct {
	t    testing.TB
	dir  string
	mu   sync.Mutex
	done map[string]bool
}

// NewShared makes an empty directory every user can read and search,
// removed with the test.
func NewShared(t testing.TB) *Shared {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &Shared{t: t, dir: dir, done: map[string]bool{}}
}

// Path copies the build's file or directory rel ("build/libsoftmig.so",
// "build/sim") there, once, and returns the copy's path. A directory's
// files are copied (symbolic links as links), not its subdirectories.
func (s *Shared) Path(rel string) string {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	to := filepath.Join(s.dir, rel)
	for p := filepath.Clean(rel); p != "." && p != "/"; p = filepath.Dir(p) {
		if s.done[p] { // it, or the directory holding it, is there
			return to
		}
	}
	from := Path(s.t, rel)
	st, err := os.Stat(from)
	if err != nil {
		s.t.Fatal(err)
	}
	if !st.IsDir() {
		s.copyFile(from, to)
	} else {
		ents, err := os.ReadDir(from)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, e := range ents {
			switch {
			case e.Type()&os.ModeSymlink != 0:
				target, err := os.Readlink(filepath.Join(from, e.Name()))
				if err == nil {
					err = os.MkdirAll(to, 0o755)
				}
				if err == nil {
					err = os.Symlink(target, filepath.Join(to, e.Name()))
				}
				if err != nil {
					s.t.Fatal(err)
				}
			case e.Type().IsRegular():
				s.copyFile(filepath.Join(from, e.Name()), filepath.Join(to, e.Name()))
			}
		}
	}
	s.done[filepath.Clean(rel)] = true
	return to
}

// copyFile copies from to to with from's permission bits (set-id bits
// aside), making to's directories 0755.
func (s *Shared) copyFile(from, to string) {
	s.t.Helper()
	in, err := os.Open(from)
	if err != nil {
		s.t.Fatal(err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		s.t.Fatal(err)
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		s.t.Fatal(err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(to, st.Mode().Perm())
	}
	if err != nil {
		s.t.Fatal(err)
	}
}
