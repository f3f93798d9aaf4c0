// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/logrec"
	"github.com/softmig/softmig/internal/siteconf"
	"github.com/softmig/softmig/internal/slurm"
	"github.com/softmig/softmig/internal/testutil"
)

const gib = 1 << 30

func TestFraction(t *testing.T) {
	for _, tc := range []struct{ total, num, den, want uint64 }{
		{48 * gib, 1, 4, 12 * gib},
		{48 * gib, 2, 4, 24 * gib},
		{48 * gib, 3, 4, 36 * gib},
		{48 * gib, 4, 4, 48 * gib},
		{80 * gib, 1, 8, 10 * gib},
		{46068 << 20, 1, 4, 11517 << 20},
		{10, 1, 3, 3},
		{^uint64(0), 3, 4, 13835058055282163711}, // exact: no overflow, rounded down
	} {
		if got := fraction(tc.total, tc.num, tc.den); got != tc.want {
			t.Errorf("fraction(%d, %d, %d) = %d, want %d", tc.total, tc.num, tc.den, got, tc.want)
		}
	}
}

func site(t *testing.T, y string) *siteconf.Config {
	t.Helper()
	c, err := siteconf.Parse(strings.NewReader(y), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func noNVML(int) (uint64, error) { return 0, errors.New("no NVML here") }

func TestLimits(t *testing.T) {
	four := site(t, "gpus:\n  l40s:\n    shards: 4\n    memory: 48g\n")
	eight := site(t, "gpus:\n  h100:\n    shards: 8\n  l40s:\n    shards: 4\n    memory: 48g\npolicy:\n  sm_limit: none\n  oom_killer: true\n  log_level: 1\n")
	for _, tc := range []struct {
		name  string
		site  *siteconf.Config
		gres  string
		order []int
		want  []string // config lines, comments left out
		err   string
	}{
		{"quarter", four, "shard:l40s:1(IDX:0)", nil, []string{"CUDA_DEVICE_MEMORY_LIMIT=12288M", "CUDA_DEVICE_MEMORY_LIMIT_0=12288M", "CUDA_DEVICE_SM_LIMIT=25", "CUDA_DEVICE_SM_LIMIT_0=25", "SOFTMIG_SLICE_0=l40s.4"}, ""},
		{"half", four, "shard:l40s:2(IDX:0)", nil, []string{"CUDA_DEVICE_MEMORY_LIMIT=24576M", "CUDA_DEVICE_MEMORY_LIMIT_0=24576M", "CUDA_DEVICE_SM_LIMIT=50", "CUDA_DEVICE_SM_LIMIT_0=50", "SOFTMIG_SLICE_0=l40s.2"}, ""},
		{"three quarters, exactly", four, "shard:l40s:3(IDX:1)", nil, []string{"CUDA_DEVICE_MEMORY_LIMIT=36864M", "CUDA_DEVICE_MEMORY_LIMIT_0=36864M", "CUDA_DEVICE_SM_LIMIT=75", "CUDA_DEVICE_SM_LIMIT_0=75", "SOFTMIG_SLICE_0=l40s:3/4"}, ""},
		{"mixed request summed exactly", four, "shard:l40s:2(IDX:0),shard:l40s:1(IDX:0)", nil, []string{"CUDA_DEVICE_MEMORY_LIMIT=36864M", "CUDA_DEVICE_MEMORY_LIMIT_0=36864M", "CUDA_DEVICE_SM_LIMIT=75", "CUDA_DEVICE_SM_LIMIT_0=75", "SOFTMIG_SLICE_0=l40s:3/4"}, ""},
		{"whole", four, "gpu:l40s:1(IDX:0)", nil, nil, ""},
		{"two whole", four, "gpu:l40s:2(IDX:0-1)", nil, nil, ""},
		{"whole and slice", four, "gpu:l40s:1(IDX:1),shard:l40s:1(IDX:0)", nil, []string{"CUDA_DEVICE_MEMORY_LIMIT_0=12288M", "CUDA_DEVICE_SM_LIMIT_0=25", "SOFTMIG_SLICE_0=l40s.4"}, ""},
		{"slices on two GPUs", four, "shard:l40s:1(IDX:2),shard:l40s:2(IDX:0)", []int{0, 2}, []string{"CUDA_DEVICE_MEMORY_LIMIT_0=24576M", "CUDA_DEVICE_MEMORY_LIMIT_1=12288M", "CUDA_DEVICE_SM_LIMIT_0=50", "CUDA_DEVICE_SM_LIMIT_1=25", "SOFTMIG_SLICE_0=l40s.2", "SOFTMIG_SLICE_1=l40s.4"}, ""},
		{"eighth from NVML, no SM, policy", eight, "shard:h100:1(IDX:0)", nil, []string{"CUDA_DEVICE_MEMORY_LIMIT=10240M", "CUDA_DEVICE_MEMORY_LIMIT_0=10240M", "SOFTMIG_SLICE_0=h100.8", "ACTIVE_OOM_KILLER=1", "SOFTMIG_LOG_LEVEL=1"}, ""},
		{"whole gets log level, no OOM killer", eight, "gpu:h100:1(IDX:0)", nil, []string{"SOFTMIG_LOG_LEVEL=1"}, ""},
		{"untyped with one type", four, "shard:1(IDX:0)", nil, []string{"CUDA_DEVICE_MEMORY_LIMIT=12288M", "CUDA_DEVICE_MEMORY_LIMIT_0=12288M", "CUDA_DEVICE_SM_LIMIT=25", "CUDA_DEVICE_SM_LIMIT_0=25", "SOFTMIG_SLICE_0=l40s.4"}, ""},
		{"untyped with two types", eight, "shard:1(IDX:0)", nil, nil, "untyped shards"},
		{"unknown type", four, "shard:a100:1(IDX:0)", nil, nil, `GPU type "a100" (GPU 0) is not in the site config: add gpus.a100`},
		{"more shards than the GPU has", four, "shard:l40s:5(IDX:0)", nil, nil, "holds 5 shards of GPU 0 but the site config says a l40s has 4"},
		{"spread shards", four, "shard:l40s:2(IDX:0-1)", nil, nil, "cannot be attributed to one GPU"},
		{"shards without index", four, "shard:l40s(CNT:2)", nil, nil, "cannot be attributed"},
		{"order names another GPU", four, "shard:l40s:1(IDX:0)", []int{1}, nil, "SLURM_JOB_GPUS lists GPU 1"},
		{"order misses a GPU", four, "gpu:l40s:2(IDX:0-1)", []int{1}, nil, "does not list every GPU"},
		{"no memory, no NVML", eight, "shard:h100:1(IDX:3)", nil, nil, "memory of GPU 3 (h100) is not in the site config and NVML cannot tell it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gres, err := slurm.ParseGres(tc.gres)
			if err != nil {
				t.Fatal(err)
			}
			mem := func(i int) (uint64, error) {
				if i == 0 {
					return 80 * gib, nil
				}
				return noNVML(i)
			}
			var c *jobconf.Config
			devs, err := devices(gres, tc.order)
			if err == nil {
				c, _, err = limits(tc.site, devs, mem)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(c.Lines(), "\n"); got != strings.Join(tc.want, "\n") {
				t.Fatalf("config lines:\n%s\nwant:\n%s", got, strings.Join(tc.want, "\n"))
			}
		})
	}
}

// env returns a getenv over a prolog environment.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

type fixture struct {
	dir, site, run, logs, info, gres string
	gpus                             gpusFunc
}

func newFixture(t *testing.T, siteYAML, scontrol string) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	if err := os.Chmod(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f.site = filepath.Join(f.dir, "softmig.yaml")
	f.run = filepath.Join(f.dir, "run")
	f.logs = filepath.Join(f.dir, "log")
	f.info = filepath.Join(f.dir, "scontrol.txt")
	f.gres = filepath.Join(f.dir, "gres.conf") // none unless a test writes it
	f.gpus = func() ([]gpuInfo, error) { return nil, errors.New("no NVML here") }
	if err := os.Mkdir(f.logs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.site, []byte(siteYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.info, []byte(scontrol), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) runConf(t *testing.T, e func(string) string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(e, strings.NewReader(""), &out, &errb)
	f.setup(a)
	all := append([]string{"--config", f.site}, args...)
	if len(args) > 0 && args[0] == "check" {
		all = append(all, "--gres-conf", f.gres)
	}
	err := a.run(all)
	return out.String(), errb.String(), err
}

// setup points a at the fixture: its directories stand for the built-in
// ones, which no flag can change.
func (f *fixture) setup(a *app) {
	a.memory = noNVML
	a.gpus = f.gpus
	a.now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	a.runDir, a.logDir = f.run, f.logs
}

const site4 = "gpus:\n  l40s:\n    shards: 4\n    memory: 48g\n"

func line(id, gres string) string {
	return "JobId=" + id + " JobName=x UserId=alice(1001) JobState=RUNNING JOB_GRES=" + gres + "   Nodes=vm CPU_IDs=0 Mem=256 GRES=" + gres + " MinCPUsNode=1 TresPerNode=gres:" + gres + "\n"
}

func requireRoot(t *testing.T) {
	testutil.NeedRoot(t, "softmig-conf write makes root-owned configs")
}

func TestWrite(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, site4, line("42", "shard:l40s:1(IDX:0)"))
	e := env("SLURM_JOB_ID=42", "SLURM_JOB_UID=1001", "SLURM_JOB_GID=1002", "SLURM_JOB_USER=alice", "SLURM_JOB_GPUS=0", "SLURMD_NODENAME=vm")
	out, _, err := f.runConf(t, e, "write", "--job-info", f.info)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(f.run, "42.conf")
	data, _ := os.ReadFile(conf)
	want := `# SoftMig job config, written by softmig-conf for the Slurm prolog; do not edit.
# job=42 user=alice uid=1001 node=vm date=2026-11-25T12:00:00Z
# request=gres:shard:l40s:1(IDX:0) allocation=shard:l40s:1(IDX:0)
# CUDA device 0 = GPU 0 (l40s): 1 of 4 shards = 12288M of 49152M, SM 25%
# time policy lend (softmig.yaml: partitions.<name>.time, gpus.<type>.time, policy.time)
# CUDA device 0 = GPU 0: time slot 0-25 of the period (1 of 4 units)
CUDA_DEVICE_MEMORY_LIMIT=12288M
CUDA_DEVICE_MEMORY_LIMIT_0=12288M
CUDA_DEVICE_SM_LIMIT=25
CUDA_DEVICE_SM_LIMIT_0=25
SOFTMIG_SM_SLOT_0=0-25
SOFTMIG_GPU_0=0
SOFTMIG_SLICE_0=l40s.4
SOFTMIG_REGION=` + f.run + `/42.region
SOFTMIG_UID=1001
SOFTMIG_TIME_POLICY=lend
`
	if string(data) != want {
		t.Fatalf("config:\n%s\nwant:\n%s", data, want)
	}
	if out != "# "+conf+"\n"+want {
		t.Fatalf("stdout:\n%s", out)
	}
	if _, err := jobconf.Load(conf); err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	fi, err := os.Lstat(filepath.Join(f.run, "42.region"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != 0o600 || st.Uid != 1001 || st.Gid != 1002 || fi.Size() != 0 {
		t.Fatalf("region %v uid %d gid %d size %d, want empty -rw------- 1001:1002", fi.Mode(), st.Uid, st.Gid, fi.Size())
	}
	if dfi, _ := os.Stat(f.run); dfi.Mode().Perm() != 0o755 {
		t.Fatalf("run dir mode %v", dfi.Mode())
	}
	// Written again (a requeued job): the region is replaced, not followed.
	os.Remove(filepath.Join(f.run, "42.region"))
	if err := os.Symlink("/etc/passwd", filepath.Join(f.run, "42.region")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.runConf(t, e, "write", "--job-info", f.info); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(filepath.Join(f.run, "42.region")); !fi.Mode().IsRegular() {
		t.Fatal("region is still a symlink")
	}

	out, _, err = f.runConf(t, e, "show", "42")
	if err != nil || !strings.Contains(out, "CUDA_DEVICE_MEMORY_LIMIT=12288M") || !strings.Contains(out, "# region: ") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	for i := 0; i < 2; i++ {
		if _, _, err := f.runConf(t, e, "remove", "42"); err != nil {
			t.Fatalf("remove #%d: %v", i+1, err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(f.run, "*")); len(m) != 1 || m[0] != filepath.Join(f.run, slotLockName) {
		t.Fatalf("left after remove: %v", m)
	}
	if _, _, err := f.runConf(t, e, "show", "42"); err == nil || !strings.Contains(err.Error(), "no config for job 42") {
		t.Fatalf("show of a removed job: %v", err)
	}
}

func TestWriteStdinAndDryRun(t *testing.T) {
	f := newFixture(t, site4, "")
	var out, errb bytes.Buffer
	a := newApp(env("SLURM_JOB_ID=7", "SLURM_JOB_UID=5"), strings.NewReader(line("7", "shard:l40s:2(IDX:0)")), &out, &errb)
	f.setup(a)
	if err := a.run([]string{"--config", f.site, "write", "--dry-run", "--job-info", "-"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "# dry run: would write "+f.run+"/7.conf") || !strings.Contains(out.String(), "CUDA_DEVICE_MEMORY_LIMIT=24576M") {
		t.Fatalf("dry run printed:\n%s", out.String())
	}
	if _, err := os.Stat(f.run); err == nil {
		t.Fatal("dry run created the run directory")
	}
}

func TestWriteNoGPU(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, site4, "JobId=8 UserId=a(1) Nodes=vm CPU_IDs=0 GRES= MinCPUsNode=1\n")
	if err := os.Mkdir(f.run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.run, "8.conf"), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := f.runConf(t, env("SLURM_JOB_ID=8"), "write", "--job-info", f.info)
	if err != nil || !strings.Contains(out, "no GPU") {
		t.Fatalf("write: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(f.run, "8.conf")); err == nil {
		t.Fatal("a stale config of a job without GPU was left in place")
	}
	// Without job info and without GPUs in the environment: nothing to do.
	out, stderr, err := f.runConf(t, env("SLURM_JOB_ID=8"), "write", "--job-info", filepath.Join(f.dir, "missing"))
	if err != nil || !strings.Contains(stderr, "no GPU in its environment") {
		t.Fatalf("write: %v\n%s%s", err, out, stderr)
	}
}

func TestWriteFailsClosed(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct{ name, site, info, env, want string }{
		{"broken site config", "gpus: [", line("9", "shard:l40s:1(IDX:0)"), "", "site config: invalid site config"},
		{"type not configured", "gpus:\n  h100:\n    shards: 8\n    memory: 80g\n", line("9", "shard:l40s:1(IDX:0)"), "", `GPU type "l40s"`},
		{"scontrol fails", site4, "slurm_load_jobs error: Invalid job id specified", "SLURM_JOB_GPUS=0", "cannot parse Slurm output"},
		{"spread shards", site4, line("9", "shard:l40s:2(IDX:0-1)"), "", "cannot be attributed"},
		// The library reads job configs only in the built-in directory.
		{"moved run dir", site4 + "paths:\n  run_dir: /srv/softmig\n", line("9", "shard:l40s:1(IDX:0)"), "", `paths.run_dir: "/srv/softmig": this directory is set at build time`},
		{"moved log dir", site4 + "paths:\n  log_dir: /srv/log\n", line("9", "shard:l40s:1(IDX:0)"), "", "make LOGDIR=/srv/log"},
		// Two errors: a reason of several lines, still one log record.
		{"two errors", "gpus:\n  l40s:\n    shards: 0\npolicy:\n  sm_limit: half\n", line("9", "shard:l40s:1(IDX:0)"), "", `softmig.yaml:5: policy.sm_limit: "half"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.site, tc.info)
			e := env("SLURM_JOB_ID=9", "SLURM_JOB_UID=1001", "SLURMD_NODENAME=vm", tc.env)
			_, _, err := f.runConf(t, e, "write", "--job-info", f.info)
			if !errors.Is(err, errFailedClosed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("write error %v, want errFailedClosed with %q", err, tc.want)
			}
			c, err := jobconf.Load(filepath.Join(f.run, "9.conf"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(c.Disabled, "the Slurm prolog on vm could not set up this job's GPU slice: ") || !strings.Contains(c.Disabled, tc.want) || c.MemoryLimit != 0 || c.Region != "" {
				t.Fatalf("failed-closed config %+v", c)
			}
			log, err := os.ReadFile(filepath.Join(f.logs, "9.log"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(log), "ts=2026-11-25T12:00:00.000000Z level=error job=9 pid=") || !strings.Contains(string(log), `msg="config error" path=`+f.run+`/9.conf reason="the Slurm prolog`) {
				t.Fatalf("log line: %s", log)
			}
			if tc.name == "two errors" && !strings.Contains(string(log), `shards: \"0\"`) || tc.name == "two errors" && !strings.Contains(string(log), `\n`) {
				t.Fatalf("the reason of two errors should hold both, with an escaped newline:\n%s", log)
			}
			if err := logrec.Canonical(string(log)); err != nil {
				t.Fatalf("log line not as logrec writes it: %v\n%s", err, log)
			}
			// softmig-log's reader (logrec.Reader) takes the record whole: nothing skipped.
			recs, skipped, err := logrec.ReadFile(filepath.Join(f.logs, "9.log"))
			if err != nil || len(skipped) != 0 || len(recs) != 1 || strings.Count(string(log), "\n") != 1 {
				t.Fatalf("log read back: %d records, skipped %v, %v:\n%s", len(recs), skipped, err, log)
			}
			if reason, _ := recs[0].Get("reason"); reason != c.Disabled && !strings.Contains(reason, tc.want) || recs[0].CheckEvent() != nil {
				t.Fatalf("logged reason %q (%v); want it to hold %q", reason, recs[0].CheckEvent(), tc.want)
			}
			fi, _ := os.Stat(filepath.Join(f.logs, "9.log"))
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1001 || fi.Mode().Perm() != 0o640 {
				t.Fatalf("log file uid %d mode %v, want the job's user and 0640", st.Uid, fi.Mode())
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	f := newFixture(t, site4, line("1", "shard:l40s:1(IDX:0)"))
	for _, tc := range []struct {
		env  func(string) string
		args []string
		want string
	}{
		{env(), []string{"write", "--dry-run"}, `job id "": want digits`},
		{env("SLURM_JOB_ID=1;rm"), []string{"write", "--dry-run"}, "want digits"},
		{env("SLURM_JOB_ID=1", "SLURM_JOB_UID=x"), []string{"write", "--dry-run"}, `uid "x" is not a number`},
		{env(), []string{"remove", "../etc/passwd"}, "want digits"},
		{env(), []string{"show", "a"}, "want digits"},
	} {
		_, _, err := f.runConf(t, tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
	if os.Geteuid() == 0 {
		if err := os.MkdirAll(f.run, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f.run, 0o777); err != nil {
			t.Fatal(err)
		}
		_, _, err := f.runConf(t, env("SLURM_JOB_ID=1", "SLURM_JOB_UID=3"), "write", "--job-info", f.info)
		if err == nil || errors.Is(err, errFailedClosed) || !strings.Contains(err.Error(), "writable by group or others: chmod 755") {
			t.Fatalf("write into a world-writable run dir: %v", err)
		}
	}
}

func TestShowUnsafe(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, site4, "")
	if err := os.Mkdir(f.run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.run, "3.conf"), []byte("CUDA_DEVICE_SM_LIMIT=5\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(f.run, "3.conf"), 0o666); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.runConf(t, env(), "show", "3")
	if !errors.Is(err, jobconf.ErrUnsafe) || !strings.Contains(err.Error(), "refuses the GPU") {
		t.Fatalf("show of a world-writable config: %v", err)
	}
}

func TestCheck(t *testing.T) {
	f := newFixture(t, "gpus:\n  l40s:\n    shards: 8\n    memory: 48g\n    denominators: [2, 8]\n  h100:\n    shards: 4\n", "")
	out, _, err := f.runConf(t, env(), "check")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		f.site + ": OK",
		"h100: 4 shards per GPU, memory from NVML; --gres=gpu:h100:1 is a whole GPU",
		"  --gres=gpu:h100.4:1 -> shard:h100:1, SM 25%",
		"  --gres=gpu:l40s.2:1 -> shard:l40s:4, memory 24576M, SM 50%",
		"  --gres=gpu:l40s.8:1 -> shard:l40s:1, memory 6144M, SM 12%",
		"configs and regions in " + f.run + ", logs in " + f.logs + " (built in)",
		f.gres + " not compared",
		"memory not compared with NVML: no NVML here",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("check output lacks %q:\n%s", w, out)
		}
	}
	if err := os.WriteFile(f.site, []byte("gpus:\n  l40s:\n    shards: 4\n    denominators: [3]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := f.runConf(t, env(), "check")
	if !errors.Is(err, errProblems) || !strings.Contains(stderr, "softmig-conf: error: "+f.site+":4: gpus.l40s.denominators: l40s.3 cannot be served") {
		t.Fatalf("check of a bad config: %v\n%s", err, stderr)
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"--help"}, env(), nil, &out, &out)
	var code *cmdline.Exit
	if !errors.As(err, &code) || code.Code != 0 || !strings.Contains(out.String(), "remove <jobid>") {
		t.Fatalf("--help: %v\n%s", err, out.String())
	}
	if err := run([]string{"bogus"}, env(), nil, &out, &out); err == nil {
		t.Fatal("unknown command accepted")
	}
}

// Every flag appears in the man page.
func TestManPage(t *testing.T) {
	man, err := os.ReadFile("../../man/softmig-conf.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"config", "gres-conf", "scontrol", "dry-run", "job-id", "job-info", "uid", "gid", "gpus", "node", "timeout"} {
		if !strings.Contains(string(man), `\-\-`+strings.ReplaceAll(flag, "-", `\-`)) {
			t.Errorf("man/softmig-conf.1 does not describe --%s", flag)
		}
	}
}

// The time policy follows the job's partition, then its GPU type, then
// policy.time; a job with no SM limit gets none.
func TestWriteTimePolicy(t *testing.T) {
	requireRoot(t)
	site := "gpus:\n  l40s:\n    shards: 4\n    memory: 48g\n    time: cap\npartitions:\n  lent:\n    time: lend\n"
	for _, tt := range []struct{ part, want string }{{"gpu", "SOFTMIG_TIME_POLICY=cap\n"}, {"lent", "SOFTMIG_TIME_POLICY=lend\n"}} {
		f := newFixture(t, site, strings.Replace(line("42", "shard:l40s:1(IDX:0)"), "JobState=RUNNING", "JobState=RUNNING Partition="+tt.part, 1))
		e := env("SLURM_JOB_ID=42", "SLURM_JOB_UID=1001", "SLURM_JOB_GID=1002", "SLURM_JOB_USER=alice", "SLURM_JOB_GPUS=0", "SLURMD_NODENAME=vm")
		if _, _, err := f.runConf(t, e, "write", "--job-info", f.info); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(f.run, "42.conf"))
		if !strings.HasSuffix(string(data), tt.want) {
			t.Errorf("partition %s: config ends\n%s\nwant %s", tt.part, data, tt.want)
		}
	}
	f := newFixture(t, "gpus:\n  l40s:\n    shards: 4\n    memory: 48g\npolicy:\n  sm_limit: none\n", line("42", "shard:l40s:1(IDX:0)"))
	e := env("SLURM_JOB_ID=42", "SLURM_JOB_UID=1001", "SLURM_JOB_GID=1002", "SLURM_JOB_USER=alice", "SLURM_JOB_GPUS=0", "SLURMD_NODENAME=vm")
	if _, _, err := f.runConf(t, e, "write", "--job-info", f.info); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(f.run, "42.conf")); strings.Contains(string(data), "TIME_POLICY") {
		t.Errorf("a job without an SM limit got a time policy:\n%s", data)
	}
}
