// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/logrec"
	"github.com/softmig/softmig/internal/testutil"
	"github.com/softmig/softmig/internal/timefile"
)

func conf(t *testing.T, text string) jobSlices {
	t.Helper()
	c, err := jobconf.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return jobSlices{conf: c}
}

func TestSliceOnGPU(t *testing.T) {
	const g = 1 << 30
	tests := []struct {
		name  string
		conf  string
		index int
		want  slice
	}{
		{"global limit, mapped", "CUDA_DEVICE_MEMORY_LIMIT=12g\nSOFTMIG_GPU_0=3\n", 3, slice{12 * g, true, true}},
		{"per ordinal, by SOFTMIG_GPU (reordered devices)",
			"CUDA_DEVICE_MEMORY_LIMIT_0=10g\nCUDA_DEVICE_MEMORY_LIMIT_1=20g\nSOFTMIG_GPU_0=5\nSOFTMIG_GPU_1=2\n", 2, slice{20 * g, true, true}},
		{"per ordinal, other GPU", "CUDA_DEVICE_MEMORY_LIMIT_0=10g\nCUDA_DEVICE_MEMORY_LIMIT_1=20g\nSOFTMIG_GPU_0=5\nSOFTMIG_GPU_1=2\n", 5, slice{10 * g, true, true}},
		{"unmapped GPU: the largest limit", "CUDA_DEVICE_MEMORY_LIMIT_0=10g\nCUDA_DEVICE_MEMORY_LIMIT_1=20g\nSOFTMIG_GPU_0=5\n", 7, slice{20 * g, true, true}},
		{"no SOFTMIG_GPU keys", "CUDA_DEVICE_MEMORY_LIMIT=8g\n", 0, slice{8 * g, true, true}},
		{"whole GPU", "# nothing\n", 0, slice{}},
		{"SM share only", "CUDA_DEVICE_SM_LIMIT=25\nSOFTMIG_GPU_0=0\n", 0, slice{0, false, true}},
		{"SM 100 is no limit", "CUDA_DEVICE_SM_LIMIT=100\nSOFTMIG_GPU_0=0\n", 0, slice{}},
		{"time slot", "SOFTMIG_SM_SLOT=0-50\n", 0, slice{0, false, true}},
		{"disabled: no GPU at all", "SOFTMIG_DISABLED=prolog failed\n", 0, slice{0, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := conf(t, tt.conf).onGPU(tt.index); got != tt.want {
				t.Errorf("onGPU(%d) = %+v; want %+v", tt.index, got, tt.want)
			}
		})
	}
	if got := (jobSlices{}).onGPU(0); got != (slice{}) {
		t.Errorf("no config: onGPU = %+v; want no slice", got)
	}
}

