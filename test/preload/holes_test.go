// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testutil"
	"golang.org/x/sys/unix"
)

// Issue 12, item 1: what a user can do to their own process must not
// loosen the slice.

func needRoot(t *testing.T) {
	t.Helper()
	testutil.NeedRoot(t, "writes the job config in the run directory")
}

// A config without SOFTMIG_REGION puts the region in the run directory
// (root's choice): four processes with four TMPDIRs share one slice.
func TestRegionIgnoresTheUsersTMPDIR(t *testing.T) {
	needRoot(t)
	job := uniqueJob()
	writeConf(t, job, "CUDA_DEVICE_MEMORY_LIMIT=2g\n", 0o644)
	region := filepath.Join(confDir, job+".region")
	t.Cleanup(func() { os.Remove(region) })
	r := newRig(t, "SLURM_JOB_ID="+job)
	ok := 0
	for i := 0; i < 4; i++ {
		tmp := filepath.Join(r.dir, "tmp"+string(rune('a'+i)))
		if err := os.Mkdir(tmp, 0o700); err != nil {
			t.Fatal(err)
		}
		h := r.start([]string{"TMPDIR=" + tmp, "SLURM_TMPDIR=" + tmp}, "cuclient", "init", "dev:0", "alloc:500m")
		defer h.release()
		if strings.Join(results(h.lines), " ") == "init rc=0 dev rc=0 alloc rc=0" {
			ok++
		}
		if m, _ := filepath.Glob(tmp + "/*"); len(m) != 0 {
			t.Fatalf("files in the user's TMPDIR: %v", m)
		}
	}
	// 2 GiB hold two processes of 300 MiB context + 500 MiB.
	if ok != 2 {
		t.Fatalf("%d processes got their 500 MiB, want 2 (one slice)", ok)
	}
	if _, err := os.Stat(region); err != nil {
		t.Fatalf("region not in the run directory: %v", err)
	}
}

// Eight contexts created at once where one fits: the first reserves a
// context's size before the driver creates it, so exactly one gets in.
func TestConcurrentContextsCannotOvershoot(t *testing.T) {
	job := uniqueJob()
	// Contexts of 400 MiB: two would be 800 MiB.
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=700m", "SOFTMIG_SIM_CTX_MEMORY=400m")
	gate := filepath.Join(r.dir, "gate")
	type proc struct {
		cmd *exec.Cmd
		in  io.WriteCloser
		out *bufio.Reader
	}
	var ps []proc
	for i := 0; i < 8; i++ {
		c := r.cmd(true, nil, "cuclient", "init", "gate:"+gate, "dev:0", "ready", "hold")
		in, _ := c.StdinPipe()
		out, _ := c.StdoutPipe()
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		p := proc{c, in, bufio.NewReader(out)}
		ps = append(ps, p)
		t.Cleanup(func() { p.in.Close(); p.cmd.Process.Kill(); p.cmd.Wait() })
	}
	time.Sleep(300 * time.Millisecond) // all eight loaded and waiting
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in := 0
	for _, p := range ps {
		line, err := p.out.ReadString('\n')
		for err == nil && !strings.HasPrefix(line, "dev ") { // init's and gate's lines first
			line, err = p.out.ReadString('\n')
		}
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		if strings.TrimSpace(line) == "dev rc=0" {
			in++
		}
	}
	if in != 1 {
		t.Fatalf("%d of 8 contexts created in a slice that holds one", in)
	}
}

// A user who zeroes the region's counters before every allocation (and
// its check stamps) is still held to the slice: each process keeps what
// NVML last showed, and its own allocations since, in its own memory.
func TestRegionZeroedBeforeEveryAllocation(t *testing.T) {
	heldWhileTampering(t, func(path string) { zeroRegion(t, path, false) })
}

