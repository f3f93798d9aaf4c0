// SPDX-License-Identifier: Apache-2.0

// Tests of the Slurm integration on a real one-node cluster: prolog,
// epilog, job_submit.lua and cli_filter.lua with softmig-conf. All tests
// share one cluster, started once (only one can run on a machine).
package slurm_test

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/softmig/softmig/internal/slurmtest"
	"github.com/softmig/softmig/internal/testutil"
)

const siteConfig = `gpus:
  l40s:
    shards: 4
    memory: 48g
    denominators: [2, 4]
policy:
  sm_limit: fraction
`

var (
	once    sync.Once
	cluster *slurmtest.Cluster
	skip    string
	failure error
)

func TestMain(m *testing.M) {
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

func getCluster(t *testing.T) *slurmtest.Cluster {
	t.Helper()
	once.Do(func() {
		if os.Geteuid() != 0 {
			skip = "Slurm tests need root"
			return
		}
		testutil.Build(t, "tools")
		cluster, skip, failure = slurmtest.Start(slurmtest.Options{
			Repo:       testutil.Root(t),
			SoftmigBin: testutil.Path(t, "build/bin/softmig-conf"),
			SiteConfig: siteConfig,
			Accounting: true,
		})
	})
	if skip != "" {
		t.Skip(skip)
	}
	if failure != nil {
		t.Fatalf("cannot start the Slurm cluster: %v", failure)
	}
	return cluster
}

func confPath(id string) string   { return filepath.Join(slurmtest.RunDir, id+".conf") }
func regionPath(id string) string { return filepath.Join(slurmtest.RunDir, id+".region") }

// readOut returns a job's output file.
func readOut(t *testing.T, c *slurmtest.Cluster, id string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.Out, "job-"+id+".out"))
	if err != nil {
		t.Fatalf("job %s output: %v\n%s", id, err, c.Logs())
	}
	return string(b)
}

// showConf is what a job runs: its config, the config's owner and mode,
// the region's, and its cgroup.
var showConf = rd(`c=RUNDIR/$SLURM_JOB_ID.conf; r=RUNDIR/$SLURM_JOB_ID.region
cat $c; echo "conf_stat=$(stat -c '%U:%G:%a' $c)"; [ -e $r ] && echo "region_stat=$(stat -c '%U:%a:%s' $r)"
echo "shards=$SLURM_SHARDS_ON_NODE cvd=$CUDA_VISIBLE_DEVICES"; true`)

// rd puts the built-in run directory (where the library reads job
// configs) for RUNDIR in a job's script.
func rd(script string) string { return strings.ReplaceAll(script, "RUNDIR", slurmtest.RunDir) }

func submit(t *testing.T, c *slurmtest.Cluster, user string, args ...string) (string, string) {
	t.Helper()
	id, stderr, err := c.Sbatch(user, append([]string{"-o", filepath.Join(c.Out, "job-%j.out")}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if rc := c.JobField(id, "ExitCode"); rc != "0:0" {
		t.Fatalf("job %s ExitCode=%s; output:\n%s", id, rc, readOut(t, c, id))
	}
	return id, stderr
}

func assertGone(t *testing.T, id string) {
	t.Helper()
	for _, p := range []string{confPath(id), regionPath(id)} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s still exists after the job ended", p)
		}
	}
}

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

func mustNotContain(t *testing.T, what, got string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(got, b) {
			t.Errorf("%s has %q:\n%s", what, b, got)
		}
	}
}

