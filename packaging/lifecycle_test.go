// SPDX-License-Identifier: Apache-2.0

package packaging

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/slurmtest"
	"github.com/softmig/softmig/internal/testutil"
)

// TestLifecycle is an admin's life with the deb on a live Slurm node (issue
// 22): install it and switch it on, run jobs; upgrade to a newer build while
// a job runs (the guard restarts, the job goes on); try to remove it while
// slurm.conf names SoftMig's prolog and task prolog (refused, nothing
// changes); remove it with the site's (the node stays IDLE and the next
// jobs and their tasks run); purge it (nothing of SoftMig's is left but the
// job logs).
//
// It runs in a private mount namespace in which /etc, /usr, /var and /run
// are overlays: apt, dpkg, the maintainer scripts, /etc/ld.so.preload and
// the Slurm daemons act on this node as on a real one, and nothing reaches
// the machine. systemd does not run here (nor in CI): /run/systemd/system
// exists in the namespace, so the scriptlets take their booted-node paths,
// and testdata/systemctl stands in for /usr/bin/systemctl: unit files and enable
// links are the real systemctl's (offline), starting and stopping the
// guard is the stand-in's, which runs the unit's ExecStart as a process.
// What systemd itself would add (its sandboxing of the unit, Restart=) is
// not exercised.
func TestLifecycle(t *testing.T) {
	if os.Getenv(insideEnv) != "" {
		lifecycle(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (dpkg, mount namespaces, Slurm)")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("no apt-get: not a Debian node")
	}
	old := pick(t, packages(t, "deb", "dpkg-buildpackage"), ".deb")
	count, rest := buildID(t)
	newer := pick(t, packages(t, "deb", "dpkg-buildpackage", fmt.Sprintf("BUILD_ID=%d.%s", max(count, 1)+1, rest)), ".deb")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLifecycle$", "-test.v")
	cmd.Env = append(os.Environ(), insideEnv+"=1", "SOFTMIG_DEB_OLD="+old, "SOFTMIG_DEB_NEW="+newer)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	t.Log(string(out))
	if m := regexp.MustCompile(`(?m)^\s*lifecycle_test.go:\d+: SKIP: (.*)$`).FindSubmatch(out); m != nil {
		t.Skip(string(m[1]))
	}
	if err != nil {
		t.Fatalf("the lifecycle in its namespace: %v", err)
	}
}

// lifecycle runs in the private namespace.
func lifecycle(t *testing.T) {
	uppers := map[string]string{}
	for _, d := range []string{"/etc", "/usr", "/var", "/run"} {
		uppers[d] = overlay(t, d)
	}
	// A booted node as the scriptlets see it (see above); no policy-rc.d,
	// which containers and CI images have to keep packages from starting
	// services, and which a node does not have.
	testutil.Must(t, os.MkdirAll("/run/systemd/system", 0o755))
	testutil.Must(t, os.MkdirAll(shimDir, 0o755))
	systemctl, err := os.ReadFile("/usr/bin/systemctl")
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile(shimDir+"/systemctl.real", systemctl, 0o755))
	shim, err := os.ReadFile("testdata/systemctl")
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile("/usr/bin/systemctl", shim, 0o755))
	if err := os.Remove("/usr/sbin/policy-rc.d"); err == nil {
		t.Log("removed /usr/sbin/policy-rc.d (in the namespace only)")
	}
	t.Setenv("DEBIAN_FRONTEND", "noninteractive")
	old, newer := os.Getenv("SOFTMIG_DEB_OLD"), os.Getenv("SOFTMIG_DEB_NEW")

	// Install; switch SoftMig on; the site config; the guard.
	t.Cleanup(stopGuards)
	apt(t, "install", old)
	if pid, _ := guardPid(); pid != 0 {
		t.Errorf("installing started the guard (pid %d): it is installed disabled", pid)
	}
	site := "gpus:\n  l40s:\n    shards: 4\n    memory: 48g\n    denominators: [2, 4]\npolicy:\n  sm_limit: fraction\n"
	testutil.Must(t, os.WriteFile("/etc/softmig/softmig.yaml", []byte(site), 0o644))
	sh(t, "softmig-install enable")
	sh(t, "systemctl enable --now softmig-guard")
	guard1, _ := waitGuard(0)
	if guard1 == 0 {
		t.Fatalf("systemctl enable --now softmig-guard started no guard:\n%s", shimLog())
	}

	// Slurm, as the guide sets it up: the site's prolog, epilog, task
	// prolog and lua plugins call SoftMig's, which the package installed.
	ex := "/usr/share/doc/softmig/examples/slurm/"
	files := map[string]string{"softmig_gres.lua": ""}
	for dst, src := range map[string]string{"prolog.sh": "site-prolog.sh", "epilog.sh": "site-epilog.sh", "task_prolog.sh": "site-task_prolog.sh",
		"job_submit.lua": "site-job_submit.lua", "cli_filter.lua": "site-cli_filter.lua"} {
		b, err := os.ReadFile(ex + src)
		testutil.Must(t, err)
		files[dst] = string(b)
	}
	c, skip, err := slurmtest.Start(slurmtest.Options{Repo: testutil.Root(t), SoftmigBin: "/usr/bin/softmig-conf", SiteConfig: site, Files: files})
	if skip != "" {
		t.Log("SKIP: " + skip)
		t.SkipNow()
	}
	testutil.Must(t, err)
	defer c.Stop()
	if out, err := exec.Command("softmig-install", "verify", "--node", c.Node).CombinedOutput(); err != nil {
		p, _ := os.ReadFile(filepath.Join(c.ConfDir, "prolog.sh"))
		t.Errorf("softmig-install verify on the node: %v\n%s\nprolog.sh:\n%s", err, out, p)
	}
	gpuJob := jobRuns(t, c, "--gres=gpu:l40s.4:1", "--wrap", "cat "+slurmtest.RunDir+"/$SLURM_JOB_ID.conf")
	if out := jobOut(t, c, gpuJob); !strings.Contains(out, "CUDA_DEVICE_MEMORY_LIMIT=12288M") {
		t.Errorf("the sliced job's config (site prolog -> SoftMig's, site job_submit.lua -> SoftMig's module):\n%s", out)
	}
	jobRuns(t, c, "--wrap", "true")
	// The site's task prolog passes SoftMig's binds for Apptainer on.
	binds := jobRuns(t, c, "--wrap", `echo "binds=$APPTAINER_BINDPATH"`)
	if out := jobOut(t, c, binds); !strings.Contains(out, "/var/lib/shared/libsoftmig.so") {
		t.Errorf("a job's APPTAINER_BINDPATH (site task prolog -> SoftMig's) lacks the library:\n%s", out)
	}

	// Upgrade while a sliced job runs: the guard restarts on the new build,
	// the job goes on and ends well.
	gate := filepath.Join(c.Out, "go-on")
	running := submit(t, c, "--gres=gpu:l40s.4:1", "--wrap", "while [ ! -e "+gate+" ]; do sleep 0.2; done; cat "+slurmtest.RunDir+"/$SLURM_JOB_ID.conf")
	waitState(t, c, running, "RUNNING")
	apt(t, "install", newer)
	guard2, deleted := waitGuard(guard1)
	if guard2 == 0 || guard2 == guard1 || deleted {
		t.Errorf("after the upgrade the guard is pid %d (was %d, running a deleted file: %v); want a new one on the new build\n%s", guard2, guard1, deleted, shimLog())
	}
	if v := sh(t, "softmig-install --version"); !strings.Contains(v, versionOf(t, newer)) {
		t.Errorf("after the upgrade softmig-install --version = %q; want %s", v, versionOf(t, newer))
	}
	if got := c.JobField(running, "JobState"); got != "RUNNING" {
		t.Errorf("job %s is %s after the upgrade; want RUNNING", running, got)
	}
	testutil.Must(t, os.WriteFile(gate, nil, 0o644))
	testutil.Must(t, c.Wait(running))
	if state := c.JobField(running, "JobState"); state != "COMPLETED" || !strings.Contains(jobOut(t, c, running), "CUDA_DEVICE_MEMORY_LIMIT=") {
		t.Errorf("the job that ran through the upgrade: %s\n%s", state, jobOut(t, c, running))
	}

	// Removal while slurm.conf names SoftMig's prolog and task prolog:
	// refused, with the lines.
	direct := map[string]string{"Prolog": "/usr/share/softmig/slurm/prolog.sh", "TaskProlog": "/usr/share/softmig/slurm/task_prolog.sh"}
	setScripts := func(paths map[string]string) func(string) string {
		return func(s string) string {
			for key, path := range paths {
				s = regexp.MustCompile(`(?m)^`+key+`=.*$`).ReplaceAllString(s, key+"="+path)
			}
			return s
		}
	}
	testutil.Must(t, c.Reconfigure(setScripts(direct)))
	out, err := aptOut("remove", "softmig")
	for key, path := range direct {
		if err == nil || !strings.Contains(out, "refusing to remove SoftMig") || !strings.Contains(out, key+"="+path) {
			t.Errorf("apt-get remove with %s=%s in slurm.conf = %v; want a refusal naming the line:\n%s", key, path, err, out)
		}
	}
	if status := sh(t, "dpkg-query -W -f '${Status}' softmig"); status != "install ok installed" {
		t.Errorf("after the refused removal the package is %q", status)
	}
	if pid, _ := guardPid(); pid != guard2 {
		t.Errorf("the refused removal touched the guard: pid %d, was %d", pid, guard2)
	}
	jobRuns(t, c, "--wrap", "true")

	// Removal with the site's scripts: the node stays IDLE, jobs and their
	// tasks run (the site's task prolog stays, SoftMig's binds go).
	testutil.Must(t, c.Reconfigure(setScripts(map[string]string{
		"Prolog": filepath.Join(c.ConfDir, "prolog.sh"), "TaskProlog": filepath.Join(c.ConfDir, "task_prolog.sh"),
	})))
	apt(t, "remove", "softmig")
	if pid, _ := guardPid(); pid != 0 {
		t.Errorf("after removal a guard still runs (pid %d)", pid)
	}
	for _, gone := range []string{"/etc/ld.so.preload", "/usr/local/bin/nvidia-smi", "/usr/bin/softmig-conf", "/var/lib/shared/libsoftmig.so"} {
		if _, err := os.Lstat(gone); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after removal %s is still there (%v)", gone, err)
		}
	}
	jobRuns(t, c, "--wrap", "true")
	jobRuns(t, c, "--gres=gpu:l40s:1", "--wrap", "true")
	if out := jobOut(t, c, jobRuns(t, c, "--wrap", `echo "binds=$APPTAINER_BINDPATH"; srun true`)); strings.TrimSpace(out) != "binds=" {
		t.Errorf("after removal a job's tasks get %q; want no binds", out)
	}

	// Purge: nothing of SoftMig's but the job logs.
	apt(t, "purge", "softmig")
	var left []string
	for dir, up := range uppers {
		_ = filepath.WalkDir(up, func(p string, d fs.DirEntry, err error) error { // a part it cannot read is no leftover of ours
			rel, _ := filepath.Rel(up, p)
			node := filepath.Join(dir, rel)
			if err != nil || !strings.Contains(node, "softmig") || isWhiteout(d) {
				return nil
			}
			if node == "/var/log/softmig" || strings.HasPrefix(node, "/var/log/softmig/") && strings.HasSuffix(node, ".log") {
				return nil // the job logs stay
			}
			if strings.HasPrefix(node, shimDir) {
				return nil // the systemctl stand-in's records
			}
			left = append(left, node)
			return nil
		})
	}
	if len(left) > 0 {
		t.Errorf("purge left SoftMig's files:\n%s", strings.Join(left, "\n"))
	}
	if _, err := os.Stat(fmt.Sprintf("/var/log/softmig/%s.log", gpuJob)); err != nil {
		t.Errorf("purge removed the job log of job %s: %v (job logs stay)", gpuJob, err)
	}
	if _, err := os.Stat(slurmtest.RunDir); err == nil {
		t.Errorf("purge left %s", slurmtest.RunDir)
	}
	waitIdle(t, c, "after purge")
	t.Logf("guard pids: %d, after the upgrade %d; %s", guard1, guard2, shimLog())
}