func TestMapsEscape(t *testing.T) {
	lib := libID{path: "/usr/lib/softmig/libsoftmig.so", dev: "fe:00", inode: "42", name: libName, known: map[string]bool{"fe:00 42": true}}
	const (
		prog    = "55c328f3f000-55c328f40000 r--p 00000000 fe:00 5317188 /home/u/prog\n"
		softmig = "7f47f6169000-7f47f616d000 r--p 00000000 fe:00 42 /usr/lib/softmig/libsoftmig.so\n" +
			"7f47f616d000-7f47f6170000 r-xp 00004000 fe:00 42 /usr/lib/softmig/libsoftmig.so\n"
		cuda = "7f47f5f61000-7f47f5f65000 r--p 00000000 fe:00 77 /usr/lib/x86_64-linux-gnu/libcuda.so.580.1\n" +
			"7f47f5f65000-7f47f5f70000 r-xp 00004000 fe:00 77 /usr/lib/x86_64-linux-gnu/libcuda.so.580.1\n"
		libc = "7f47f5d7f000-7f47f5da5000 r--p 00000000 fe:00 326269 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	)
	tests := []struct {
		name, maps string
		escape     bool
	}{
		{"library and one driver", prog + softmig + cuda + libc, false},
		{"library in a container (same file, bound)", prog + strings.ReplaceAll(softmig, "/usr/lib/softmig", "/.c/usr/lib/softmig") + cuda + libc, false},
		{"library replaced by an upgrade", prog + strings.ReplaceAll(softmig, "libsoftmig.so\n", "libsoftmig.so (deleted)\n") + cuda + libc, false},
		{"no library", prog + cuda + libc, true},
		{"another file at the library's path (bound over it in a mount namespace)", prog + strings.ReplaceAll(softmig, " 42 ", " 43 ") + cuda + libc, true},
		{"another deleted file at the library's path", prog + strings.ReplaceAll(strings.ReplaceAll(softmig, " 42 ", " 43 "), "libsoftmig.so\n", "libsoftmig.so (deleted)\n") + cuda + libc, true},
		{"a look-alike library", prog + strings.ReplaceAll(strings.ReplaceAll(softmig, " 42 ", " 43 "), "/usr/lib/softmig", "/home/u") + cuda + libc, true},
		{"two libcudas", prog + softmig + cuda + cuda + libc, true},
		{"second namespace (dlmopen)", prog + softmig + cuda + libc + libc, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			testutil.Must(t, os.MkdirAll(filepath.Join(dir, "7"), 0o755))
			testutil.Must(t, os.WriteFile(filepath.Join(dir, "7", "maps"), []byte(tt.maps), 0o644))
			m, _, err := readMaps(dir, 7, lib, 1<<20, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.escape() != ""; got != tt.escape {
				t.Errorf("escape() = %q (%+v); want escape %v", m.escape(), m, tt.escape)
			}
		})
	}
	if _, _, err := readMaps(t.TempDir(), 8, lib, 1<<20, time.Second); !errors.Is(err, errGone) {
		t.Errorf("readMaps of a missing process = %v; want errGone", err)
	}
	// Mappings longer than the budget cannot be judged: errBudget, which
	// the scanner counts as an escape, however harmless the lines.
	dir := t.TempDir()
	testutil.Must(t, os.MkdirAll(filepath.Join(dir, "9"), 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "9", "maps"), []byte(prog+softmig+cuda+libc+strings.Repeat(prog, 2000)), 0o644))
	if _, n, err := readMaps(dir, 9, lib, 64<<10, time.Second); !errors.Is(err, errBudget) || n <= 64<<10 {
		t.Errorf("readMaps over a 64 KiB budget = %d bytes, %v; want errBudget after 64 KiB", n, err)
	}
	s := newScanner(dir, lib, newLogger(io.Discard), time.Second, 64<<10)
	if c, err := s.judge(9); err != nil || !strings.Contains(c, "too large to judge") {
		t.Errorf("judge of mappings over budget = %q, %v; want an escape", c, err)
	}
}

func TestProcFacts(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "9")
	testutil.Must(t, os.MkdirAll(p, 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(p, "cgroup"), []byte("0::/system.slice/slurmstepd.scope/job_77/step_0/user/task_0\n"), 0o644))
	testutil.Must(t, os.WriteFile(filepath.Join(p, "status"), []byte("Name:\tx\nUid:\t1000\t0\t1000\t1000\nGid:\t100\t100\t100\t100\n"), 0o644))
	testutil.Must(t, os.WriteFile(filepath.Join(p, "stat"), []byte("9 (a) b) (c) S 1 9 9 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10\n"), 0o644))
	f, err := readFacts(dir, 9)
	if err != nil {
		t.Fatal(err)
	}
	want := procFacts{jobs: []string{"77"}, uid: 1000, gid: 100, root: false, start: "123456"}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("readFacts = %+v; want %+v (effective uid 0 alone, a setuid-root program, is not root)", f, want)
	}
	if _, err := readFacts(dir, 10); !errors.Is(err, errGone) {
		t.Errorf("readFacts of a missing process = %v; want errGone", err)
	}
}

// fakeJobProc writes /proc/9 at p as a fake proc root shows it: a process
// of uid 1000 in job's cgroup, started at start (clock ticks).
func fakeJobProc(t *testing.T, p, job, start string) {
	t.Helper()
	testutil.Must(t, os.MkdirAll(p, 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(p, "cgroup"), []byte("0::/system.slice/slurmstepd.scope/job_"+job+"/step_0/user/task_0\n"), 0o644))
	testutil.Must(t, os.WriteFile(filepath.Join(p, "status"), []byte("Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n"), 0o644))
	testutil.Must(t, os.WriteFile(filepath.Join(p, "stat"), []byte("9 (x) S 1 9 9 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "+start+" 1000 10\n"), 0o644))
}

