// SPDX-License-Identifier: Apache-2.0

// Package fsutil writes files the way a node's system files must be written:
// to a temporary file in the same directory, owned and moded before it is
// visible, synced, then renamed over the old name, so that a reader sees the
// old content or the new, never a partial file.
package fsutil

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// Owner is a numeric owner and group for a file.
type Owner struct {
	UID, GID int
}

// Stage writes r to a new temporary file named .<base>.new-<random> beside
// path, sets owner (when non-nil) and the permission bits perm (07777, umask
// ignored), syncs it and returns its name. The file is not yet visible under
// path: Commit renames it there, os.Remove discards it.
func Stage(path string, r io.Reader, perm uint32, owner *Owner) (tmp string, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return "", fmt.Errorf("stage %q: %w", path, err)
	}
	tmp = filepath.Join(dir, "."+base+".new-"+hex.EncodeToString(suffix[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", fmt.Errorf("stage %q: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, r); err != nil {
		return "", fmt.Errorf("write %q: %w", tmp, err)
	}
	if err = SetOwnerMode(f, owner, perm); err != nil {
		return "", err
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("sync %q: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("close %q: %w", tmp, err)
	}
	return tmp, nil
}

// SetOwnerMode sets the owner (when non-nil) and then the permission bits
// (07777) of an open file. The order matters: chown clears set-id bits.
func SetOwnerMode(f *os.File, owner *Owner, perm uint32) error {
	if owner != nil {
		if err := f.Chown(owner.UID, owner.GID); err != nil {
			return fmt.Errorf("chown %q: %w", f.Name(), err)
		}
	}
	if err := syscall.Fchmod(int(f.Fd()), perm&0o7777); err != nil {
		return &os.PathError{Op: "chmod", Path: f.Name(), Err: err}
	}
	return nil
}

// Commit renames a staged file over path and syncs the directory, so the
// rename survives a crash. Readers that opened path before keep the old file.
func Commit(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %q to %q: %w", tmp, path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// WriteFile atomically replaces path with data (Stage then Commit).
func WriteFile(path string, data []byte, perm uint32, owner *Owner) error {
	tmp, err := Stage(path, bytes.NewReader(data), perm, owner)
	if err != nil {
		return err
	}
	return Commit(tmp, path)
}

// SyncDir fsyncs a directory, making renames and unlinks in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}

// SameContent reports whether the regular file at path holds exactly data.
// A missing file is not an error: it reports false.
func SameContent(path string, data []byte) (bool, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != int64(len(data)) {
		return false, nil
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return string(old) == string(data), nil
}