func TestSlices(t *testing.T) {
	c := getCluster(t)
	// The quarter's time slot: no other test's job config may hold GPU 0's
	// slots in the node's run directory meanwhile.
	testutil.HoldSlotsAlone(t)
	for _, tc := range []struct {
		name, gres string
		want       []string
		bad        []string
	}{
		{"quarter", "gpu:l40s.4:1", []string{"\nCUDA_DEVICE_MEMORY_LIMIT=12288M\n", "\nCUDA_DEVICE_MEMORY_LIMIT_0=12288M\n", "\nCUDA_DEVICE_SM_LIMIT=25\n", "\nCUDA_DEVICE_SM_LIMIT_0=25\n", "\nSOFTMIG_SM_SLOT_0=", "\nSOFTMIG_GPU_0=", "shards=1 cvd=0"}, nil},
		{"half", "gpu:l40s.2:1", []string{"\nCUDA_DEVICE_MEMORY_LIMIT=24576M\n", "\nCUDA_DEVICE_SM_LIMIT=50\n", "shards=2 cvd=0"}, nil},
		{"half without count", "gpu:l40s.2", []string{"\nCUDA_DEVICE_MEMORY_LIMIT=24576M\n", "shards=2"}, nil},
		{"whole", "gpu:l40s:1", []string{"whole GPU, no limit", "cvd=0", "\nSOFTMIG_GPU_0="}, []string{"CUDA_DEVICE_MEMORY_LIMIT", "CUDA_DEVICE_SM_LIMIT", "SOFTMIG_DISABLED", "SOFTMIG_SM_SLOT"}},
		{"whole as .1", "gpu:l40s.1:1", []string{"whole GPU, no limit"}, []string{"CUDA_DEVICE_MEMORY_LIMIT"}},
		{"raw shards", "shard:l40s:3", []string{"\nCUDA_DEVICE_MEMORY_LIMIT=36864M\n", "\nCUDA_DEVICE_SM_LIMIT=75\n"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, _ := submit(t, c, "", "--gres="+tc.gres, "--wrap", showConf)
			out := readOut(t, c, id)
			mustContain(t, "job "+id+" output", out, append(tc.want,
				"\nSOFTMIG_REGION="+regionPath(id)+"\n",
				"# job="+id+" user=root uid=0 ",
				"conf_stat=root:root:644", "region_stat=root:600:0")...)
			mustNotContain(t, "job "+id+" output", out, append(tc.bad, "SOFTMIG_DISABLED")...)
			slotFitsShare(t, out)
			assertGone(t, id)
		})
	}
}

// slotFitsShare: a job's time slot is as wide as its SM share (where on
// the GPU it lies depends on the slots other jobs of the node hold).
func slotFitsShare(t *testing.T, conf string) {
	t.Helper()
	slot := regexp.MustCompile(`\nSOFTMIG_SM_SLOT_0=(\d+)-(\d+)\n`).FindStringSubmatch(conf)
	limit := regexp.MustCompile(`\nCUDA_DEVICE_SM_LIMIT_0=(\d+)\n`).FindStringSubmatch(conf)
	if slot == nil || limit == nil {
		return
	}
	a, _ := strconv.Atoi(slot[1])
	b, _ := strconv.Atoi(slot[2])
	if l, _ := strconv.Atoi(limit[1]); b-a != l {
		t.Errorf("time slot %s-%s is %d %% wide for an SM limit of %d %%", slot[1], slot[2], b-a, l)
	}
}

func TestNoGPUNoConfig(t *testing.T) {
	c := getCluster(t)
	id, _ := submit(t, c, "", "--wrap", rd("ls RUNDIR/$SLURM_JOB_ID.conf 2>&1; true"))
	mustContain(t, "output", readOut(t, c, id), "No such file")
}

func TestInvalidRequests(t *testing.T) {
	c := getCluster(t)
	for _, tc := range []struct{ name, args, want string }{
		{"denominator not allowed", "--gres=gpu:l40s.3:1", "sbatch: error: SoftMig: --gres=gpu:l40s.3:1: l40s.3 is not an allowed slice; l40s GPUs are split into 4 shards; use l40s.2 (half), l40s.4 (quarter), l40s (whole GPU)"},
		{"denominator over shards", "--gres=gpu:l40s.8:1", "l40s.8 is not an allowed slice"},
		{"denominator zero", "--gres=gpu:l40s.0:1", "'l40s.0' is not a slice"},
		{"count 2", "--gres=gpu:l40s.2:2", "sbatch: error: SoftMig: --gres=gpu:l40s.2:2 asks for 2 slices; a job gets one slice, so the count must be 1"},
		{"mixed", "--gres=gpu:l40s.2:1,gpu:l40s.4:1", "sbatch: error: SoftMig: --gres=gpu:l40s.2:1,gpu:l40s.4:1: a job gets one GPU slice, not combined"},
		{"slice and whole", "--gres=gpu:l40s.2:1,gpu:l40s:1", "a job gets one GPU slice, not combined"},
		{"unknown type", "--gres=gpu:a100.2:1", "GPU type 'a100' cannot be sliced here"},
		{"slice with --gpus", "--gpus=l40s.2:1", "not with --gpus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := c.Run("", "sbatch", "--parsable", tc.args, "--wrap", "true")
			if err == nil {
				c.Wait(strings.TrimSpace(out))
				t.Fatalf("sbatch %s was accepted (job %s); stderr: %s", tc.args, out, stderr)
			}
			mustContain(t, "sbatch stderr", stderr, tc.want, "Invalid generic resource (gres) specification")
			mustNotContain(t, "sbatch stderr", stderr, "Unspecified error")
		})
	}
}