// heldWhileTampering: a process holds 1 GiB of a 2 GiB slice while tamper
// writes the job's region every millisecond; a second process asks for 12
// x 256 MiB, 50 ms apart.  1 GiB and two contexts of 300 MiB leave 424 MiB:
// exactly one fits.
func heldWhileTampering(t *testing.T, tamper func(path string)) {
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	a := r.start(nil, "cuclient", "init", "dev:0", "alloc:1g")
	defer a.release()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			tamper(r.regionPath(job))
			time.Sleep(time.Millisecond)
		}
	}()
	args := []string{"init", "dev:0"}
	for i := 0; i < 12; i++ {
		args = append(args, "alloc:256m", "sleep:50")
	}
	lines, _ := r.run(nil, "cuclient", args...)
	close(stop)
	<-done
	if n := strings.Count(strings.Join(results(lines), "\n"), "alloc rc=0"); n != 1 {
		t.Fatalf("%d allocations of 256 MiB got in, want 1: %q", n, lines)
	}
}

// zeroRegion zeroes every device entry's counters and check stamp (but
// the context size on record, with keepCtxSize) and every process entry's
// usage, as a user writing their own region could.
func zeroRegion(t *testing.T, path string, keepCtxSize bool) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return // not created yet
	}
	defer f.Close()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC_COARSE, &ts); err != nil {
		t.Error(err) // from a goroutine: no Fatal
		return
	}
	// tracked, excess, ctx_estimate, peak, last_check_ns (now: "just
	// checked"), oom_count; the UUID before them stays.
	counters := make([]byte, 48)
	binary.LittleEndian.PutUint64(counters[32:], uint64(ts.Nano()))
	for d := 0; d < 16; d++ {
		at := int64(regionDevs + d*devSize + devTracked)
		if keepCtxSize {
			if _, err := f.ReadAt(counters[16:24], at+16); err != nil {
				t.Error(err)
				return
			}
		}
		if _, err := f.WriteAt(counters, at); err != nil {
			t.Error(err)
			return
		}
	}
	used := make([]byte, 8*16*2)
	for i := 0; i < 64; i++ {
		if _, err := f.WriteAt(used, int64(regionProcs+i*procSize+procUsed)); err != nil {
			t.Error(err)
			return
		}
	}
}

// A log file planted by another user (0666, theirs) is never appended to:
// the job's lines go to the fallback, and the planter forges nothing.
func TestPlantedLogIsNotAppendedTo(t *testing.T) {
	needRoot(t)
	logDir := defs.LogDir()
	if _, err := os.Stat(logDir); os.IsNotExist(err) {
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(logDir) })
	}
	job := uniqueJob()
	planted := filepath.Join(logDir, job+".log")
	r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=1g")
	own := filepath.Join(r.dir, "own.log")
	for _, p := range []string{planted, own} {
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		p := p
		t.Cleanup(func() { os.Remove(p) })
	}
	tmp := filepath.Join(r.dir, "slurmtmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	// The job's default log, and a SOFTMIG_LOG_FILE, both planted.
	for _, logFile := range []string{"", own} {
		lines, _ := r.run([]string{"SOFTMIG_LOG_FILE=" + logFile, "SLURM_TMPDIR=" + tmp}, "cuclient", "init", "dev:0", "alloc:2g")
		want(t, "client", results(lines), "init rc=0", "dev rc=0", "alloc rc=2")
	}
	for _, p := range []string{planted, own} {
		if got := readFile(t, p); got != "" {
			t.Fatalf("%s (another user's, 0666) was appended to:\n%s", p, got)
		}
	}
	fallback := readFile(t, filepath.Join(tmp, "softmig_"+job+".log"))
	if strings.Count(fallback, `msg="process start"`) != 2 {
		t.Fatalf("the fallback log lacks the job's lines:\n%s", fallback)
	}
}

// stubNVML builds a libnvidia-ml.so.1 whose nvmlInit fails, in dir.
func stubNVML(t *testing.T, dir string) {
	t.Helper()
	src := filepath.Join(dir, "stub.c")
	code := "int nvmlInit_v2(void) { return 999; }\nint nvmlInit(void) { return 999; }\n"
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", "-shared", "-fPIC", "-o", filepath.Join(dir, "libnvidia-ml.so.1"), src).CombinedOutput(); err != nil {
		t.Skipf("cannot build a stub NVML (cc): %v %s", err, out)
	}
}

