// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testutil"
)

// Tests with a real Apptainer, run as the user's jobs run it: unprivileged
// (no setuid: a user namespace), in a job cgroup, on a Debian root file
// system made with debootstrap and used as a sandbox directory (users have
// no FUSE here), with the binds the task prolog (slurm/task_prolog.sh)
// gives. They skip where apptainer is not installed (docs/containers.md
// says how it was built for them).

// imageDir is the Debian sandbox: $SOFTMIG_TEST_IMAGE, or made once with
// debootstrap in the cache directory below.
const imageCache = "/var/cache/softmig-test/debian-bookworm"

type apptainer struct {
	n     *node
	image string
	binds string // APPTAINER_BINDPATH as the task prolog prints it
	env   []string
}

func newApptainer(t *testing.T, simEnv ...string) *apptainer {
	t.Helper()
	if _, err := exec.LookPath("apptainer"); err != nil {
		t.Skip("apptainer not installed (built from source for these tests: docs/containers.md)")
	}
	n := newNode(t, simEnv...)
	a := &apptainer{n: n, image: debianImage(t)}
	// The host's preload list, as a site with SoftMig enabled has it.
	list := filepath.Join(n.dir, "ld.so.preload")
	if err := os.WriteFile(list, []byte(n.lib()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", testutil.Path(t, "slurm/task_prolog.sh"), list, defs.RunDir(), defs.LogDir()).Output()
	a.binds = strings.TrimPrefix(strings.TrimSpace(string(out)), "export APPTAINER_BINDPATH=")
	if err != nil || a.binds == "" {
		t.Fatalf("task prolog: %q %v", out, err)
	}
	// What --nv does on a GPU node (the driver's libraries in
	// /.singularity.d/libs), the test clients, and the simulator's state
	// (on a real node: /dev/nvidia*), passed the way --cleanenv keeps.
	// From the copy every user can reach: the tree may be a private clone.
	tb := []string{n.shared.Path("build/test") + ":/softmig-test", n.dir + ":/softmig-sim"}
	for _, lib := range []string{"libcuda.so.1", "libnvidia-ml.so.1"} {
		tb = append(tb, n.shared.Path("build/sim/"+lib)+":/.singularity.d/libs/"+lib)
	}
	a.env = []string{"HOME=" + n.dir, "APPTAINER_BIND=" + strings.Join(tb, ","),
		"APPTAINERENV_LD_LIBRARY_PATH=/.singularity.d/libs"}
	for _, e := range n.env {
		if strings.HasPrefix(e, "SOFTMIG_SIM_") {
			a.env = append(a.env, "APPTAINERENV_"+strings.Replace(e, n.dir, "/softmig-sim", 1))
		}
	}
	return a
}

// debianImage returns the sandbox, making it with debootstrap if needed.
func debianImage(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SOFTMIG_TEST_IMAGE"); p != "" {
		return p
	}
	if _, err := os.Stat(filepath.Join(imageCache, "bin/sh")); err == nil {
		return imageCache
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		t.Skip("no image: debootstrap not installed and SOFTMIG_TEST_IMAGE not set")
	}
	tmp := imageCache + ".tmp"
	os.RemoveAll(tmp)
	if out, err := exec.Command("debootstrap", "--variant=minbase", "bookworm", tmp).CombinedOutput(); err != nil {
		t.Skipf("debootstrap could not make the image (no Debian mirror?): %v\n%s", err, out)
	}
	if err := os.Rename(tmp, imageCache); err != nil {
		t.Fatal(err)
	}
	return imageCache
}

// exec runs `apptainer exec FLAGS IMAGE PROG ARGS` as nobody in job j with
// the task prolog's binds (binds=false: without them), up to "ready".
func (a *apptainer) exec(j *sjob, binds bool, flags []string, image, prog string, args ...string) *client {
	env := append([]string{}, a.env...)
	if binds {
		env = append(env, "APPTAINER_BINDPATH="+a.binds)
	}
	argv := append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "apptainer", "-s", "exec"}, flags...)
	return a.n.startArgv(j, env, append(append(argv, image, prog), args...))
}

// run runs apptainer as nobody outside any job and returns its output.
func (a *apptainer) run(extraEnv []string, args ...string) (string, error) {
	c := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "apptainer"}, args...)...)
	c.Env = append(append(append([]string{}, a.n.env...), a.env...), extraEnv...)
	c.Dir = a.n.dir
	out, err := c.CombinedOutput()
	return string(out), err
}

// What the slice looks like to a client that holds a context (300 MiB on
// the simulator) and nothing else.
const sliceMeminfo = "meminfo rc=0 free=12570329088 total=12884901888"

