// SPDX-License-Identifier: Apache-2.0

// Package slurmtest runs a real one-node Slurm cluster (munge, slurmctld,
// slurmd from Debian's packages) on localhost for tests, with SoftMig's
// prolog, epilog and lua plugins from the repository, and on request
// accounting (slurmdbd over a private MariaDB, accounting.go). It needs
// root; only one cluster can run on a machine at a time: Start waits for
// the one another test package runs.
package slurmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/softmig/softmig/internal/defs"
)

// RunDir is where the prolog writes job configs: the real path, since the
// prolog runs as root and the library trusts only it.
var RunDir = defs.RunDir()

// User is the unprivileged user created for tests.
const User = "smtest"

// Options says what to install.
type Options struct {
	Repo       string // repository root: slurm/ scripts
	SoftmigBin string // softmig-conf binary the prolog uses
	SiteConfig string // content of softmig.yaml
	SoftmigLog string // softmig-log binary the epilog uses; "" = beside SoftmigBin
	// Files replace the files written next to slurm.conf (prolog.sh,
	// epilog.sh and task_prolog.sh, which slurm.conf names, job_submit.lua,
	// cli_filter.lua, softmig_gres.lua): a site's own scripts, say; ""
	// writes none.
	Files map[string]string
	// Accounting runs slurmdbd over a private MariaDB (accounting.go),
	// where this machine has them; Cluster.Accounting says if it does.
	Accounting bool
}

// Cluster is a running cluster.
type Cluster struct {
	Dir          string // everything lives below: etc/, state/, log/, run/, out/
	ConfDir      string
	SiteConfig   string // path of softmig.yaml (tests may rewrite it)
	LogDir       string // SoftMig job logs: the built-in directory, as RunDir
	Out          string // world-writable output directory for jobs
	Node         string
	Env          []string // environment for Slurm clients (SLURM_CONF)
	startedMunge int
	pids         []int
	lock         *os.File

	// Accounting is true when jobs are recorded by slurmdbd (sacct works);
	// NoAccounting says why not, when Options.Accounting asked for it.
	Accounting   bool
	NoAccounting string
	mariadb      *exec.Cmd
	dbdPid       int
}

var required = []string{"slurmctld", "slurmd", "munged", "munge", "scontrol", "sbatch", "srun", "squeue", "sinfo"}