// A pid another process takes is read again at once, not charged to the
// job of the process before it for the rest of the cache's second.
func TestFactsOfAReusedPid(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "9")
	write := func(job, start string) { fakeJobProc(t, p, job, start) }
	c := newFactsCache(dir)
	now := time.Now()
	write("77", "1000")
	if f, err := c.get(9, now); err != nil || f.jobs[0] != "77" {
		t.Fatalf("get = %+v, %v", f, err)
	}
	write("88", "1001") // the pid taken by a process of another job
	if f, err := c.get(9, now.Add(time.Millisecond)); err != nil || f.jobs[0] != "88" || f.start != "1001" {
		t.Errorf("get of a pid reused within the cache's time = %+v, %v; want the new process, of job 88", f, err)
	}
}

// A pid found gone and taken by another process within the cache's second
// is read again: the cached "gone" made the new process's memory a gone
// process's, charged to the job the pid was last in (chargeGone), whose
// processes the guard then kills for memory another user holds.
func TestFactsOfAGonePidTakenAgain(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "9")
	write := func(job, start string) { fakeJobProc(t, p, job, start) }
	c := newFactsCache(dir)
	now := time.Now()
	write("77", "1000")
	f, err := c.get(9, now)
	if err != nil {
		t.Fatalf("get = %+v, %v", f, err)
	}
	c.remember(9, f.start, []string{"77"}, now) // charged to job 77 while alive
	testutil.Must(t, os.RemoveAll(p))           // gone
	if _, err := c.get(9, now.Add(time.Millisecond)); !errors.Is(err, errGone) {
		t.Fatalf("get of a gone pid = %v, want errGone", err)
	}
	write("88", "1001") // the pid taken by a process of another job
	if f, err := c.get(9, now.Add(2*time.Millisecond)); err != nil || f.jobs[0] != "88" {
		t.Errorf("get of a gone pid taken again within the cache's time = %+v, %v; want the new process, of job 88 (its memory was charged to job %v)", f, err, c.jobsOfGone(9))
	}
}

// A real process's reading, reused through its pidfd, is dropped the
// moment the process exits, within the cache's second.
func TestFactsOfAProcessThatExited(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	testutil.Must(t, cmd.Start())
	c := newFactsCache("/proc")
	now := time.Now()
	if _, err := c.get(cmd.Process.Pid, now); err != nil {
		t.Fatalf("get of a live process: %v", err)
	}
	if e := c.m[cmd.Process.Pid]; e.pidfd < 0 {
		t.Logf("no pidfd on this kernel: the start time is read again instead")
	}
	if _, err := c.get(cmd.Process.Pid, now.Add(time.Millisecond)); err != nil {
		t.Fatalf("get of the same live process again: %v", err)
	}
	testutil.Must(t, cmd.Process.Kill())
	_ = cmd.Wait()
	if f, err := c.get(cmd.Process.Pid, now.Add(2*time.Millisecond)); !errors.Is(err, errGone) {
		t.Errorf("get of an exited process within the cache's time = %+v, %v; want errGone", f, err)
	}
	c.forget(map[int]bool{}, now)
	if len(c.m) != 0 {
		t.Errorf("forget left %d readings", len(c.m))
	}
}

// A reading of a process in a job, not root's, is reused while the
// process lives (settledTTL); a reading of a process in no job is read
// again after factsTTL: slurmstepd's child joins its job after it was
// first seen, and must be charged to it within a second.
func TestFactsOfSettledProcessesLastLonger(t *testing.T) {
	n := newNode(t)
	j := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	root := filepath.Join(filepath.Dir(j.procs), "..", "..", "..", "cgroup.procs") // the hierarchy's root
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	testutil.Must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := fmt.Sprint(cmd.Process.Pid)
	c := newFactsCache("/proc")
	now := time.Now()
	if f, err := c.get(cmd.Process.Pid, now); err != nil || len(f.jobs) != 0 {
		t.Fatalf("a process in no job: %+v, %v", f, err)
	}
	testutil.Must(t, os.WriteFile(j.procs, []byte(pid), 0o644)) // it joins the job
	if f, err := c.get(cmd.Process.Pid, now.Add(factsTTL+time.Millisecond)); err != nil || len(f.jobs) != 1 || f.jobs[0] != j.id {
		t.Fatalf("a process that joined job %s, read %s later: %+v, %v; want it in the job", j.id, factsTTL, f, err)
	}
	if c.m[cmd.Process.Pid].pidfd < 0 {
		t.Skip("no pidfd on this kernel: every reading keeps factsTTL")
	}
	testutil.Must(t, os.WriteFile(root, []byte(pid), 0o644)) // root moves it out
	at := now.Add(factsTTL + time.Millisecond)
	if f, err := c.get(cmd.Process.Pid, at.Add(settledTTL-time.Millisecond)); err != nil || len(f.jobs) != 1 {
		t.Errorf("a settled reading within %s: %+v, %v; want it reused (still in job %s)", settledTTL, f, err, j.id)
	}
	if f, err := c.get(cmd.Process.Pid, at.Add(settledTTL)); err != nil || len(f.jobs) != 0 {
		t.Errorf("a settled reading %s old: %+v, %v; want it read again (in no job)", settledTTL, f, err)
	}
}

