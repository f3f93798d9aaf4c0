// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/job"
)

// errGone means the process exited (or its pid was reused) while it was read.
var errGone = errors.New("process gone")

// procFacts is what root reads about a process and its owner cannot change.
type procFacts struct {
	jobs  []string // every job its cgroup lines name; none outside a job
	uid   int      // real uid
	gid   int      // real gid
	root  bool     // real uid 0 (a setuid-root program a user runs is the user's)
	start string   // start time (field 22 of stat): a pid reused is another process
}

// readFacts reads a process's jobs from its cgroup (never from its
// environment, which its owner writes), its uids and its start time.
func readFacts(procRoot string, pid int) (procFacts, error) {
	var f procFacts
	buf := make([]byte, procFileMax) // one buffer for the three, each parsed before the next
	start, dir, err := leader(filepath.Join(procRoot, strconv.Itoa(pid)), buf)
	if err != nil {
		return f, err
	}
	f.start = start
	cg, err := readProcFile(filepath.Join(dir, "cgroup"), buf)
	if err != nil {
		return f, gone(err)
	}
	f.jobs = job.AllFromCgroup(bytes.NewReader(cg))
	status, err := readProcFile(filepath.Join(dir, "status"), buf)
	if err != nil {
		return f, gone(err)
	}
	ruid, _, ok := uids(status)
	if !ok {
		return f, fmt.Errorf("%s/status: no Uid line", dir)
	}
	f.uid, f.root = ruid, ruid == 0
	f.gid, _, _ = ids(status, "Gid:")
	return f, nil
}

// leader reads the stat of the process at dir, its leader thread's, into
// buf: the process's start time, and the directory its own state reads
// through: dir, or, when the leader has left (pthread_exit, SYS_exit) while
// other threads run on, a live thread's task directory (the leader's then
// reads the root cgroup and empty maps, environment and open files).
// errGone: the process has exited, or exits (one thread left); two reads
// for the zombies a kill leaves.
func leader(dir string, buf []byte) (start, live string, err error) {
	stat, err := readProcFile(filepath.Join(dir, "stat"), buf)
	if err != nil {
		return "", "", gone(err)
	}
	start, ok := startTime(stat)
	if !ok {
		return "", "", fmt.Errorf("%s/stat: cannot parse", dir)
	}
	if !exited(stat) {
		return start, dir, nil
	}
	status, err := readProcFile(filepath.Join(dir, "status"), buf)
	if err != nil || threadsOf(status) <= 1 {
		return start, "", errGone
	}
	return start, liveThreadDir(dir), nil
}

// procFileMax holds a process's cgroup, status or stat file whole (a
// cgroup v1 file of a dozen hierarchies is under 2 KiB).
const procFileMax = 8 << 10

// readProcFile reads a small /proc file into buf in one read, as the
// kernel makes it (open, read, close: os.ReadFile also stats it and reads
// again to see the end); one that fills buf is read again whole.
func readProcFile(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	switch {
	case err != nil:
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	case n == len(buf):
		return os.ReadFile(path)
	}
	return buf[:n], nil
}

// in says whether the process's cgroup names job.
func (f procFacts) in(job string) bool {
	for _, j := range f.jobs {
		if j == job {
			return true
		}
	}
	return false
}

func gone(err error) error {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errSearch) {
		return errGone
	}
	return err
}

// uids parses the "Uid:\treal\teffective\tsaved\tfs" line of /proc/<pid>/status.
func uids(status []byte) (ruid, euid int, ok bool) { return ids(status, "Uid:") }

// ids parses the first two numbers of a Uid: or Gid: line.
func ids(status []byte, prefix string) (realID, effectiveID int, ok bool) {
	for rest := status; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		nums, found := bytes.CutPrefix(line, []byte(prefix))
		if !found {
			continue
		}
		f := bytes.Fields(nums)
		if len(f) < 2 {
			return 0, 0, false
		}
		r, err1 := strconv.Atoi(string(f[0]))
		e, err2 := strconv.Atoi(string(f[1]))
		return r, e, err1 == nil && err2 == nil
	}
	return 0, 0, false
}

// startTime returns field 22 of /proc/<pid>/stat; the command name (field
// 2) may hold spaces and parentheses, so fields are counted after the last ')'.
func startTime(stat []byte) (string, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return "", false
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return "", false
	}
	return f[19], true
}

// running says whether pid is still the process that started at start and
// has not exited (a zombie has).
func running(procRoot string, pid int, start string) bool {
	st := procState(procRoot, pid, start)
	return st != 0 && st != 'Z' && st != 'X'
}

// parentOf is pid's parent (PPid of its status), 0 when unknown.
func parentOf(procRoot string, pid int) int {
	status, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "PPid:"); ok {
			ppid, _ := strconv.Atoi(strings.TrimSpace(rest))
			return ppid
		}
	}
	return 0
}

// procState is the state letter of pid (R, S, D, T, Z...) if it is still
// the process that started at start, else 0.
func procState(procRoot string, pid int, start string) byte {
	stat, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	if st, ok := startTime(stat); !ok || st != start {
		return 0
	}
	return stateOf(stat)
}

