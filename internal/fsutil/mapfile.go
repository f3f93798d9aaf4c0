// SPDX-License-Identifier: Apache-2.0

package fsutil

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// MapOwnFile opens or creates path (mode 0644, never through a symlink),
// which must be a regular file of this process's uid with one link, makes
// it size bytes (resized says it was another size: start its contents
// over) and maps it read-write, shared: the root daemon's side of a file
// other processes read (the time and used files).
func MapOwnFile(path string, size int) (mem []byte, resized bool, err error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, false, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, false, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() || st.Nlink != 1 {
		return nil, false, fmt.Errorf("%s: not a regular file of uid %d with one link: remove it", path, os.Geteuid())
	}
	if err := unix.Fchmod(fd, 0o644); err != nil {
		return nil, false, &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	if resized = st.Size != int64(size); resized {
		// Another size is another format: start it over.
		if err := unix.Ftruncate(fd, 0); err != nil {
			return nil, false, &os.PathError{Op: "truncate", Path: path, Err: err}
		}
		if err := unix.Ftruncate(fd, int64(size)); err != nil {
			return nil, false, &os.PathError{Op: "truncate", Path: path, Err: err}
		}
	}
	mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, false, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	return mem, resized, nil
}

// OpenRootFile opens path for reading (never through a symlink) if it is a
// regular file owned by root and writable only by it, as the library
// requires of the files it trusts; size, when not 0, must be its size.
func OpenRootFile(path string, size int64) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || !st.Mode().IsRegular() || sys.Uid != 0 || st.Mode().Perm()&0o022 != 0 || (size != 0 && st.Size() != size) {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file owned by root and writable only by it", path)
	}
	return f, nil
}
