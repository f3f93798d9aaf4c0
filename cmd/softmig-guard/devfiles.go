// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// A process's GPU device files, and whether two processes hold the same
// open file (kcmp(2)): the driver keeps a process's memory for as long as
// any process holds the files it opened, so who shares which open file
// says whose memory a holder keeps.

// errFDBudget: the process has more open files than could be read in time.
var errFDBudget = errors.New("too many open files to read in time")

// devFiles is a process's open GPU device files, and the task kcmp(2)
// names it by: its pid, or a live thread's id when its leader has left (a
// leader that left holds no files; its /proc/<pid>/fd reads empty).
type devFiles struct {
	task int
	fds  []int
}

// deviceFDs lists pid's open files that are GPU device files (glob), all
// of them, whatever their numbers: a process that moves the driver's files
// above the first few thousand must still be seen holding them.
func deviceFDs(procRoot string, pid int, glob string, over func() bool) (devFiles, error) {
	files := devFiles{task: pid}
	dir := liveDir(procRoot, pid)
	if tdir, tid := filepath.Split(dir); filepath.Base(tdir) == "task" {
		files.task, _ = strconv.Atoi(tid)
	}
	d, err := os.Open(filepath.Join(dir, "fd"))
	if err != nil {
		return files, gone(err)
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(4096)
		for _, n := range names {
			target, err := os.Readlink(filepath.Join(dir, "fd", n))
			if err != nil {
				continue
			}
			if ok, _ := filepath.Match(glob, target); ok {
				if fd, err := strconv.Atoi(n); err == nil {
					files.fds = append(files.fds, fd)
				}
			}
		}
		if err == io.EOF || (err == nil && len(names) == 0) {
			return files, nil
		}
		if err != nil {
			return files, gone(err)
		}
		if over() {
			return files, errFDBudget
		}
	}
}

// kcmpFile is KCMP_FILE of linux/kcmp.h.
const kcmpFile = 0

// sameFile says whether fd a of task p and fd b of task q are one open
// file (a fork shares it; so does a file passed over a socket).
func sameFile(p, a, q, b int) bool {
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, uintptr(p), uintptr(q), kcmpFile, uintptr(a), uintptr(b), 0)
	return errno == 0 && r == 0
}

// cpuBudget says, once started on the calling goroutine (which it locks
// to its thread until done is called), when the thread has used budget of
// CPU, or wallFactor times that on the clock: a budget on the guard's work,
// which a user can inflate, not on the time others' processes hold the CPU.
func cpuBudget(budget time.Duration) (over func() bool, done func()) {
	runtime.LockOSThread()
	cpu0, deadline := threadCPU(), time.Now().Add(wallFactor*budget)
	return func() bool { return threadCPU()-cpu0 > budget || time.Now().After(deadline) }, runtime.UnlockOSThread
}