// A user's NVML found first through LD_LIBRARY_PATH does not switch off
// accounting: the library uses the NVML beside the driver it hooks.  And
// when the NVML beside the driver does not work, a sliced job fails closed.
func TestUsersNVMLIsNotTrusted(t *testing.T) {
	job := uniqueJob()
	r := newRig(t, "SLURM_JOB_ID="+job)
	stub := filepath.Join(r.dir, "stub")
	if err := os.Mkdir(stub, 0o755); err != nil {
		t.Fatal(err)
	}
	stubNVML(t, stub)
	sim := testutil.Path(t, "build/sim")

	// The context (300 MiB) is measured and counted: 700 MiB fit, 100 more do not.
	lines, stderr := r.run([]string{"LD_LIBRARY_PATH=" + stub + ":" + sim, "CUDA_DEVICE_MEMORY_LIMIT=1g"}, "cuclient", "init", "dev:0", "alloc:700m", "alloc:100m")
	want(t, "stub NVML first in LD_LIBRARY_PATH", results(lines), "init rc=0", "dev rc=0", "alloc rc=0", "alloc rc=2")
	if stderr != "" {
		t.Fatalf("stderr %q", stderr)
	}

	// A driver directory whose NVML is broken: no GPU for a sliced job.
	broken := filepath.Join(r.dir, "driver")
	if err := os.Mkdir(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(sim, "libcuda.so.1"), filepath.Join(broken, "libcuda.so.1"))
	copyFile(t, filepath.Join(stub, "libnvidia-ml.so.1"), filepath.Join(broken, "libnvidia-ml.so.1"))
	lines, stderr = r.run([]string{"LD_LIBRARY_PATH=" + broken, "CUDA_DEVICE_MEMORY_LIMIT=1g"}, "cuclient", "init", "dev:0", "alloc:100m")
	want(t, "broken NVML beside the driver", results(lines), "init rc=0", "dev rc=800", "alloc rc=201")
	if !strings.HasPrefix(stderr, "softmig: GPU disabled for this process: NVML") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("stderr %q: want one line naming NVML", stderr)
	}
	// Without a slice nothing needs NVML: a whole-GPU process runs.
	lines, _ = r.run([]string{"LD_LIBRARY_PATH=" + broken}, "cuclient", "init", "dev:0", "alloc:100m")
	want(t, "no slice", results(lines), "init rc=0", "dev rc=0", "alloc rc=0")
}

// Per-GPU limits follow the physical GPU (SOFTMIG_GPU_<i>), not the CUDA
// ordinal: reordering CUDA_VISIBLE_DEVICES does not swap them.
func TestReorderedDevicesKeepTheirLimits(t *testing.T) {
	needRoot(t)
	job := uniqueJob()
	writeConf(t, job, "CUDA_DEVICE_MEMORY_LIMIT_0=1g\nCUDA_DEVICE_MEMORY_LIMIT_1=4g\nSOFTMIG_GPU_0=0\nSOFTMIG_GPU_1=1\n", 0o644)
	t.Cleanup(func() { os.Remove(filepath.Join(confDir, job+".region")) })
	r := newRig(t, "SLURM_JOB_ID="+job, "SOFTMIG_SIM_DEVICES=2")
	totals := func(cvd string) (d0, d1 uint64) {
		lines, stderr := r.run([]string{"CUDA_VISIBLE_DEVICES=" + cvd}, "cuclient", "init", "dev:0", "meminfo", "dev:1", "meminfo")
		if len(lines) != 5 {
			t.Fatalf("CUDA_VISIBLE_DEVICES=%s: %q %q", cvd, lines, stderr)
		}
		d0, _ = totalFree(t, lines[2])
		d1, _ = totalFree(t, lines[4])
		return
	}
	if d0, d1 := totals("0,1"); d0 != GiB || d1 != 4*GiB {
		t.Fatalf("in order: %d MiB, %d MiB; want 1024, 4096", d0/MiB, d1/MiB)
	}
	if d0, d1 := totals("1,0"); d0 != 4*GiB || d1 != GiB {
		t.Fatalf("reordered: ordinal 0 (GPU 1) %d MiB, ordinal 1 (GPU 0) %d MiB; want 4096, 1024", d0/MiB, d1/MiB)
	}
	// A 3 GiB allocation fits GPU 1's slice, whatever its ordinal.
	lines, _ := r.run([]string{"CUDA_VISIBLE_DEVICES=1,0"}, "cuclient", "init", "dev:0", "alloc:3g", "dev:1", "alloc:3g")
	want(t, "allocations", results(lines), "init rc=0", "dev rc=0", "alloc rc=0", "dev rc=0", "alloc rc=2")
	// NVML (which ignores CUDA_VISIBLE_DEVICES) shows GPU 0's slice for index 0.
	lines, _ = r.run([]string{"CUDA_VISIBLE_DEVICES=1,0"}, "dl_nvclient", "0")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], fmt.Sprintf("mem total=%d ", GiB)) {
		t.Fatalf("NVML index 0 under CUDA_VISIBLE_DEVICES=1,0: %q", lines)
	}
}