// A process that has exited and awaits its parent is gone. Its
// environment reads empty, which says nothing of its job; taken for a
// process in no job, a user's several jobs were all charged its memory,
// and the other jobs' processes were killed for what a gone process of
// one left behind (TestOrphanMemoryHiddenBehindFiles, CI under load).
func TestAnExitedProcessIsInNoneOfItsUsersJobs(t *testing.T) {
	testutil.NeedRoot(t, "job configs are root's files")
	runDir := t.TempDir()
	for _, job := range []string{"41", "42"} {
		testutil.Must(t, os.WriteFile(filepath.Join(runDir, job+".conf"), []byte(fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=12g\nSOFTMIG_UID=%d\n", nobody)), 0o644))
	}
	c := &charger{log: newLogger(&bytes.Buffer{}), conf: newConfigs(runDir, newLogger(&bytes.Buffer{})),
		facts: newFactsCache("/proc"), forged: map[int]string{}}
	cmd := exec.Command("sleep", "30")
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no SLURM_JOB_ID: in none of the jobs
	testutil.Must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	f, err := readFacts("/proc", pid)
	testutil.Must(t, err)
	f.uid = nobody // as if the jobs' user ran it
	now := time.Now()
	if jobs := c.heldTo(f, pid, now); len(jobs) != 2 {
		t.Fatalf("a live process of the user in no job is held to %v, want both of the user's jobs", jobs)
	}
	testutil.Must(t, cmd.Process.Kill())
	waitState(t, pid, f.start, 'Z')
	if got, err := readFacts("/proc", pid); !errors.Is(err, errGone) {
		t.Errorf("facts of an exited process not yet waited for = %+v, %v; want errGone", got, err)
	}
	if jobs := c.heldTo(f, pid, now); len(jobs) != 0 {
		t.Errorf("an exited process is held to %v, want none (its memory is a gone process's)", jobs)
	}
}

// A process inside exit(2) has let go of its address space before it is a
// zombie: its environment already fails to open (ESRCH) while its state
// still reads R and its files still hold the GPU. Its flags say it exits;
// a kernel thread, without an address space, does not.
func TestExitedFromStat(t *testing.T) {
	for _, c := range []struct {
		stat string
		want bool
	}{
		{"9 (a b) c) S 1 9 9 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 1000 3133440 10", false},
		{"9 (x) R 1 9 9 0 -1 4194564 100 0 0 0 1 2 0 0 20 0 1 0 1000 0 0", true},     // PF_EXITING
		{"9 (x) Z 1 9 9 0 -1 4194564 100 0 0 0 1 2 0 0 20 0 1 0 1000 0 0", true},     // a zombie
		{"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 10 0 0", false}, // a kernel thread: no address space
		{"9 (x) R 1 9", false}, // too short to say: not taken for gone
	} {
		if got := exited([]byte(c.stat)); got != c.want {
			t.Errorf("exited(%q) = %v, want %v", c.stat, got, c.want)
		}
	}
}

// A GPU whose NVML calls fail is skipped and its pending kills forgotten;
// a process that vanished between the list and /proc is skipped.
func TestLookErrorsNeverKill(t *testing.T) {
	g := newGuard(options{grace: 0, interval: 10 * time.Millisecond, procRoot: t.TempDir()}, newLogger(&bytes.Buffer{}))
	g.gpus = &fakeGPUs{lists: map[int][]gpuProc{1: {{pid: 4242, used: 1 << 40}}}, fail: map[int]bool{0: true}}
	g.since[watchKey{job: "5", gpu: 0, pid: escapeKey}] = time.Now().Add(-time.Hour)
	g.seen[watchKey{job: "5", gpu: 0, pid: escapeKey}] = time.Now()
	if due := g.look(time.Now()); len(due) != 0 || len(g.since) != 0 {
		t.Errorf("look = %+v, timers %v; want nothing due and no timer", due, g.since)
	}
}

// fakeGPUs is a driver for unit tests: GPU i lists procs[i], or fails.
type fakeGPUs struct {
	lists map[int][]gpuProc
	fail  map[int]bool
	smp   map[int][]sample
	reads int // samples calls
}

func (f *fakeGPUs) count() (int, error) { return 2, nil }
func (f *fakeGPUs) uuid(i int) (string, error) {
	return fmt.Sprintf("GPU-00000000-0000-0000-0000-00000000000%d", i), nil
}
func (f *fakeGPUs) memUsed(i int) (uint64, error) {
	if f.fail[i] {
		return 0, errors.New("nvmlDeviceGetMemoryInfo: GPU is lost")
	}
	var n uint64
	for _, p := range f.lists[i] {
		n += p.used
	}
	return n, nil
}
func (f *fakeGPUs) procs(i int) ([]gpuProc, error) {
	if f.fail[i] {
		return nil, errors.New("nvmlDeviceGetComputeRunningProcesses: GPU is lost")
	}
	return f.lists[i], nil
}
func (f *fakeGPUs) samples(i int, _ uint64) ([]sample, error) {
	f.reads++
	return f.smp[i], nil
}
func (f *fakeGPUs) calls() uint64            { return 0 }
func (f *fakeGPUs) errors() uint64           { return 0 }
func (f *fakeGPUs) driverCPU() time.Duration { return 0 }
func (f *fakeGPUs) close() error             { return nil }

func TestJobLogSafety(t *testing.T) {
	rec := logrec.Event(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), "5", 7, 0, logrec.MsgGuardKill,
		"reason", "escape", "gpu", "0", "used", "2", "limit", "1", "pids", "7")
	dir := t.TempDir()
	if err := appendJobLog(dir, "5", 1000, 1000, rec); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "5.log"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("new log: %v %v; want mode 0640", fi, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "5.log"))
	line, _ := logrec.Format(rec)
	if string(got) != line+"\n" {
		t.Errorf("log = %q; want %q", got, line)
	}
	testutil.Must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "6.log")))
	if err := appendJobLog(dir, "6", 1000, 1000, rec); err == nil {
		t.Error("appendJobLog followed a symlink")
	}
	testutil.Must(t, os.WriteFile(filepath.Join(dir, "other"), nil, 0o666))
	testutil.Must(t, os.Link(filepath.Join(dir, "other"), filepath.Join(dir, "8.log")))
	if err := appendJobLog(dir, "8", 1000, 1000, rec); err == nil {
		t.Error("appendJobLog wrote through a hard link")
	}
	if os.Getuid() == 0 {
		p := filepath.Join(dir, "9.log")
		testutil.Must(t, os.WriteFile(p, nil, 0o666))
		testutil.Must(t, os.Chown(p, 2000, 2000))
		if err := appendJobLog(dir, "9", 1000, 1000, rec); err == nil {
			t.Error("appendJobLog wrote to another user's file")
		}
	}
}

func TestFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &errb); err == nil || !strings.Contains(out.String(), "--dry-run") {
		t.Errorf("--help: %v\n%s", err, out.String())
	}
	for _, args := range [][]string{{"--margin", "lots"}, {"--interval", "1ms"}, {"--margin-percent", "200"}} {
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// The record of frozen cgroups names what the guard froze, one per GPU,
// goes when nothing is frozen, and one that cannot be written is said: a
// guard restarted after a crash thaws only what the records name.
func TestFrozenRecord(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	f := newFreezer(t.TempDir(), dir)
	f.log = newLogger(&out)
	f.mu.Lock()
	defer f.mu.Unlock()
	const uuid = "GPU-00000000-0000-0000-0000-000000000001"
	record := filepath.Join(dir, uuid+frozenSuffix)
	f.frozen[uuid] = map[string]string{"/sys/fs/cgroup/job_1": "1"}
	f.save(uuid)
	if b, err := os.ReadFile(record); err != nil || string(b) != "/sys/fs/cgroup/job_1 1\n" {
		t.Errorf("record: %q, %v; want the frozen cgroup and its job", b, err)
	}
	delete(f.frozen[uuid], "/sys/fs/cgroup/job_1")
	f.save(uuid)
	if _, err := os.Stat(record); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record with nothing frozen: %v; want it removed", err)
	}
	if out.Len() != 0 {
		t.Errorf("log: %q; want nothing", out.String())
	}
	f.runDir = filepath.Join(dir, "gone")
	f.frozen[uuid]["/sys/fs/cgroup/job_2"] = "2"
	f.save(uuid)
	if s := out.String(); !strings.Contains(s, filepath.Join(f.runDir, uuid+frozenSuffix)) || !strings.Contains(s, "would not thaw") {
		t.Errorf("a record that cannot be written: log %q; want its path and what it costs", s)
	}
}