// shimDir is where the systemctl stand-in keeps its records (in the
// namespace's /run).
const shimDir = "/run/systemctl-shim"

// overlay mounts an overlay over dir, private to this namespace, and
// returns its upper directory: what changed below dir.
func overlay(t *testing.T, dir string) string {
	t.Helper()
	base := t.TempDir()
	up, work := filepath.Join(base, "upper"), filepath.Join(base, "work")
	testutil.Must(t, os.Mkdir(up, 0o755))
	testutil.Must(t, os.Mkdir(work, 0o755))
	if err := unix.Mount("overlay", dir, "overlay", 0, "lowerdir="+dir+",upperdir="+up+",workdir="+work); err != nil {
		t.Log("SKIP: cannot overlay " + dir + ": " + err.Error())
		t.SkipNow()
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) }) // the namespace ends with the test anyway
	return up
}

func isWhiteout(d fs.DirEntry) bool {
	if d == nil || d.Type()&fs.ModeCharDevice == 0 {
		return false
	}
	fi, err := d.Info()
	return err == nil && fi.Sys().(*syscall.Stat_t).Rdev == 0
}

// apt runs apt-get VERB ARG as an admin does; a .deb is installed from
// its file (its dependencies are on the machine).
func apt(t *testing.T, verb, arg string) {
	t.Helper()
	if out, err := aptOut(verb, arg); err != nil {
		t.Fatalf("apt-get %s %s: %v\n%s", verb, arg, err, out)
	}
}