// The same in a PID namespace of its own: NVML names the process by its
// host pid, which it cannot know, so it cannot measure its context and
// charges the library's reserve for one (512 MiB) instead.
const sliceMeminfoOwnPidNS = "meminfo rc=0 free=12348030976 total=12884901888"

// Whatever flags the user passes, a container started with the task
// prolog's binds is held to the job's slice, and the guard leaves it be.
func TestApptainerFlagsSliced(t *testing.T) {
	a := newApptainer(t, "SOFTMIG_SIM_MEMORY=128g") // room for all the cases' slices
	g := a.n.guard()
	sif := filepath.Join(a.n.dir, "client.sif")
	root := rootfs(t, a.n, "cuclient")
	for _, d := range []string{"softmig-sim", "softmig-test"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("apptainer", "-s", "build", sif, root).CombinedOutput(); err != nil {
		t.Fatalf("apptainer build: %v\n%s", err, out)
	}
	testutil.Must(t, os.Chmod(sif, 0o644))
	cases := []struct {
		name   string
		flags  []string
		image  string
		client string
	}{ // --containall and --pid: a PID namespace of its own
		{"no flags", nil, a.image, "/softmig-test/cuclient"},
		{"--contain", []string{"--contain"}, a.image, "/softmig-test/cuclient"},
		{"--containall", []string{"--containall"}, a.image, "/softmig-test/cuclient"},
		{"--no-mount naming the binds", []string{"--no-mount", "tmp,home,cwd,bind-paths,/etc/ld.so.preload," + defs.RunDir()}, a.image, "/softmig-test/cuclient"},
		{"--cleanenv", []string{"--cleanenv"}, a.image, "/softmig-test/cuclient"},
		{"--userns", []string{"--userns"}, a.image, "/softmig-test/cuclient"},
		{"--fakeroot", []string{"--fakeroot"}, a.image, "/softmig-test/cuclient"},
		{"--pid", []string{"--pid"}, a.image, "/softmig-test/cuclient"},
		{"SIF --containall", []string{"--containall"}, sif, "/cuclient"},
	}
	var held []*client
	for _, tc := range cases {
		j := a.n.job(slicedConf)
		c := a.exec(j, true, tc.flags, tc.image, tc.client, "init", "dev:0", "meminfo", "alloc:13g", "alloc:11g", "ready", "hold")
		want := []string{"init rc=0", "dev rc=0", "meminfo rc=0", "alloc rc=2", "alloc rc=0"}
		mi := sliceMeminfo
		if f := strings.Join(tc.flags, " "); strings.Contains(f, "--containall") || strings.Contains(f, "--pid") {
			mi = sliceMeminfoOwnPidNS
		}
		if got := testutil.ClientResults(c.lines); strings.Join(got, "|") != strings.Join(want, "|") || c.lines[2] != mi {
			t.Errorf("%s: %q; want the 12 GiB slice seen, 13 GiB refused, 11 GiB given", tc.name, c.lines)
		}
		held = append(held, c)
	}
	time.Sleep(time.Second)
	for i, c := range held {
		if !c.alive() {
			t.Errorf("%s: killed within its slice:\n%s", cases[i].name, g.output())
		}
	}
}

// Without SoftMig's binds (a user who empties APPTAINER_BINDPATH) the
// container runs the driver alone: it sees the whole GPU, and the guard
// kills it as an escape, by the pid the host sees, with the cause in the
// job's log, also in a PID namespace of its own (--containall).
func TestApptainerWithoutBindsKilled(t *testing.T) {
	a := newApptainer(t)
	g := a.n.guard()
	j := a.n.job(slicedConf)
	c := a.exec(j, false, []string{"--containall"}, a.image, "/softmig-test/cuclient", "init", "dev:0", "meminfo", "alloc:13g", "ready", "hold")
	if len(c.lines) != 4 || !strings.HasSuffix(c.lines[2], " total=51539607552") || !strings.HasPrefix(c.lines[3], "alloc rc=0 ") {
		t.Fatalf("without the binds: %q; want the whole 48 GiB GPU and 13 GiB given", c.lines)
	}
	select {
	case <-c.exited:
	case <-time.After(3 * time.Second):
		t.Fatalf("still alive 3 s after crossing its slice:\n%s", g.output())
	}
	t.Logf("apptainer --containall without the binds: killed %s after crossing the slice", c.exitAt.Sub(c.ready).Round(time.Millisecond))
	log := j.guardLog(t)
	if !strings.Contains(log, `msg="guard kill" reason=escape`) || !strings.Contains(log, "a container without SoftMig's binds") {
		t.Fatalf("job log:\n%s\nguard:\n%s", log, g.output())
	}
}

// The errata of the old setup (apptainer.conf's bind path lines), shown
// with Apptainer itself: --contain drops them (the container sees the
// whole GPU), and a missing source fails every container, even /bin/true.
// The task prolog's binds do neither: on a node without SoftMig it names
// none, and containers run.
func TestApptainerConfBindPath(t *testing.T) {
	a := newApptainer(t)
	base, err := os.ReadFile("/usr/local/etc/apptainer/apptainer.conf")
	if err != nil {
		base, err = os.ReadFile("/etc/apptainer/apptainer.conf")
	}
	if err != nil {
		t.Skipf("no apptainer.conf to start from: %v", err)
	}
	conf := func(lines ...string) string {
		p := filepath.Join(a.n.dir, "apptainer.conf")
		if err := os.WriteFile(p, []byte(string(base)+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var lines []string
	for _, b := range strings.Split(a.binds, ",") {
		lines = append(lines, "bind path = "+b)
	}
	withBinds := conf(lines...)
	j := a.n.job(slicedConf)
	plain := a.n.startArgv(j, a.env, []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "apptainer", "-s", "-c", withBinds,
		"exec", a.image, "/softmig-test/cuclient", "init", "dev:0", "meminfo", "ready"})
	contained := a.n.startArgv(j, a.env, []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "apptainer", "-s", "-c", withBinds,
		"exec", "--contain", a.image, "/softmig-test/cuclient", "init", "dev:0", "meminfo", "ready"})
	if len(plain.lines) != 3 || plain.lines[2] != sliceMeminfo {
		t.Errorf("bind path lines, no flags: %q; want the slice", plain.lines)
	}
	if len(contained.lines) != 3 || !strings.HasSuffix(contained.lines[2], " total=51539607552") {
		t.Errorf("bind path lines and --contain: %q; want the whole GPU (the lines dropped)", contained.lines)
	}

	missing := conf("bind path = " + filepath.Join(a.n.dir, "removed/libsoftmig.so"))
	out, err := a.run(nil, "-s", "-c", missing, "exec", a.image, "/bin/true")
	if err == nil || !strings.Contains(out, "doesn't exist") {
		t.Errorf("a bind path whose source is missing: %v %q; want every container to fail", err, out)
	}
	// The task prolog on a node where SoftMig was removed names nothing.
	list := filepath.Join(a.n.dir, "empty.preload")
	testutil.Must(t, os.WriteFile(list, nil, 0o644))
	pro, _ := exec.Command("sh", testutil.Path(t, "slurm/task_prolog.sh"), list, defs.RunDir(), defs.LogDir()).Output()
	if len(pro) != 0 {
		t.Fatalf("task prolog without SoftMig printed %q", pro)
	}
	if out, err := a.run(nil, "-s", "exec", "--containall", a.image, "/bin/true"); err != nil {
		t.Errorf("a container on a node without SoftMig: %v %q", err, out)
	}
}

// Inside a user namespace (every unprivileged Apptainer container) root's
// files show as the overflow uid, nobody: the job's config too, and the
// library accepts it there (docs/containers.md says why that is safe).
// An image whose C library lacks a version libsoftmig.so needs (glibc
// older than 2.17) cannot start any program with the binds: the loader
// fails on the preload list, shown with a copy of the library that needs
// a version no glibc has.
func TestApptainerOwnerAndOldGlibc(t *testing.T) {
	a := newApptainer(t)
	j := a.n.job(slicedConf)
	out, err := a.run([]string{"APPTAINER_BINDPATH=" + a.binds}, "-s", "exec", "--containall", a.image,
		"stat", "-c", "%U %a", filepath.Join(defs.RunDir(), j.id+".conf"))
	if err != nil || strings.TrimSpace(out) != "nobody 644" {
		t.Errorf("the job config seen in a container: %v %q; want it owned by nobody", err, out)
	}
	lib, err := os.ReadFile(a.n.lib())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(lib), "\x00GLIBC_2.17\x00") != 1 {
		t.Fatalf("%s does not name GLIBC_2.17 once in its version needs", a.n.lib())
	}
	old := filepath.Join(a.n.dir, "libsoftmig.so")
	if err := os.WriteFile(old, []byte(strings.Replace(string(lib), "\x00GLIBC_2.17\x00", "\x00GLIBC_9.17\x00", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	binds := strings.Replace(a.binds, a.n.lib(), old+":"+a.n.lib(), 1)
	out, err = a.run([]string{"APPTAINER_BINDPATH=" + binds}, "-s", "exec", "--containall", a.image, "/bin/true")
	if err == nil || !strings.Contains(out, "version `GLIBC_9.17' not found") {
		t.Errorf("an image without the glibc version the library needs: %v %q; want /bin/true to fail to start", err, out)
	}
}
