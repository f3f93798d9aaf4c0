// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/logrec"
)

// logError appends a "config error" event (docs/contracts.md, section 5)
// to the job's log when the log directory exists, through logrec's encoder:
// one line whatever the reason holds (a site config with several errors
// spans several lines). A new log file is given to the job's user, who
// appends to it later.
func (a *app) logError(paths hostPaths, j *job, reason string) {
	path := logPath(paths, j.id)
	if fi, err := os.Stat(paths.LogDir); err != nil || !fi.IsDir() {
		return
	}
	rec := logrec.Event(a.now(), j.id, os.Getpid(), logrec.NoDev, logrec.MsgConfigError,
		"path", confPath(paths, j.id), "reason", reason)
	line, err := logrec.Format(rec)
	if err != nil {
		fmt.Fprintf(a.stderr, "softmig-conf: cannot log to %s: %v\n", path, err)
		return
	}
	// The job's own file first: a FIFO another user left there would
	// block the prolog in open(2).
	if err := claimLog(path, j.uid, j.gid); err != nil {
		fmt.Fprintf(a.stderr, "softmig-conf: cannot log to %s: %v\n", path, err)
		return
	}
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintf(a.stderr, "softmig-conf: cannot log to %s: %v\n", path, err)
		return
	}
	defer unix.Close(fd)
	// One write(2) of the whole line on an O_APPEND file, as the library.
	if _, err := unix.Write(fd, []byte(line+"\n")); err != nil {
		fmt.Fprintf(a.stderr, "softmig-conf: cannot log to %s: %v\n", path, err)
	}
}

// claimLog makes the job's log its own before any of its processes run. A
// file of that name that another user left in the (world-writable,
// sticky) log directory would keep the job's records out, since the
// library and softmig-guard append only to a file of root or the job's
// user, and softmig-log and softmig-smi would read the squatter's lines as
// the job's. A log that is already the job's (a requeued job) stays.
func claimLog(path string, uid, gid int) error {
	for try := 0; ; try++ {
		var st unix.Stat_t
		err := unix.Lstat(path, &st)
		if err == nil {
			if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink == 1 && (st.Uid == 0 || int(st.Uid) == uid) && st.Mode&0o022 == 0 {
				return nil
			}
			if err := os.Remove(path); err != nil {
				return err
			}
		} else if !errors.Is(err, unix.ENOENT) {
			return &os.PathError{Op: "lstat", Path: path, Err: err}
		}
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
		if errors.Is(err, unix.EEXIST) && try < 2 {
			continue // made again between the check and the create
		}
		if err != nil {
			return &os.PathError{Op: "create", Path: path, Err: err}
		}
		defer unix.Close(fd)
		if uid > 0 {
			if err := unix.Fchown(fd, uid, gid); err != nil {
				return &os.PathError{Op: "chown", Path: path, Err: err}
			}
		}
		return nil
	}
}
