// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// procStart is field 22 of /proc/<pid>/stat, as the region keeps it.
func procStart(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	v, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatalf("start time in %q: %v", s, err)
	}
	return v
}

// A user who gives this process's entry to a live pid, with every other
// entry taken by live pids too, leaves it without an entry: its next
// allocation is refused, and nothing is written outside the entries (the
// process once counted into the entry before the first, which lies in the
// device entries).
func TestNoEntryLeftRefusesAndWritesNothingElse(t *testing.T) {
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	gate := filepath.Join(r.dir, "go")
	c := r.startReady(nil, "cuclient", "init", "dev:0", "alloc:256m", "ready", "gate:"+gate, "alloc:256m")
	// Every process entry names init (alive, with its own start time).
	path := r.regionPath(job)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := procStart(t, 1)
	for i := 0; i < 1024; i++ {
		p := b[regionProcs+i*procSize:]
		for j := range p[:procSize] {
			p[j] = 0
		}
		binary.LittleEndian.PutUint32(p, 1)
		binary.LittleEndian.PutUint64(p[8:], start)
	}
	binary.LittleEndian.PutUint32(b[regionNprocs:], 1024)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Exit status 1: a command failed (the refused allocation); no signal.
	lines, err := c.finish()
	if c.cmd.ProcessState == nil || c.cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("client without an entry: %v %q", err, lines)
	}
	if res := results(lines); len(res) != 5 || res[4] != "alloc rc=2" {
		t.Fatalf("client without an entry: want its allocation refused, got %q", res)
	}
	v := readRegion(t, path)
	for i := regionDevs + devSize; i < regionProcs; i++ {
		if v.b[i] != 0 {
			t.Fatalf("byte %d of the device entries (entry %d) is %#x: written outside the process entries",
				i, (i-regionDevs)/devSize, v.b[i])
		}
	}
}