// A job whose processes left a GPU for longer than linger, and came back,
// keeps counting its GPU time, pauses and lent time from where they were
// (Prometheus counters that vanish or restart at every idle phase of a
// job); its totals go once its config is gone.
func TestJobTotalsOutliveAnIdlePhase(t *testing.T) {
	g := &gpuTime{uuid: "GPU-1", lend: true,
		earlier: map[string]timeSnap{"7": {used: 2 * time.Second, paused: time.Second, lent: 3 * time.Second}, "8": {used: time.Second}},
		usedAll: map[string]time.Duration{"7": 500 * time.Millisecond},
		jobs:    map[string]*timeJob{"7": {totalPaused: 250 * time.Millisecond, totalLent: 100 * time.Millisecond}}}
	a := &authority{gpus: map[int]*gpuTime{0: g}}
	got, _ := a.snapshot()
	want := map[watchKey]timeSnap{
		{job: "7", gpu: 0}: {uuid: "GPU-1", used: 2500 * time.Millisecond, paused: 1250 * time.Millisecond, lent: 3100 * time.Millisecond, lending: true},
		{job: "8", gpu: 0}: {uuid: "GPU-1", used: time.Second, lending: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("snapshot: %+v, want %+v", got, want)
	}
	forgetEnded(g.earlier, []string{"6", "7"})
	if _, ok := g.earlier["8"]; ok || len(g.earlier) != 1 {
		t.Errorf("after job 8's config went: %v, want job 7's totals only", g.earlier)
	}
}

// A resume continues the processes it stopped, and not a process that
// has since taken one of their pids (here: the same process judged with
// another start time, as a reused pid reads).
func TestResumeContinuesOnlyWhatItStopped(t *testing.T) {
	testutil.NeedRoot(t, "stops and continues another user's process")
	cmd := exec.Command("setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups", "sleep", "60")
	testutil.Must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	var f procFacts
	var err error
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if f, err = readFacts("/proc", pid); err == nil && f.uid == nobody {
			break // setpriv has run sleep as nobody
		}
		if time.Now().After(end) {
			t.Fatalf("facts of the sleeper: %+v, %v", f, err)
		}
	}
	testutil.Must(t, unix.Kill(pid, unix.SIGSTOP))
	waitState(t, pid, f.start, 'T')

	other := f
	other.start = "1"
	j := &timeJob{}
	j.noteStopped(pid, other)
	if errs := continueStopped("/proc", j); len(errs) > 0 {
		t.Fatal(errs)
	}
	time.Sleep(100 * time.Millisecond)
	if st := procState("/proc", pid, f.start); st != 'T' {
		t.Errorf("a process that was not the one stopped was continued (state %c)", st)
	}
	j.noteStopped(pid, f)
	if errs := continueStopped("/proc", j); len(errs) > 0 {
		t.Fatal(errs)
	}
	waitState(t, pid, f.start, 'S')
}

// waitState waits up to 2 s for pid (started at start) to be in state st.
func waitState(t *testing.T, pid int, start string, st byte) {
	t.Helper()
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got := procState("/proc", pid, start)
		if got == st {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("pid %d in state %c, want %c", pid, got, st)
		}
	}
}