// Start starts a cluster, once no other test cluster runs. It returns a
// non-empty skip reason, and no error, when this machine cannot run one
// (not root, packages missing, Slurm daemons that are not a test's).
func Start(o Options) (c *Cluster, skip string, err error) {
	if os.Geteuid() != 0 {
		return nil, "Slurm tests need root (prolog, munge, cgroups)", nil
	}
	for _, p := range required {
		if _, err := exec.LookPath(p); err != nil {
			return nil, fmt.Sprintf("%s not installed: apt-get install slurmctld slurmd slurm-client slurm-wlm-basic-plugins munge", p), nil
		}
	}
	if m, _ := filepath.Glob("/usr/lib/*/slurm-wlm/job_submit_lua.so"); len(m) == 0 {
		return nil, "job_submit_lua.so not found (slurm-wlm-basic-plugins)", nil
	}
	lock, err := lockMachine()
	if err != nil {
		return nil, err.Error(), nil
	}
	if pids := pidsOf("slurmctld", "slurmd"); len(pids) > 0 {
		lock.Close()
		return nil, fmt.Sprintf("a Slurm daemon is already running (pids %v): only one test cluster per machine", pids), nil
	}
	dir, err := os.MkdirTemp("", "softmig-slurm-")
	if err != nil {
		lock.Close()
		return nil, "", err
	}
	host, _ := os.Hostname()
	c = &Cluster{Dir: dir, ConfDir: filepath.Join(dir, "etc"), Out: filepath.Join(dir, "out"),
		LogDir: defs.LogDir(), Node: strings.SplitN(host, ".", 2)[0], lock: lock}
	c.SiteConfig = filepath.Join(c.ConfDir, "softmig.yaml")
	c.Env = append(os.Environ(), "SLURM_CONF="+filepath.Join(c.ConfDir, "slurm.conf"))
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, c.Logs())
			c.Stop()
			c = nil
		}
	}()
	if err := c.setup(o); err != nil {
		return nil, "", err
	}
	if err := c.startMunge(); err != nil {
		return nil, "", err
	}
	if o.Accounting {
		if c.NoAccounting = accountingMissing(); c.NoAccounting == "" {
			if _, err := c.startAccounting(); err != nil {
				return nil, "", fmt.Errorf("accounting: %w", err)
			}
		}
	}
	conf := filepath.Join(c.ConfDir, "slurm.conf")
	for _, d := range [][]string{{"slurmctld", "-c", "-i", "-f", conf}, {"slurmd", "-f", conf}} {
		if out, err := c.command(d[0], d[1:]...).CombinedOutput(); err != nil {
			return nil, "", fmt.Errorf("%s: %w: %s", d[0], err, out)
		}
	}
	for _, f := range []string{"slurmctld.pid", "slurmd.pid"} {
		if b, err := os.ReadFile(filepath.Join(dir, "run", f)); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				c.pids = append(c.pids, p)
			}
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := c.command("sinfo", "-h", "-o", "%T").Output()
		state := strings.TrimSpace(string(out))
		if state == "idle" {
			return c, "", nil
		}
		if time.Now().After(deadline) {
			return nil, "", fmt.Errorf("node not idle after 60 s (state %q)", state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) setup(o Options) error {
	for _, d := range []string{"etc", "state/ctld", "state/d", "run", "out", "user", "log"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, d), 0o755); err != nil {
			return err
		}
	}
	// Chmod: the umask may have narrowed what MkdirAll made.
	if err := os.Chmod(c.Dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(c.Out, 0o1777); err != nil {
		return err
	}
	// The built-in log directory, as softmig-install makes it (0755
	// root:root): the prolog creates each job's log, no user can add one.
	if err := os.Mkdir(c.LogDir, 0o755); err != nil && !os.IsExist(err) {
		return err
	}
	if err := os.Chmod(c.LogDir, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat("/dev/nvidia0"); err != nil {
		// A fake GPU: open() gives ENXIO, enough for Slurm's device cgroup.
		if err := syscall.Mknod("/dev/nvidia0", syscall.S_IFCHR|0o666, 195<<8); err != nil {
			return fmt.Errorf("mknod /dev/nvidia0: %w", err)
		}
	}
	if err := exec.Command("id", User).Run(); err != nil {
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", User).CombinedOutput(); err != nil {
			return fmt.Errorf("useradd %s: %w: %s", User, err, out)
		}
	}
	if out, err := exec.Command("chown", User+":", filepath.Join(c.Dir, "user")).CombinedOutput(); err != nil {
		return fmt.Errorf("chown: %w: %s", err, out)
	}
	files := map[string]string{
		"slurm.conf":   c.slurmConf(),
		"gres.conf":    fmt.Sprintf("AutoDetect=off\nNodeName=%s Name=gpu Type=l40s File=/dev/nvidia0\nNodeName=%s Name=shard Type=l40s Count=4 File=/dev/nvidia0\n", c.Node, c.Node),
		"cgroup.conf":  "CgroupPlugin=autodetect\nCgroupMountpoint=/sys/fs/cgroup\nConstrainCores=yes\nConstrainRAMSpace=yes\nConstrainDevices=yes\n",
		"softmig.yaml": o.SiteConfig,
	}
	logBin := o.SoftmigLog
	if logBin == "" {
		logBin = filepath.Join(filepath.Dir(o.SoftmigBin), "softmig-log")
	}
	env := fmt.Sprintf("SOFTMIG_CONF=%s SOFTMIG_SITE_CONFIG=%s SOFTMIG_LOG=%s SLURM_CONF=%s", o.SoftmigBin, c.SiteConfig, logBin, filepath.Join(c.ConfDir, "slurm.conf"))
	for _, s := range []string{"prolog", "epilog"} {
		files[s+".sh"] = fmt.Sprintf("#!/bin/sh\n# test wrapper: slurmd passes no environment of its own\n%s exec %s \"$@\"\n", env, filepath.Join(o.Repo, "slurm", s+".sh"))
	}
	// The task prolog reads this node's preload list, as if SoftMig were
	// enabled (the test machine's own /etc/ld.so.preload is left alone).
	lib := filepath.Join(c.Dir, "lib", "libsoftmig.so")
	if err := os.MkdirAll(filepath.Dir(lib), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		return err
	}
	files["ld.so.preload"] = lib + "\n"
	// The task prolog runs as the job's user: a copy beside slurm.conf,
	// where that user can reach it from a clone in a private directory.
	tp, err := os.ReadFile(filepath.Join(o.Repo, "slurm", "task_prolog.sh"))
	if err != nil {
		return err
	}
	files["softmig_task_prolog.sh"] = string(tp)
	files["task_prolog.sh"] = fmt.Sprintf("#!/bin/sh\n# test wrapper: the node's preload list is %[1]s/ld.so.preload\nexec %[1]s/softmig_task_prolog.sh %[1]s/ld.so.preload %[2]s %[3]s\n",
		c.ConfDir, RunDir, c.LogDir)
	// The lua table of GPU types comes from the site config, as on a node.
	if err := os.WriteFile(c.SiteConfig, []byte(o.SiteConfig), 0o644); err != nil {
		return err
	}
	types, err := exec.Command(o.SoftmigBin, "--config", c.SiteConfig, "gres-lua").Output()
	if err != nil {
		return fmt.Errorf("softmig-conf gres-lua: %w", err)
	}
	files["softmig_types.lua"] = string(types)
	for _, l := range []string{"job_submit.lua", "cli_filter.lua", "softmig_gres.lua"} {
		b, err := os.ReadFile(filepath.Join(o.Repo, "slurm", l))
		if err != nil {
			return err
		}
		files[l] = string(b)
	}
	for name, content := range o.Files {
		files[name] = content
	}
	for name, content := range files {
		if content == "" {
			continue
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(c.ConfDir, name), []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) slurmConf() string {
	d := c.Dir
	// Job ids from a random start: the job logs in the node's log
	// directory outlive a test cluster, and a new cluster's job 1 must not
	// append to an older one's log.
	return fmt.Sprintf("FirstJobId=%d\n", 1_000_000+rand.IntN(60_000_000)) + fmt.Sprintf(`ClusterName=softmigtest
SlurmctldHost=%[2]s(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=%[1]s/state/ctld
SlurmdSpoolDir=%[1]s/state/d
SlurmctldPidFile=%[1]s/run/slurmctld.pid
SlurmdPidFile=%[1]s/run/slurmd.pid
SlurmctldLogFile=%[1]s/log/slurmctld.log
SlurmdLogFile=%[1]s/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
GresTypes=gpu,shard
Prolog=%[3]s/prolog.sh
Epilog=%[3]s/epilog.sh
TaskProlog=%[3]s/task_prolog.sh
PrologFlags=Alloc
JobSubmitPlugins=lua
CliFilterPlugins=lua
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MpiDefault=none
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=%[2]s NodeAddr=127.0.0.1 CPUs=%[4]d RealMemory=2000 Gres=gpu:l40s:1,shard:l40s:4 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
`, d, c.Node, c.ConfDir, runtime.NumCPU())
}

func (c *Cluster) startMunge() error {
	if _, err := os.Stat("/etc/munge/munge.key"); err != nil {
		if out, err := exec.Command("mungekey", "-c", "-k", "/etc/munge/munge.key").CombinedOutput(); err != nil {
			return fmt.Errorf("mungekey: %w: %s", err, out)
		}
		if out, err := exec.Command("chown", "munge:", "/etc/munge/munge.key").CombinedOutput(); err != nil {
			return fmt.Errorf("chown munge: /etc/munge/munge.key: %w: %s", err, out)
		}
	}
	if exec.Command("sh", "-c", "munge -n | unmunge").Run() == nil {
		return nil // a munged is running already: use it, leave it running
	}
	if err := os.MkdirAll("/run/munge", 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("chown", "munge:", "/run/munge").CombinedOutput(); err != nil {
		return fmt.Errorf("chown munge: /run/munge: %w: %s", err, out)
	}
	if out, err := exec.Command("runuser", "-u", "munge", "--", "/usr/sbin/munged").CombinedOutput(); err != nil {
		return fmt.Errorf("munged: %w: %s", err, out)
	}
	if b, err := os.ReadFile("/run/munge/munged.pid"); err == nil {
		c.startedMunge, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	for i := 0; i < 50; i++ {
		if exec.Command("sh", "-c", "munge -n | unmunge").Run() == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("munged does not answer")
}

// lockPath serializes the test clusters of this machine: test packages
// run in parallel (and may run in private mount namespaces, so the lock
// lives in /tmp, which they share).
const lockPath = "/tmp/softmig-slurmtest.lock"

// lockMachine waits, up to 15 minutes, until no other test cluster runs.
func lockMachine() (*os.File, error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s to wait for other test clusters: %w", lockPath, err)
	}
	deadline := time.Now().Add(15 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another test cluster held %s for 15 minutes (%w)", lockPath, err)
		}
		time.Sleep(time.Second)
	}
}

// Reconfigure rewrites slurm.conf with edit, as an admin does, and tells
// Slurm (scontrol reconfigure); it returns once the controller has the new
// config.
func (c *Cluster) Reconfigure(edit func(conf string) string) error {
	path := filepath.Join(c.ConfDir, "slurm.conf")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(edit(string(b))), 0o644); err != nil {
		return err
	}
	if _, errOut, err := c.Run("", "scontrol", "reconfigure"); err != nil {
		return fmt.Errorf("scontrol reconfigure: %w: %s", err, errOut)
	}
	return nil
}

// Stop shuts the cluster down: scontrol shutdown, munged (when started
// here) stopped, leftover cgroup directories and the temp dir removed.
func (c *Cluster) Stop() {
	if c == nil {
		return
	}
	defer c.lock.Close()
	// Best effort throughout: what is already gone is no failure, and
	// what is left is killed.
	_ = c.command("scontrol", "shutdown").Run()
	waitGone(c.pids, 15*time.Second)
	for _, p := range c.pids {
		if alive(p) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	c.stopAccounting()
	if c.startedMunge > 0 && alive(c.startedMunge) {
		_ = syscall.Kill(c.startedMunge, syscall.SIGTERM)
		waitGone([]int{c.startedMunge}, 5*time.Second)
	}
	for _, pat := range []string{"/sys/fs/cgroup/*/slurm_" + c.Node, "/sys/fs/cgroup/*/slurm"} {
		dirs, _ := filepath.Glob(pat)
		for _, d := range dirs {
			removeCgroupTree(d)
		}
	}
	if os.Getenv("SOFTMIG_KEEP_SLURM") == "" {
		os.RemoveAll(c.Dir)
	}
}

func removeCgroupTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeCgroupTree(filepath.Join(dir, e.Name()))
		}
	}
	_ = syscall.Rmdir(dir) // a cgroup still in use stays: not this test's
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie waiting for PID 1 is as good as gone.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func waitGone(pids []int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		left := false
		for _, p := range pids {
			left = left || alive(p)
		}
		if !left {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pidsOf(names ...string) []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil {
			continue
		}
		for _, n := range names {
			if strings.TrimSpace(string(comm)) == n {
				p, _ := strconv.Atoi(filepath.Base(d))
				if alive(p) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = c.Env
	cmd.Dir = c.Out
	return cmd
}

// Run runs a Slurm client (or any program) with the cluster's environment,
// as user when user is not "", and returns its stdout, stderr and error.
func (c *Cluster) Run(user string, name string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if user != "" {
		args = append([]string{"-u", user, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = c.Env
	cmd.Dir = c.Out
	if user != "" {
		cmd.Dir = filepath.Join(c.Dir, "user")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// Sbatch submits a job (sbatch --parsable is added) and waits until it has
// left the queue, epilog included. It returns the job id and sbatch's stderr.
func (c *Cluster) Sbatch(user string, args ...string) (string, string, error) {
	out, errOut, err := c.Run(user, "sbatch", append([]string{"--parsable"}, args...)...)
	if err != nil {
		return "", errOut, fmt.Errorf("sbatch %v: %w: %s", args, err, errOut)
	}
	id := strings.TrimSpace(strings.SplitN(out, ";", 2)[0])
	return id, errOut, c.Wait(id)
}

// Wait waits until job id (every task of an array) has left PENDING,
// RUNNING and COMPLETING, which means its epilog is done.
func (c *Cluster) Wait(id string) error {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		out, _, err := c.Run("", "squeue", "-h", "-j", id)
		if err == nil && strings.TrimSpace(out) == "" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("job %s still queued after 90 s\n%s", id, c.Logs())
}

// JobField returns a field of `scontrol show job -o id` (first task).
func (c *Cluster) JobField(id, key string) string {
	out, _, _ := c.Run("", "scontrol", "show", "job", "-o", id)
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// NodeState returns the node's state as sinfo prints it (idle, drain, ...).
func (c *Cluster) NodeState() string {
	out, _, _ := c.Run("", "sinfo", "-h", "-o", "%T")
	return strings.TrimSpace(out)
}

// Logs returns the tails of the daemons' logs, for failure messages.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, f := range []string{"slurmctld.log", "slurmd.log"} {
		data, _ := os.ReadFile(filepath.Join(c.Dir, "log", f))
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		fmt.Fprintf(&b, "--- %s (tail)\n%s\n", f, strings.Join(lines, "\n"))
	}
	return b.String()
}