// job_submit.lua is the authoritative rewrite: a user can bypass
// cli_filter.lua with a slurm.conf of their own.
func TestJobSubmitWithoutCliFilter(t *testing.T) {
	c := getCluster(t)
	data, err := os.ReadFile(filepath.Join(c.ConfDir, "slurm.conf"))
	if err != nil {
		t.Fatal(err)
	}
	nocli := filepath.Join(c.Dir, "slurm-nocli.conf")
	if err := os.WriteFile(nocli, regexp.MustCompile(`(?m)^CliFilterPlugins=.*\n`).ReplaceAll(data, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	old := c.Env
	c.Env = append(append([]string{}, old...), "SLURM_CONF="+nocli)
	defer func() { c.Env = old }()
	id, stderr := submit(t, c, "", "--gres=gpu:l40s.4:1", "--wrap", showConf)
	mustContain(t, "sbatch stderr", stderr, "sbatch: SoftMig: GPU slice gpu:l40s.4:1 = shard:l40s:1")
	mustContain(t, "output", readOut(t, c, id), "CUDA_DEVICE_MEMORY_LIMIT=12288M", "shards=1")
	if got := c.JobField(id, "TresPerNode"); got != "gres:shard:l40s:1" {
		t.Errorf("TresPerNode=%s, want gres:shard:l40s:1", got)
	}
	_, stderr, err = c.Run("", "sbatch", "--gres=gpu:l40s.2:2", "--wrap", "true")
	if err == nil {
		t.Fatal("count 2 accepted without cli_filter")
	}
	mustContain(t, "sbatch stderr", stderr, "count must be 1")
}

// A plain srun with a slice works through cli_filter.lua.
func TestSrun(t *testing.T) {
	c := getCluster(t)
	out, stderr, err := c.Run("", "srun", "--gres=gpu:l40s.2:1", "sh", "-c", rd(`echo shards=$SLURM_SHARDS_ON_NODE; grep -x 'CUDA_DEVICE_MEMORY_LIMIT=24576M' RUNDIR/$SLURM_JOB_ID.conf`))
	if err != nil {
		t.Fatalf("srun: %v\n%s\n%s", err, stderr, c.Logs())
	}
	mustContain(t, "srun output", out, "shards=2", "CUDA_DEVICE_MEMORY_LIMIT=24576M")
	_, stderr, err = c.Run("", "srun", "--gres=gpu:l40s.3:1", "true")
	if err == nil {
		t.Fatal("srun accepted l40s.3")
	}
	mustContain(t, "srun stderr", stderr, "srun: error: SoftMig: --gres=gpu:l40s.3:1: l40s.3 is not an allowed slice")
}

func TestArrayJob(t *testing.T) {
	c := getCluster(t)
	id, _ := submit(t, c, "", "--array=0-2", "--gres=gpu:l40s.4:1", "--wrap",
		rd(`echo "task=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} id=$SLURM_JOB_ID"; cat RUNDIR/$SLURM_JOB_ID.conf`))
	outs, _ := filepath.Glob(filepath.Join(c.Out, "job-*.out"))
	seen := map[string]bool{}
	for _, f := range outs {
		b, _ := os.ReadFile(f)
		s := string(b)
		m := regexp.MustCompile(`task=` + id + `_(\d) id=(\d+)`).FindStringSubmatch(s)
		if m == nil {
			continue
		}
		seen[m[1]] = true
		mustContain(t, f, s, "# job="+m[2]+" ", "# array="+id+"_"+m[1], "CUDA_DEVICE_MEMORY_LIMIT=12288M", "SOFTMIG_REGION="+regionPath(m[2]))
		assertGone(t, m[2])
	}
	if len(seen) != 3 {
		t.Fatalf("array %s: configs seen for tasks %v, want 0, 1 and 2", id, seen)
	}
}

func TestUserCannotWriteRunDir(t *testing.T) {
	c := getCluster(t)
	script := rd(`c=RUNDIR/$SLURM_JOB_ID.conf; echo "id=$(id -un)"
grep -q CUDA_DEVICE_MEMORY_LIMIT= $c && echo CAN_READ
touch RUNDIR/evil 2>/dev/null && echo CAN_CREATE
echo CUDA_DEVICE_MEMORY_LIMIT=1t 2>/dev/null >> $c && echo CAN_APPEND
rm -f $c 2>/dev/null && echo CAN_REMOVE
mv $c RUNDIR/x 2>/dev/null && echo CAN_RENAME
ln -s /tmp/x RUNDIR/$SLURM_JOB_ID.x 2>/dev/null && echo CAN_LINK
echo "region=$(stat -c %U RUNDIR/$SLURM_JOB_ID.region)"; true`)
	id, stderr, err := c.Sbatch(slurmtest.User, "-o", filepath.Join(c.Out, "job-%j.out"), "--gres=gpu:l40s.4:1", "--wrap", script)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	out := readOut(t, c, id)
	mustContain(t, "output", out, "id="+slurmtest.User, "CAN_READ", "region="+slurmtest.User)
	mustNotContain(t, "output", out, "CAN_CREATE", "CAN_APPEND", "CAN_REMOVE", "CAN_RENAME", "CAN_LINK")
}

// The prolog creates a GPU job's log in the root-only log directory, owned
// by the job's user (0600): the job appends to it and can add no other file.
func TestJobLogOwnedByUser(t *testing.T) {
	c := getCluster(t)
	script := `l=` + c.LogDir + `; echo "appended by the job" >> $l/$SLURM_JOB_ID.log && echo CAN_APPEND
touch $l/evil-$SLURM_JOB_ID.log 2>/dev/null && echo CAN_CREATE; true`
	id, stderr, err := c.Sbatch(slurmtest.User, "-o", filepath.Join(c.Out, "job-%j.out"), "--gres=gpu:l40s.4:1", "--wrap", script)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	// What the job made where it must not is not left for the next run.
	t.Cleanup(func() { os.Remove(filepath.Join(c.LogDir, "evil-"+id+".log")) })
	out := readOut(t, c, id)
	mustContain(t, "output", out, "CAN_APPEND")
	mustNotContain(t, "output", out, "CAN_CREATE")
	p := filepath.Join(c.LogDir, id+".log")
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatalf("no job log: %v", err)
	}
	u, err := user.Lookup(slurmtest.User)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(st.Uid) != u.Uid || st.Mode&0o7777 != 0o600 || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		t.Errorf("%s: uid %d mode %#o, want a file of uid %s mode 0600", p, st.Uid, st.Mode, u.Uid)
	}
	b, _ := os.ReadFile(p)
	mustContain(t, "job log", string(b), "appended by the job")
}

