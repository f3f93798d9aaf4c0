// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/logrec"
)

// appendJobLog appends rec to dir/<job>.log the way the library may: never
// through a symlink or a hard link, only to a regular file owned by root or
// by the job's user, in a root-owned directory. A file it creates is given
// to the job's user (uid, gid), who appends to it later.
func appendJobLog(dir, job string, uid, gid int, rec logrec.Record) error {
	var dst unix.Stat_t
	if err := unix.Lstat(dir, &dst); err != nil {
		return &os.PathError{Op: "lstat", Path: dir, Err: err}
	}
	if dst.Mode&unix.S_IFMT != unix.S_IFDIR || dst.Uid != 0 {
		return fmt.Errorf("log directory %q is not a root-owned directory: not logging there", dir)
	}
	path := filepath.Join(dir, job+".log")
	created := false
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ENOENT) {
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
		created = err == nil
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%q is not a regular file: not logging to it", path)
	case st.Nlink != 1:
		return fmt.Errorf("%q has %d links: not logging to it", path, st.Nlink)
	case st.Uid != 0 && int(st.Uid) != uid:
		return fmt.Errorf("%q is owned by uid %d, neither root nor the job's user %d: not logging to it", path, st.Uid, uid)
	}
	if created && uid > 0 {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return &os.PathError{Op: "chown", Path: path, Err: err}
		}
	}
	return logrec.NewEncoder(f).Encode(rec)
}
