// SPDX-License-Identifier: Apache-2.0

package jobconf

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Load opens a job config without following a symlink, checks that it is
// safe and parses it. The rules are contract 2's, the same in the library
// (preload/config.c, pinned by testdata/jobconf): the directory is a
// directory (not a symlink), owned by root and not writable by group or
// others; the file is a regular file (not a symlink), owned by root and not
// writable by group or others. A missing directory or file gives an error
// for which errors.Is(err, fs.ErrNotExist) holds (no config).
func Load(path string) (*Config, error) {
	return load(path, 0)
}

func load(path string, owner uint32) (*Config, error) {
	var dst unix.Stat_t
	dir := filepath.Dir(path)
	if err := unix.Lstat(dir, &dst); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: dir, Err: err}
	}
	switch {
	case dst.Mode&unix.S_IFMT != unix.S_IFDIR:
		return nil, fmt.Errorf("%w: %s: not a directory (a symbolic link?)", ErrUnsafe, dir)
	case dst.Uid != owner || dst.Mode&0o022 != 0:
		return nil, fmt.Errorf("%w: %s: directory must be owned by root and writable only by root (mode 0755; it is owned by uid %d, mode %04o)",
			ErrUnsafe, dir, dst.Uid, dst.Mode&0o7777)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("%w: %s: is a symbolic link", ErrUnsafe, path)
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return nil, fmt.Errorf("%w: %s: not a regular file", ErrUnsafe, path)
	case st.Uid != owner || st.Mode&0o022 != 0:
		return nil, fmt.Errorf("%w: %s: must be owned by root and writable only by root (mode 0644; it is owned by uid %d, mode %04o)",
			ErrUnsafe, path, st.Uid, st.Mode&0o7777)
	}
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	return c, nil
}

// Write writes c to path atomically; see WriteFile.
func Write(path string, c *Config) error {
	return WriteFile(path, c.Marshal())
}

// WriteFile replaces path atomically with data: a new temporary file in
// the same directory (created exclusively, never through a symlink), mode
// 0644, owned by root:root when the caller is root, synced and renamed over
// path. A symlink at path is replaced, never followed. The directory must
// exist and must not be a symlink.
func WriteFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%q is not a directory (a symlink?): refusing to write %q", dir, path)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+filepath.Base(path)+"."+hex.EncodeToString(rnd[:]))
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return &os.PathError{Op: "create", Path: tmp, Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = unix.Fchmod(fd, 0o644); err != nil {
		return &os.PathError{Op: "chmod", Path: tmp, Err: err}
	}
	if os.Geteuid() == 0 {
		if err = unix.Fchown(fd, 0, 0); err != nil {
			return &os.PathError{Op: "chown", Path: tmp, Err: err}
		}
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Remove deletes path (a symlink itself, never its target); a missing
// file is not an error.
func Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
