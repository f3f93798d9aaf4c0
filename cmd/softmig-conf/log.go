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
	_, statErr := os.Lstat(path)
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
	if err != nil {
		fmt.Fprintf(a.stderr, "softmig-conf: cannot log to %s: %v\n", path, err)
		return
	}
	defer unix.Close(fd)
	if errors.Is(statErr, os.ErrNotExist) && j.uid > 0 {
		unix.Fchown(fd, j.uid, j.gid)
	}
	// One write(2) of the whole line on an O_APPEND file, as the library.
	if _, err := unix.Write(fd, []byte(line+"\n")); err != nil {
		fmt.Fprintf(a.stderr, "softmig-conf: cannot log to %s: %v\n", path, err)
	}
}