// A GPU's first samples count for the driver's sampling period as the
// batch shows it, not for the 200 ms assumed before any was seen.
func TestFirstSamplesCountTheirOwnPeriod(t *testing.T) {
	g := newGuard(options{interval: 10 * time.Millisecond, procRoot: t.TempDir()}, newLogger(&bytes.Buffer{}))
	const t0 = 1_700_000_000_000_000 // us
	g.gpus = &fakeGPUs{smp: map[int][]sample{0: {
		{pid: 77, ts: t0 + 40_000, util: 100}, {pid: 77, ts: t0, util: 100}, {pid: 77, ts: t0 + 20_000, util: 100}}}}
	g.facts.remember(77, "1", []string{"5"}, time.Now()) // gone since: charged to its job
	a := newAuthority(g)
	gt := &gpuTime{jobs: map[string]*timeJob{}, usedAll: map[string]time.Duration{}, every: 200 * time.Millisecond}
	a.measure(gt, time.Now())
	if got := gt.usedAll["5"]; got != 60*time.Millisecond {
		t.Errorf("three 20 ms samples at 100 %% counted %v, want 60ms", got)
	}
}

// The samples are read once the driver may have taken a new one (a
// sampling period after the newest), not at every measure: on an H100 a
// read costs 1.3-2.5 ms of the driver's CPU and finds one every 200 ms.
func TestSamplesReadOnlyWhenANewOneIsDue(t *testing.T) {
	g := newGuard(options{interval: 10 * time.Millisecond, procRoot: t.TempDir()}, newLogger(&bytes.Buffer{}))
	f := &fakeGPUs{}
	g.gpus = f
	a := newAuthority(g)
	newest := time.Now().Truncate(time.Microsecond)
	gt := &gpuTime{jobs: map[string]*timeJob{}, usedAll: map[string]time.Duration{}, every: 200 * time.Millisecond,
		last: uint64(newest.UnixMicro()), prev: uint64(newest.Add(-200 * time.Millisecond).UnixMicro())}
	for _, c := range []struct {
		at   time.Duration // after the newest sample
		read bool
	}{{100 * time.Millisecond, false}, {199 * time.Millisecond, false}, {200 * time.Millisecond, true}, {300 * time.Millisecond, true}, {-time.Second, true}} {
		before := f.reads
		a.measure(gt, newest.Add(c.at))
		if got := f.reads > before; got != c.read {
			t.Errorf("measure %v after the newest sample (every 200ms): read = %v, want %v", c.at, got, c.read)
		}
	}
}

// A job is judged idle on the part of its slot that passed since it got
// its time entry: one whose slot had passed when it came stays busy (it
// ran in its static slot, unmeasured; judged idle, its slot was lent away
// and one of four busy quarters under lend got 22.6 % of its 25 until it
// woke again). One whose slot passed unused since, or that was there the
// whole period, is idle.
func TestNewJobStaysBusyThroughItsFirstPeriod(t *testing.T) {
	g := newGuard(options{interval: 10 * time.Millisecond, procRoot: t.TempDir()}, newLogger(&bytes.Buffer{}))
	a := newAuthority(g)
	now := time.Now()
	start := a.periodStart(now).Add(-a.period)
	f, err := timefile.Create(filepath.Join(t.TempDir(), "GPU-00000000-0000-0000-0000-000000000001.time"), timefile.Lend, a.period, now)
	if err != nil {
		t.Fatal(err)
	}
	gt := &gpuTime{file: f, jobs: map[string]*timeJob{}, usedAll: map[string]time.Duration{}, earlier: map[string]timeSnap{},
		start: start, lend: true, every: 200 * time.Millisecond}
	for job, since := range map[string]time.Time{"7": start.Add(a.period * 6 / 10), "8": start.Add(-a.period), "9": start.Add(a.period / 10)} {
		e, err := f.Assign(job, 25, now)
		if err != nil {
			t.Fatal(err)
		}
		gt.jobs[job] = &timeJob{job: job, share: 25, own: []span{{0, a.period / 4}}, entry: e, busy: true, since: since, policy: "lend"}
	}
	a.newPeriod(gt, start.Add(a.period), now)
	if !gt.jobs["7"].busy {
		t.Error("a job whose entry came in the middle of the period was judged idle at its end")
	}
	if gt.jobs["8"].busy {
		t.Error("a job there for the whole period, its slot unused, was judged busy")
	}
	if gt.jobs["9"].busy {
		t.Error("a job that came early in the period, its slot unused since, was judged busy")
	}
}