func aptOut(verb, arg string) (string, error) {
	b, err := exec.Command("apt-get", "-y", "-q", "-o", "Dpkg::Use-Pty=0", verb, arg).CombinedOutput()
	return string(b), err
}

func sh(t *testing.T, script string) string {
	t.Helper()
	b, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, b)
	}
	return strings.TrimSpace(string(b))
}

// waitGuard waits up to 10 s for a guard other than pid not (systemd's
// Type=simple: systemctl returns before the program runs) and returns it.
func waitGuard(not int) (int, bool) {
	for i := 0; i < 100; i++ {
		if pid, deleted := guardPid(); pid != 0 && pid != not && !deleted {
			return pid, deleted
		}
		time.Sleep(100 * time.Millisecond)
	}
	return guardPid()
}

// stopGuards kills the guards the test started, however it ends: they run
// in their own session and would outlive the namespace.
func stopGuards() {
	_ = exec.Command("systemctl", "stop", "softmig-guard").Run() // what it leaves is killed below
	for pid, _ := guardPid(); pid != 0; pid, _ = guardPid() {
		syscall.Kill(pid, syscall.SIGKILL)
		time.Sleep(100 * time.Millisecond)
	}
}

// guardPid finds the process running /usr/bin/softmig-guard, and whether
// its file was replaced since it started; 0 when none.
func guardPid() (int, bool) {
	// Ours only: a lifecycle test of a second suite beside this one runs
	// its own packaged guard, in its own mount namespace.
	ours, _ := os.Readlink("/proc/self/ns/mnt")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		exe, err := os.Readlink(d + "/exe")
		if err != nil || strings.TrimSuffix(exe, " (deleted)") != "/usr/bin/softmig-guard" {
			continue
		}
		if ns, err := os.Readlink(d + "/ns/mnt"); err != nil || ns != ours {
			continue
		}
		if st, err := os.ReadFile(d + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		return pid, strings.HasSuffix(exe, " (deleted)")
	}
	return 0, false
}