// A user with a sliced job on the node never runs unlimited outside it:
// not from a shell outside the job, not in a cgroup namespace (which hides
// the job cgroup, unshare -U -C, no privilege needed), not by naming
// another user's job in SLURM_JOB_ID.
func TestNoJobButASlicedUserFailsClosed(t *testing.T) {
	needRoot(t)
	user := testutil.Stranger()
	r := newRig(t)
	bin := r.shared()
	sliced, other := uniqueJob(), uniqueJob()
	writeConf(t, sliced, fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=1g\nSOFTMIG_REGION=%s/sliced.region\nSOFTMIG_UID=%d\n", r.dir, user), 0o644)
	// Another user's whole-GPU job.
	writeConf(t, other, "SOFTMIG_GPU_0=0\nSOFTMIG_UID=4242\n", 0o644)
	run := func(wrap []string, env ...string) (lines []string, stderr string) {
		c := r.cmd(true, env, "cuclient", "init", "dev:0", "meminfo")
		c.Env = append(c.Env, "LD_PRELOAD="+bin.Path("build/libsoftmig.so"))
		c.Args = append(append(append([]string{}, wrap...), bin.Path("build/test/cuclient")), c.Args[1:]...)
		c.Path = bin.Path("build/test/cuclient")
		if len(wrap) != 0 {
			p, err := exec.LookPath(wrap[0])
			if err != nil {
				t.Skipf("%s: %v", wrap[0], err)
			}
			c.Path = p
		}
		testutil.AsUser(c, user)
		var out, errb strings.Builder
		c.Stdout, c.Stderr = &out, &errb
		if err := c.Run(); err != nil && !errors.As(err, new(*exec.ExitError)) {
			t.Fatal(err)
		}
		return splitLines(out.String()), errb.String()
	}
	failsClosed := func(what string, lines []string, stderr string) {
		t.Helper()
		// cuInit refused; what follows finds no driver.
		want(t, what, results(lines), "init rc=800", "dev rc=3", "meminfo rc=800")
		// In a user namespace of its own any sliced job on the node counts,
		// and other tests' jobs may run beside this one: any job is named.
		named := strings.Contains(stderr, sliced) || strings.HasPrefix(what, "unshare") && strings.Contains(stderr, "sliced jobs (")
		if !strings.HasPrefix(stderr, "softmig: GPU disabled for this process: ") || !named ||
			strings.Count(stderr, "\n") != 1 {
			t.Fatalf("%s: stderr %q: want one line naming job %s", what, stderr, sliced)
		}
	}
	lines, stderr := run(nil)
	failsClosed("outside the job", lines, stderr)
	lines, stderr = run(nil, "SLURM_JOB_ID="+other)
	failsClosed("SLURM_JOB_ID of another user's job", lines, stderr)
	// Its own job by SLURM_JOB_ID (no job cgroup here): the slice.
	lines, stderr = run(nil, "SLURM_JOB_ID="+sliced)
	if len(lines) != 3 {
		t.Fatalf("own job: %q %q", lines, stderr)
	}
	if total, _ := totalFree(t, lines[2]); total != GiB {
		t.Fatalf("own job: total %d, want 1 GiB", total)
	}
	if err := exec.Command("setpriv", fmt.Sprintf("--reuid=%d", user), fmt.Sprintf("--regid=%d", user), "--clear-groups", "unshare", "-U", "-r", "-C", "true").Run(); err != nil {
		t.Logf("unprivileged unshare -U -r -C unavailable here (%v): namespace case not run", err)
		return
	}
	// Root in a user namespace of its own, and a cgroup namespace.
	lines, stderr = run([]string{"unshare", "-U", "-r", "-C"}, "SLURM_JOB_ID="+sliced)
	failsClosed("unshare -U -r -C", lines, stderr)
}

// A job's process in a user namespace of its own (as unprivileged
// Apptainer runs containers) keeps its slice: root's config shows as the
// overflow uid there and is still root's.  Adding a cgroup namespace hides
// the job: that fails closed, since the job is sliced.
func TestJobInAUserNamespace(t *testing.T) {
	job, wrap := jobCgroup(t)
	user := testutil.Stranger()
	asUser := []string{"setpriv", fmt.Sprintf("--reuid=%d", user), fmt.Sprintf("--regid=%d", user), "--clear-groups"}
	if err := exec.Command(asUser[0], append(asUser[1:], "unshare", "-U", "-C", "true")...).Run(); err != nil {
		t.Skipf("unprivileged unshare -U -C unavailable here: %v", err)
	}
	r := newRig(t)
	bin := r.shared()
	r.env = append(r.env, "LD_PRELOAD="+bin.Path("build/libsoftmig.so"))
	region := filepath.Join(r.dir, "job.region")
	// The prolog creates the region owned by the job's user.
	if err := os.WriteFile(region, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(region, user, user); err != nil {
		t.Fatal(err)
	}
	writeConf(t, job, fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT=1g\nSOFTMIG_REGION=%s\nSOFTMIG_UID=%d\n", region, user), 0o644)
	// The copies in bin, which the user can reach, under wrap.
	runIn := func(wrap []string) (lines []string, stderr string) {
		c := r.cmd(false, nil, "cuclient")
		c.Path = wrap[0]
		c.Args = append(append([]string{}, wrap...), bin.Path("build/test/cuclient"), "init", "dev:0", "meminfo")
		var out, errb strings.Builder
		c.Stdout, c.Stderr = &out, &errb
		if err := c.Run(); err != nil && !errors.As(err, new(*exec.ExitError)) {
			t.Fatal(err)
		}
		return splitLines(out.String()), errb.String()
	}
	for _, ns := range [][]string{{"unshare", "-U"}, {"unshare", "-U", "-r"}} {
		w := append(append(append([]string{}, wrap...), asUser...), ns...)
		lines, stderr := runIn(w)
		if len(lines) != 3 {
			t.Fatalf("%v: %q %q", ns, lines, stderr)
		}
		if total, _ := totalFree(t, lines[2]); total != GiB {
			t.Fatalf("%v: total %d, want the 1 GiB slice", ns, total)
		}
	}
	w := append(append(append([]string{}, wrap...), asUser...), "unshare", "-U", "-r", "-C")
	lines, stderr := runIn(w)
	want(t, "unshare -U -r -C in the job", results(lines), "init rc=800", "dev rc=3", "meminfo rc=800")
	if !strings.Contains(stderr, "user namespace") || !strings.Contains(stderr, "sliced jobs (") { // any sliced job of the node
		t.Fatalf("stderr %q", stderr)
	}
}
