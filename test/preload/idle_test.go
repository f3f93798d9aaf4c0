// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// A process that never touches CUDA notices nothing: no files, threads,
// signal handlers or umask change, even with limits set.
func TestInvisibleWhenIdle(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=1g", "SLURM_JOB_ID=77")
	without, err := r.cmd(false, nil, "dl_idle").Output()
	if err != nil {
		t.Fatal(err)
	}
	with, err := r.cmd(true, nil, "dl_idle").Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(with) != string(without) {
		t.Fatalf("with the library: %s without: %s", with, without)
	}
	if readFile(t, r.regionPath("77")) != "" || readFile(t, r.dir+"/softmig.log") != "" {
		t.Fatal("an idle process created a region or a log")
	}
	// /bin/true and a shell run unchanged.
	out, err := r.cmd(true, nil, "dl_idle").Output()
	if err != nil || len(out) == 0 {
		t.Fatal(err)
	}
}

// The library must load in old-distro containers: it may need no glibc
// symbol version newer than GLIBC_2.17, and exports only its hooks.
func TestGlibcVersionsAndExports(t *testing.T) {
	testutil.Build(t, "lib")
	f, err := elf.Open(testutil.Path(t, "build/libsoftmig.so"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var exported int
	for _, s := range syms {
		if strings.HasPrefix(s.Version, "GLIBC_") {
			parts := strings.Split(strings.TrimPrefix(s.Version, "GLIBC_"), ".")
			minor, _ := strconv.Atoi(parts[1])
			if len(parts) < 2 || parts[0] != "2" || minor > 17 {
				t.Errorf("%s needs %s (newer than GLIBC_2.17)", s.Name, s.Version)
			}
		}
		if s.Section != elf.SHN_UNDEF && elf.ST_BIND(s.Info) == elf.STB_GLOBAL {
			exported++
			if s.Name != "dlsym" && s.Name != "softmig_version" && s.Name != "softmig_build_info" &&
				!strings.HasPrefix(s.Name, "cu") && !strings.HasPrefix(s.Name, "nvml") {
				t.Errorf("exports %s", s.Name)
			}
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	// Every NEEDED library is one more file to open at every process start
	// on the node; libdl and libpthread are referenced weakly instead.
	if strings.Join(libs, " ") != "libc.so.6" {
		t.Errorf("NEEDED %v, want only libc.so.6", libs)
	}
	// ... and every symbol they provided before glibc 2.34 is weak, so the
	// library loads on such a node even with LD_BIND_NOW.
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF && (strings.HasPrefix(s.Name, "dl") && s.Name != "dlsym" ||
			strings.HasPrefix(s.Name, "pthread_mutexattr") || s.Name == "pthread_create" ||
			s.Name == "pthread_mutex_timedlock" || s.Name == "pthread_mutex_consistent") &&
			elf.ST_BIND(s.Info) != elf.STB_WEAK {
			t.Errorf("%s is a strong reference: it would need libdl/libpthread before glibc 2.34", s.Name)
		}
	}
	if exported < 60 {
		t.Errorf("only %d exported symbols", exported)
	}
	if _, err := os.Stat(testutil.Path(t, "build/libsoftmig.so")); err != nil {
		t.Fatal(err)
	}
}

func TestOtherPreloadsKeepRTLDNext(t *testing.T) {
	// dlsym(RTLD_NEXT, ...) must answer relative to the caller, not to
	// libsoftmig.so (see test/cprog/dl_rtldnext.c).
	r := newRig(t)
	out, err := r.cmd(true, nil, "dl_rtldnext").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "next=libsoftmig.so default=libsoftmig.so getpid=libc.so.6" {
		t.Fatalf("dl_rtldnext: %v %q", err, out)
	}
}

// outcome is what a process showed the world: its stdout, its exit code and
// (separately, not compared) its stderr.
type outcome struct {
	stdout string
	code   int
	stderr string
}

func runOutcome(t *testing.T, c *exec.Cmd) outcome {
	t.Helper()
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee := new(exec.ExitError); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", c.Path, err)
	}
	return outcome{out.String(), code, errb.String()}
}

// idleCompare runs the same command without and with the library preloaded
// (by the name or path lib) and wants the same stdout and exit code; the
// run with the library must report it loaded (stderr "softmig=1"), so the
// comparison compared something.
func idleCompare(t *testing.T, r *rig, lib string, mk func() *exec.Cmd) {
	t.Helper()
	idleCompareWith(t, lib, func(preload string) *exec.Cmd {
		c := mk()
		if preload != "" {
			c.Env = append(c.Env, "LD_PRELOAD="+preload)
		}
		return c
	})
}

// idleCompareWith is idleCompare for a command that preloads lib itself
// when given it (mk("") runs it without).
func idleCompareWith(t *testing.T, lib string, mk func(preload string) *exec.Cmd) {
	t.Helper()
	without := runOutcome(t, mk(""))
	with := runOutcome(t, mk(lib))
	if with.stdout != without.stdout || with.code != without.code {
		t.Fatalf("with the library: exit %d, without: exit %d\n%s", with.code, without.code,
			lineDiff(without.stdout, with.stdout))
	}
	if !strings.Contains(with.stderr, "softmig=1") || strings.Contains(without.stderr, "softmig=1") {
		t.Fatalf("the library was not (only) in the run with it: with %q, without %q", with.stderr, without.stderr)
	}
}

// A process that never uses CUDA behaves byte for byte as without the
// library: stdout, exit code, errno, dlerror(), umask, signal dispositions
// and mask, environment; for a C program, a shell and Python, with limits
// set as inside a job, where libcuda.so.1 can be loaded and where not.
func TestIdleProcessesAsWithout(t *testing.T) {
	for _, libcuda := range []string{"sim", "none"} {
		t.Run("libcuda="+libcuda, func(t *testing.T) {
			r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=1g", "SLURM_JOB_ID=77")
			if libcuda == "none" {
				r.env = append(r.env, "LD_LIBRARY_PATH=")
			}
			idleKinds(t, r)
		})
	}
}

func idleKinds(t *testing.T, r *rig) {
	cmd := func(name string, args ...string) func() *exec.Cmd {
		return func() *exec.Cmd {
			c := exec.Command(name, args...)
			c.Env = append([]string{}, r.env...)
			c.Dir = r.dir
			return c
		}
	}
	t.Run("C", func(t *testing.T) {
		idleCompare(t, r, r.lib(), cmd(r.prog("dl_idle"), "3"))
	})
	t.Run("shell", func(t *testing.T) {
		idleCompare(t, r, r.lib(), cmd("/bin/sh", "-c", `umask; trap; export -p | grep -v LD_PRELOAD
			ls /nonexistent-softmig 2>&1; echo "ls=$?"; echo out; echo err >&2
			grep -q libsoftmig /proc/$$/maps && echo softmig=1 >&2; exit 7`))
	})
	t.Run("python", func(t *testing.T) {
		python, err := exec.LookPath("python3")
		if err != nil {
			t.Skip("no python3 on PATH")
		}
		// The shim of a version manager is a shell script: ask for the
		// interpreter itself.
		if b, err := exec.Command(python, "-c", "import sys; print(sys.executable)").Output(); err == nil {
			python = strings.TrimSpace(string(b))
		}
		idleCompare(t, r, r.lib(), cmd(python, "-c", `
import ctypes, os, signal, sys
print("umask", oct(os.umask(0o22)))
print("signals", [str(signal.getsignal(s)) for s in sorted(signal.valid_signals()) if s not in (signal.SIGKILL, signal.SIGSTOP)])
print("blocked", sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])))
print("env", sorted(k + "=" + v for k, v in os.environ.items() if k != "LD_PRELOAD"))
dlerror = ctypes.CDLL(None).dlerror
dlerror.restype = ctypes.c_char_p
libc = ctypes.CDLL("libc.so.6")
libc.cuserid  # found; its name starts like the driver's
print("dlerror after a found cu name", dlerror())
try:
    libc.cuNoSuchThing
except AttributeError as e:
    print("missing", e)
print("dlerror after", dlerror())
sys.stderr.write("softmig=%d\n" % ("libsoftmig" in open("/proc/self/maps").read()))
sys.exit(5)
`))
	})
	t.Run("static", func(t *testing.T) {
		// Nothing can preload into a static binary: the run with the
		// library says softmig=0 too, so compare by hand.
		without := runOutcome(t, cmd(r.prog("static_idle"), "4")())
		c := cmd(r.prog("static_idle"), "4")()
		c.Env = append(c.Env, "LD_PRELOAD="+r.lib())
		with := runOutcome(t, c)
		if with != without || without.code != 4 {
			t.Fatalf("static binary with the library %+v, without %+v", with, without)
		}
	})
}

// A setuid program run by an unprivileged user: the loader preloads only
// setuid libraries from its trusted directories by name, as
// /etc/ld.so.preload would; the program sees nothing different. The
// library goes into the trusted directory only in a private mount
// namespace, through an overlay whose upper layer is the test's own
// directory: the host's library directory is never written.
func TestIdleSetuidProgramAsWithout(t *testing.T) {
	testutil.NeedRoot(t, "makes a setuid program and mounts over a trusted directory")
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=1g", "SLURM_JOB_ID=77")
	var trusted string
	for _, d := range []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
		"/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64"} {
		if _, err := os.Stat(filepath.Join(d, "libc.so.6")); err == nil {
			trusted = d
			break
		}
	}
	if trusted == "" {
		t.Skip("no trusted library directory holding libc.so.6 found")
	}
	name := "libsoftmig-idletest.so"
	upper, work := filepath.Join(r.dir, "upper"), filepath.Join(r.dir, "work")
	copyFile(t, r.lib(), filepath.Join(upper, name))
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(r.dir, "bin", "suid_idle")
	copyFile(t, r.prog("dl_idle"), prog)
	for _, f := range []string{filepath.Join(upper, name), prog} {
		if err := os.Chmod(f, 0o4755); err != nil {
			t.Fatal(err)
		}
	}
	// In a mount namespace of its own (Go makes its mounts private), as
	// root: mount the overlay, then run the program as nobody with the
	// library named as $1 (none when empty).
	script := `mount -t overlay softmig-idletest -o "lowerdir=$0,upperdir=$1,workdir=$2" "$0" || exit 99
p=$3; shift 4; exec setpriv --reuid=65534 --regid=65534 --clear-groups env ${p:+LD_PRELOAD=$p} "$@"`
	run := func(preload string) *exec.Cmd {
		c := exec.Command("/bin/sh", "-c", script, trusted, upper, work, preload, "--", prog, "6")
		c.Env = append([]string{}, r.env...)
		c.Dir = r.dir
		c.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		return c
	}
	if out, err := run("").CombinedOutput(); err != nil {
		if ee := new(exec.ExitError); errors.As(err, &ee) && ee.ExitCode() == 99 {
			t.Skipf("cannot mount an overlay over %s here: %s", trusted, out)
		}
	}
	if _, err := os.Stat(filepath.Join(trusted, name)); err == nil {
		t.Fatalf("%s appeared in the host's %s: the overlay leaked out of its namespace", name, trusted)
	}
	idleCompareWith(t, name, run)
}
