// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The escape check reads a GPU process's mappings to see whether it runs
// under the library. A user chooses how long their mappings are, so the
// check runs apart from the memory looks, in its own goroutine, with a
// budget per process (bytes read, time) and for itself (a share of one
// core): a process whose mappings cannot be read within the budget counts
// as escaped, never as fine, and no number of mappings slows a memory look.
type scanner struct {
	procRoot string
	lib      libID
	log      *logger
	every    time.Duration // a process judged is read again this often
	maxBytes int64         // per process and reading
	maxTime  time.Duration // per process and reading
	duty     float64       // the scanner's share of one core, at most

	mu    sync.Mutex
	procs map[int]*scanned
	kick  chan struct{}
	libMu sync.Mutex // lib.known grows as upgrades are seen

	reads, bytesRead, overBudget atomic.Uint64
	// changes counts verdicts that changed: a look judges a GPU's escapes
	// again only when one did, or while one of its processes is escaped.
	changes atomic.Uint64
	busy    atomic.Int64 // nanoseconds spent reading
}

type scanned struct {
	start  string
	at     time.Time // last reading; zero: never read
	cause  string    // "" under the library
	wanted time.Time // last asked about
}

func newScanner(procRoot string, lib libID, log *logger, every time.Duration, maxBytes int64) *scanner {
	return &scanner{procRoot: procRoot, lib: lib, log: log, every: every, maxBytes: maxBytes,
		maxTime: 50 * time.Millisecond, duty: 0.025, procs: map[int]*scanned{}, kick: make(chan struct{}, 1)}
}

// verdict says why pid escaped the library, "" when it did not or is not
// judged yet; asking makes the scanner read it (first, if it is new).
func (s *scanner) verdict(pid int, start string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.procs[pid]
	if !ok || p.start != start {
		p = &scanned{start: start}
		s.procs[pid] = p
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	p.wanted = time.Now()
	return p.cause
}

// run reads mappings until ctx ends, new processes first, then the one
// read longest ago, keeping to its duty cycle. Readings come in batches of
// up to batchWork, each followed by the rest its duty asks: one wake-up
// for several processes, where one each made the guard's threads switch
// more than they read.
func (s *scanner) run(ctx context.Context) {
	for {
		var work time.Duration
		for work < batchWork {
			pid, start, ok := s.next(time.Now())
			if !ok {
				break
			}
			work += s.read(pid, start)
		}
		if work == 0 { // nothing due: until a new process or the next due
			select {
			case <-ctx.Done():
				return
			case <-s.kick:
			case <-time.After(s.every / 4):
			}
			continue
		}
		select { // the rest is kept whatever comes: new processes wait
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(float64(work) * (1 - s.duty) / s.duty)):
		}
	}
}

// batchWork is how much reading a batch does before it rests.
const batchWork = time.Millisecond

// read judges pid's mappings and records the verdict; it returns the time
// the reading took.
func (s *scanner) read(pid int, start string) time.Duration {
	t0 := time.Now()
	cause, err := s.judge(pid)
	took := time.Since(t0)
	s.busy.Add(int64(took))
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.procs[pid]; ok && p.start == start {
		switch {
		case errors.Is(err, errGone):
			delete(s.procs, pid)
		case err != nil:
			s.log.errorf("maps", "pid %d: %v", pid, err)
			p.at = time.Now()
		default:
			if p.cause != cause {
				s.changes.Add(1)
			}
			p.at, p.cause = time.Now(), cause
		}
	}
	return took
}

// next picks the process to read: one never read, else the one read
// longest ago if that is at least every ago. Processes nobody asked about
// for a while (gone from the GPU) are dropped.
func (s *scanner) next(now time.Time) (int, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best, bestAt := -1, now
	for pid, p := range s.procs {
		if now.Sub(p.wanted) > 10*time.Second {
			delete(s.procs, pid)
			continue
		}
		if p.at.IsZero() {
			return pid, p.start, true
		}
		if now.Sub(p.at) >= s.every && p.at.Before(bestAt) {
			best, bestAt = pid, p.at
		}
	}
	if best < 0 {
		return 0, "", false
	}
	return best, s.procs[best].start, true
}

// judge reads pid's mappings within the budget.
func (s *scanner) judge(pid int) (string, error) {
	s.libMu.Lock()
	m, n, err := readMaps(s.procRoot, pid, s.lib, s.maxBytes, s.maxTime)
	s.libMu.Unlock()
	s.reads.Add(1)
	s.bytesRead.Add(uint64(n))
	if errors.Is(err, errBudget) {
		s.overBudget.Add(1)
		return fmt.Sprintf("mappings too large to judge (%d bytes read within %s of CPU): counted as an escape", n, s.maxTime), nil
	}
	if err != nil {
		return "", err
	}
	return m.escape(), nil
}

