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

// deviceFDs lists pid's open files that are GPU device files (glob), all
// of them, whatever their numbers: a process that moves the driver's files
// above the first few thousand must still be seen holding them.
func deviceFDs(procRoot string, pid int, glob string, over func() bool) ([]int, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
	d, err := os.Open(dir)
	if err != nil {
		return nil, gone(err)
	}
	defer d.Close()
	var fds []int
	for {
		names, err := d.Readdirnames(4096)
		for _, n := range names {
			target, err := os.Readlink(filepath.Join(dir, n))
			if err != nil {
				continue
			}
			if ok, _ := filepath.Match(glob, target); ok {
				if fd, err := strconv.Atoi(n); err == nil {
					fds = append(fds, fd)
				}
			}
		}
		if err == io.EOF || (err == nil && len(names) == 0) {
			return fds, nil
		}
		if err != nil {
			return fds, gone(err)
		}
		if over() {
			return fds, errFDBudget
		}
	}
}

// kcmpFile is KCMP_FILE of linux/kcmp.h.
const kcmpFile = 0

// sameFile says whether fd a of process p and fd b of process q are one
// open file (a fork shares it; so does a file passed over a socket).
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