// The job's identity comes from its cgroup (contract 1), which the job
// cannot change: SLURM_JOB_ID in the environment does not matter.
func TestJobCgroup(t *testing.T) {
	c := getCluster(t)
	id, _ := submit(t, c, "", "--gres=gpu:l40s.4:1", "--wrap", `env -u SLURM_JOB_ID cat /proc/self/cgroup; SLURM_JOB_ID=1 cat /proc/self/cgroup`)
	out := readOut(t, c, id)
	n := strings.Count(out, "/job_"+id+"/")
	if n < 2 {
		t.Fatalf("job %s: /proc/self/cgroup does not name job_%s in both runs:\n%s", id, id, out)
	}
}

// A problem with one job fails that job closed and leaves the node up.
func TestFailClosed(t *testing.T) {
	c := getCluster(t)
	good, err := os.ReadFile(c.SiteConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.WriteFile(c.SiteConfig, good, 0o644); err != nil {
			t.Fatalf("restoring the site config: %v", err)
		}
	}()
	for _, tc := range []struct{ name, site, want string }{
		{"broken site config", "gpus:\n  l40s:\n    shardz: 4\n", `unknown key \"shardz\"`},
		{"type missing", "gpus:\n  h100:\n    shards: 8\n    memory: 80g\n", `GPU type \"l40s\" (GPU 0) is not in the site config`},
		{"memory unknown", "gpus:\n  l40s:\n    shards: 4\n", "set gpus.l40s.memory"},
		{"run dir moved", siteConfig + "paths:\n  run_dir: /srv/softmig\n", `paths.run_dir: \"/srv/softmig\": this directory is set at build time`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(c.SiteConfig, []byte(tc.site), 0o644); err != nil {
				t.Fatal(err)
			}
			id, _ := submit(t, c, "", "--gres=gpu:l40s.4:1", "--wrap", showConf)
			out := readOut(t, c, id)
			mustContain(t, "output", out, "SOFTMIG_DISABLED=the Slurm prolog on "+c.Node+" could not set up this job's GPU slice", "conf_stat=root:root:644")
			mustNotContain(t, "output", out, "CUDA_DEVICE_MEMORY_LIMIT=")
			if s := c.NodeState(); s != "idle" {
				t.Fatalf("node %s after a failed-closed job, want idle", s)
			}
			log, err := os.ReadFile(filepath.Join(c.LogDir, id+".log"))
			if err != nil {
				t.Fatalf("no job log: %v", err)
			}
			mustContain(t, "job log", string(log), "level=error job="+id+" ", `msg="config error"`, tc.want)
			assertGone(t, id)
		})
	}
	// A mistake in a key the prolog does not need leaves the slice alone.
	if err := os.WriteFile(c.SiteConfig, []byte(siteConfig+"paths:\n  nvidia_smi_real: nvidia-smi.real\nmonitoring: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id, _ := submit(t, c, "", "--gres=gpu:l40s.4:1", "--wrap", showConf)
	out := readOut(t, c, id)
	mustContain(t, "output with a site config warning", out, "CUDA_DEVICE_MEMORY_LIMIT=12288M")
	mustNotContain(t, "output with a site config warning", out, "SOFTMIG_DISABLED")
	// Non-GPU jobs are not affected by a broken site config.
	if err := os.WriteFile(c.SiteConfig, []byte("bogus: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id, _ = submit(t, c, "", "--wrap", "true")
	if _, err := os.Lstat(confPath(id)); err == nil {
		t.Errorf("job %s without GPU got a config", id)
	}
}

// A job running a program on the simulated GPU under the library sees its
// slice and is refused past it, whatever it does with SLURM_JOB_ID.
func TestSimulatedGPU(t *testing.T) {
	c := getCluster(t)
	root := testutil.Root(t)
	needC(t, root)
	memtest := filepath.Join(root, "build/test/memtest")
	if _, err := os.Stat(memtest); err != nil {
		t.Skip("build/test/memtest does not exist yet (test/cprog/memtest.c)")
	}
	state := filepath.Join(c.Out, "sim.state")
	env := fmt.Sprintf("LD_PRELOAD=%s/build/libsoftmig.so LD_LIBRARY_PATH=%s/build/sim SOFTMIG_SIM_STATE=%s SOFTMIG_SIM_MEMORY=48g",
		root, root, state)
	const gib = 1 << 30
	script := fmt.Sprintf(`export %s
%[2]s alloc %[3]d; %[2]s alloc %[4]d
env -u SLURM_JOB_ID %[2]s alloc %[4]d
SLURM_JOB_ID=1 %[2]s alloc %[4]d; true`, env, memtest, 11*gib, 13*gib)
	id, _ := submit(t, c, "", "--gres=gpu:l40s.4:1", "--wrap", script)
	out := readOut(t, c, id)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	total := fmt.Sprintf("total=%d ", 12*gib)
	if strings.Count(out, total) != 4 {
		t.Errorf("the job does not see a 12 GiB GPU in all 4 runs:\n%s", out)
	}
	if strings.Count(out, "alloc=OK") != 1 || strings.Count(out, "alloc=ERR") != 3 {
		t.Errorf("want 11 GiB allowed and 13 GiB refused 3 times (also without or with another SLURM_JOB_ID):\n%s", strings.Join(lines, "\n"))
	}
}

// needC skips when the library or the simulator do not exist yet, and
// builds them when they do (a build failure is then a failure).
func needC(t *testing.T, root string) {
	t.Helper()
	for _, g := range []string{"preload/*.c", "sim/*.c"} {
		if m, _ := filepath.Glob(filepath.Join(root, g)); len(m) == 0 {
			t.Skipf("no %s yet: the preload library or the simulated GPU is not written", g)
		}
	}
	testutil.Build(t, "lib", "sim", "cprogs")
}

// The task prolog binds SoftMig into the job's containers through the
// environment (APPTAINER_BINDPATH), which slurmd sets in the batch script
// and in every step; a user's own binds stay first, and a step inside the
// job does not name SoftMig's twice.
func TestTaskPrologBinds(t *testing.T) {
	c := getCluster(t)
	soft := strings.Join([]string{filepath.Join(c.ConfDir, "ld.so.preload") + ":/etc/ld.so.preload",
		filepath.Join(c.Dir, "lib", "libsoftmig.so"), slurmtest.RunDir, c.LogDir}, ",")
	id, _ := submit(t, c, "", "--gres=gpu:l40s.4:1", "--export=ALL,APPTAINER_BINDPATH=/srv/data",
		"--wrap", `echo "batch=$APPTAINER_BINDPATH"; srun sh -c 'echo "step=$APPTAINER_BINDPATH"'`)
	out := readOut(t, c, id)
	mustContain(t, "job output", out, "batch=/srv/data,"+soft+"\n", "step=/srv/data,"+soft+"\n")
}