func shimLog() string {
	b, _ := os.ReadFile(filepath.Join(shimDir, "calls"))
	g, _ := os.ReadFile(filepath.Join(shimDir, "softmig-guard.service.log"))
	return "systemctl calls:\n" + string(b) + "guard's output:\n" + tail(string(g), 2000)
}

// versionOf is the version of a .deb.
func versionOf(t *testing.T, deb string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, "Version"))
}

// submit submits a job as the test user without waiting for it.
func submit(t *testing.T, c *slurmtest.Cluster, args ...string) string {
	t.Helper()
	out, errOut, err := c.Run(slurmtest.User, "sbatch", append([]string{"--parsable", "-o", c.Out + "/job-%j.out"}, args...)...)
	if err != nil {
		t.Fatalf("sbatch %v: %v: %s", args, err, errOut)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	return id
}

// jobRuns submits a job, waits for it and checks it completed and the
// node is IDLE again (not DRAIN).
func jobRuns(t *testing.T, c *slurmtest.Cluster, args ...string) string {
	t.Helper()
	id := submit(t, c, args...)
	testutil.Must(t, c.Wait(id))
	if state := c.JobField(id, "JobState"); state != "COMPLETED" {
		t.Errorf("job %s (%v) ended %s; want COMPLETED\n%s", id, args, state, c.Logs())
	}
	waitIdle(t, c, "after job "+id)
	return id
}

// waitIdle waits until the node is IDLE again after a job (its state
// follows the job's end by a moment); DRAIN or DOWN fail at once.
func waitIdle(t *testing.T, c *slurmtest.Cluster, when string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		state := c.NodeState()
		switch {
		case state == "idle":
			return
		case strings.HasPrefix(state, "drain") || strings.HasPrefix(state, "down") || time.Now().After(deadline):
			t.Fatalf("%s the node is %s; want idle\n%s", when, state, c.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jobOut(t *testing.T, c *slurmtest.Cluster, id string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(c.Out, "job-"+id+".out"))
	return string(b)
}

// waitState waits until job id is in state (its prolog done).
func waitState(t *testing.T, c *slurmtest.Cluster, id, state string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for c.JobField(id, "JobState") != state {
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s after 90 s; want %s\n%s", id, c.JobField(id, "JobState"), state, c.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