// nameBudget bounds judgeNow: a real escape (a container without the
// binds, a private loader) maps little; what maps more is left to the
// scanner.
const (
	nameBytes = 256 << 10
	nameTime  = 5 * time.Millisecond
)

// judgeNow judges pid at once within the naming budget (a kill names its
// cause) and keeps a verdict for the escape timers; "" when it is under
// the library or cannot be judged that fast.
func (s *scanner) judgeNow(pid int, start string) string {
	s.mu.Lock()
	if p, ok := s.procs[pid]; ok && p.start == start && !p.at.IsZero() {
		s.mu.Unlock()
		return p.cause
	}
	s.mu.Unlock()
	s.libMu.Lock()
	m, _, err := readMaps(s.procRoot, pid, s.lib, nameBytes, nameTime)
	s.libMu.Unlock()
	if err != nil {
		return ""
	}
	cause := m.escape()
	s.mu.Lock()
	if p, ok := s.procs[pid]; ok && p.start == start {
		if p.cause != cause {
			s.changes.Add(1)
		}
		p.at, p.cause = time.Now(), cause
	}
	s.mu.Unlock()
	return cause
}

var errBudget = errors.New("over budget")

// wallFactor bounds a reading of mappings on the clock: so many times its
// CPU budget.
const wallFactor = 20

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// readMaps counts the loads of the preload library, libcuda and libc in
// /proc/<pid>/maps, reading at most maxBytes within maxTime of this
// thread's CPU (errBudget beyond). CPU, not the clock: the budget bounds
// the guard's work, which is what a user can inflate, while the clock also
// counts the time others' processes hold the CPU, and on a node whose cores
// another user keeps busy an honest process with 20 000 mappings took
// longer than 50 ms to read and was killed as an escape. The clock bounds
// it too, at wallFactor times the budget (a read that blocks). A load maps its file at offset 0 once; a second mapping at
// offset 0 of libcuda is a second copy of the driver, and a second libc a
// second link-map namespace (dlmopen(LM_ID_NEWLM) loads its own libc, and
// the preloaded library is not in it). It returns the bytes read.
func readMaps(procRoot string, pid int, lib libID, maxBytes int64, maxTime time.Duration) (mapped, int64, error) {
	dir := filepath.Join(procRoot, fmt.Sprint(pid))
	m, n, err := readMapsAt(dir, lib, maxBytes, maxTime)
	if err == nil && n == 0 {
		// Empty: a process whose leader thread left reads so through it.
		if live := liveDir(procRoot, pid); live != dir {
			return readMapsAt(live, lib, maxBytes, maxTime)
		}
	}
	return m, n, err
}

// readMapsAt is readMaps of the process or thread whose /proc directory is dir.
func readMapsAt(dir string, lib libID, maxBytes int64, maxTime time.Duration) (mapped, int64, error) {
	var m mapped
	f, err := os.Open(filepath.Join(dir, "maps"))
	if err != nil {
		return m, 0, gone(err)
	}
	defer f.Close()
	over, done := cpuBudget(maxTime)
	defer done()
	r := bufio.NewReaderSize(f, 64<<10)
	var n int64
	for lines := 0; ; lines++ {
		line, err := r.ReadSlice('\n')
		n += int64(len(line))
		if n > maxBytes || (lines%512 == 511 && over()) {
			return m, n, errBudget
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than any path: skip the rest of it.
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				n += int64(len(line))
			}
			continue
		}
		if len(line) > 0 {
			m.add(line, lib, dir)
		}
		if err == io.EOF {
			return m, n, nil
		}
		if err != nil {
			return m, n, gone(err)
		}
	}
}

// add counts one line of maps: "address perms offset dev inode pathname".
func (m *mapped) add(line []byte, lib libID, dir string) {
	var f [5][]byte
	rest := line
	for i := range f {
		rest = bytes.TrimLeft(rest, " ")
		j := bytes.IndexByte(rest, ' ')
		if j < 0 {
			return // no pathname: anonymous
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	if len(bytes.Trim(f[2], "0")) != 0 {
		return // not offset 0: not where a load starts
	}
	path := bytes.TrimRight(bytes.TrimLeft(rest, " "), "\n")
	if len(path) == 0 || path[0] != '/' {
		return
	}
	base := path[bytes.LastIndexByte(path, '/')+1:]
	switch {
	case lib.matches(string(f[3]), string(f[4]), string(path), string(base), filepath.Join(dir, "map_files", string(f[0]))):
		m.library++
	case bytes.HasPrefix(base, []byte("libcuda.so")):
		m.libcuda++
		m.cudaPath = string(path)
	case string(base) == "libc.so.6" || (bytes.HasPrefix(base, []byte("libc-")) && bytes.HasSuffix(base, []byte(".so"))):
		m.libc++
	}
}