// exited says whether stat is of a process that has exited: a zombie, or
// one inside exit(2) (PF_EXITING in its flags, field 9), whose address
// space goes first, so that its environment and mappings read empty or
// fail, and whose files close next. stat is the leader thread's: a leader
// that left by pthread_exit or SYS_exit reads the same while the process's
// other threads run on, its memory and the driver's files theirs. Only a
// process of one thread (threadsOf) that reads so has exited. Kernel
// threads, without an address space but not exiting, have not.
func exited(stat []byte) bool {
	if st := stateOf(stat); st == 'Z' || st == 'X' {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 7 {
		return false
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&pfExiting != 0
}

// pfExiting is PF_EXITING of linux/sched.h: set as a task enters do_exit.
const pfExiting = 0x4

// liveDir is the /proc directory through which pid's own state reads: its
// /proc/<pid>, or, when its leader thread has left (pthread_exit, SYS_exit)
// while other threads run on, a live thread's /proc/<pid>/task/<tid>. The
// leader's then reads as an exited process's: the root cgroup, empty maps,
// environment and open files. Taken at its word, such a process's memory
// went to no job and a process under the library was an escape.
func liveDir(procRoot string, pid int) string {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	if _, live, err := leader(dir, make([]byte, procFileMax)); err == nil {
		return live
	}
	return dir
}

// liveThreadDir is the task directory of a live thread of the process at
// dir, whose leader has left, or dir when it has none.
func liveThreadDir(dir string) string {
	tasks, _ := os.ReadDir(filepath.Join(dir, "task"))
	for _, t := range tasks {
		tdir := filepath.Join(dir, "task", t.Name())
		if st, err := os.ReadFile(filepath.Join(tdir, "stat")); err == nil && !exited(st) {
			return tdir
		}
	}
	return dir
}

// gonePid says whether pid is no longer the live process that started at
// start: read again after something of it failed or read empty, it tells
// a process that is exiting from one that said nothing.
func gonePid(procRoot string, pid int, start string) bool {
	st, _, err := leader(filepath.Join(procRoot, strconv.Itoa(pid)), make([]byte, procFileMax))
	return err != nil || st != start
}

// threadsOf is the Threads: count of /proc/<pid>/status, 0 when absent.
func threadsOf(status []byte) int {
	i := bytes.Index(status, []byte("\nThreads:"))
	if i < 0 {
		return 0
	}
	f := bytes.Fields(status[i+len("\nThreads:"):])
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(string(f[0]))
	return n
}

// stateOf returns field 3 of /proc/<pid>/stat (R, S, Z...), 0 when unparsable.
func stateOf(stat []byte) byte {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

// mapped is what a process's mappings say about the driver it uses.
type mapped struct {
	library  int // loads of the preload library (mappings at offset 0)
	libcuda  int // loads of libcuda (mappings at offset 0 of any libcuda.so*)
	libc     int // loads of libc: more than one is a second link-map namespace
	cudaPath string
}

// libID identifies the preload library's file: its path, and its device
// and inode as /proc/<pid>/maps shows them (a bind mount into a container
// keeps both). Without a known path, only its file name.
type libID struct {
	path  string
	dev   string // "fd:01"
	inode string
	name  string
	known map[string]bool // "dev inode" of the library's files seen (upgrades)
}

// matches accepts the library's file: its device and inode, or those of
// the file now at its path (an upgrade replaced it while the guard ran).
// The path alone proves nothing: in a mount namespace of their own, a user
// binds any file over it. A deleted file at the path (a process started
// before an upgrade) counts when, read through mapFile, it is root's and
// only root may write it.
func (l libID) matches(dev, inode, path, base, mapFile string) bool {
	if l.path == "" {
		return base == l.name
	}
	id := dev + " " + inode
	if l.known[id] {
		return true
	}
	switch path {
	case l.path:
		var st unix.Stat_t
		if unix.Stat(l.path, &st) == nil && fileID(st) == id {
			l.known[id] = true
			return true
		}
	case l.path + " (deleted)":
		var st unix.Stat_t
		if dev == l.dev && unix.Stat(mapFile, &st) == nil && fileID(st) == id && st.Uid == 0 && st.Mode&0o022 == 0 {
			l.known[id] = true
			return true
		}
	}
	return false
}

// fileID is a file's device and inode as /proc/<pid>/maps shows them.
func fileID(st unix.Stat_t) string {
	return fmt.Sprintf("%02x:%02x %d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
}

// escape says why a process that uses a GPU does so without the library,
// or "" when it runs under it.
func (m mapped) escape() string {
	switch {
	case m.library == 0 && m.libcuda == 0:
		return "GPU used without libsoftmig.so and without the system's libcuda: a private driver copy or a static binary"
	case m.library == 0:
		return "GPU used without libsoftmig.so: a container without SoftMig's binds (/etc/ld.so.preload, the library, the run dir), or a private loader"
	case m.libcuda > 1:
		return "a second copy of libcuda beside libsoftmig.so: dlmopen or a private loader namespace"
	case m.libc > 1:
		return "a second link-map namespace (dlmopen) beside libsoftmig.so: code libsoftmig.so cannot see"
	}
	return ""
}
