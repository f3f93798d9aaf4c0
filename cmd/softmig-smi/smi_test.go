// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/cmd/softmig-smi/smi"
	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/guardstat"
	"github.com/softmig/softmig/internal/region"
	"github.com/softmig/softmig/internal/testutil"
	"github.com/softmig/softmig/internal/timefile"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

const (
	pidA = 2178454 // job 42
	pidB = 2178999 // job 43
	pidC = 3100    // no job
)

// node is a fake host: two H100s, job 42 (20 GiB, 25 % SM, with a region)
// and job 43 (40 GiB, 50 %) sharing GPU 0, a process outside any job on GPU 1.
type node struct {
	proc, conf string
	sys        *smi.System
	env        map[string]string
	ctx        context.Context
	uid        int   // the caller's (root by default)
	openErr    error // what opening NVML fails with, if it does
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

func newNode(t *testing.T, selfCgroup string) *node {
	t.Helper()
	testutil.NeedRoot(t, "job configs must be root-owned (contract 2)")
	dir := t.TempDir()
	n := &node{proc: filepath.Join(dir, "proc"), conf: filepath.Join(dir, "softmig"), env: map[string]string{},
		ctx: context.Background()}
	writeFile(t, filepath.Join(n.proc, "self", "cgroup"), selfCgroup, 0o644)
	writeFile(t, filepath.Join(n.proc, "2178454", "cgroup"), "0::/system.slice/slurmstepd.scope/job_42/step_0/user/task_0\n", 0o644)
	writeFile(t, filepath.Join(n.proc, "2178999", "cgroup"), "0::/system.slice/slurmstepd.scope/job_43/step_batch/user/task_0\n", 0o644)
	writeFile(t, filepath.Join(n.proc, "3100", "cgroup"), "0::/user.slice/user-0.slice/session-1.scope\n", 0o644)
	writeFile(t, filepath.Join(n.proc, "3100", "environ"), "HOME=/root\x00", 0o644)
	writeFile(t, filepath.Join(n.conf, "42.conf"), "# softmig-conf\nCUDA_DEVICE_MEMORY_LIMIT=20g\nCUDA_DEVICE_SM_LIMIT=25\nSOFTMIG_REGION="+filepath.Join(n.conf, "42.region")+"\n", 0o644)
	writeFile(t, filepath.Join(n.conf, "43.conf"), "CUDA_DEVICE_MEMORY_LIMIT=40960M\nCUDA_DEVICE_SM_LIMIT=50\n", 0o644)
	writeFile(t, filepath.Join(n.conf, "44.conf"), "CUDA_DEVICE_MEMORY_LIMIT=10g\n", 0o644)
	if err := os.Chmod(n.conf, 0o755); err != nil {
		t.Fatal(err)
	}

	n.sys = smi.H100(2)
	d0, d1 := n.sys.Devices[0], n.sys.Devices[1]
	d0.Procs = []smi.Process{
		{PID: pidA, Type: "C", Name: "python", UsedMem: 10392 << 20, MemOK: true, GI: smi.NA, CI: smi.NA},
		{PID: pidB, Type: "C", Name: "/home/bob/miniconda3/envs/pytorch-2.5/bin/python", UsedMem: 30000 << 20, MemOK: true, GI: smi.NA, CI: smi.NA},
	}
	d0.ProcUtil = []smi.ProcUtil{{PID: pidA, SM: 12, Mem: 3}, {PID: pidB, SM: 40, Mem: 20}}
	d0.MemUsed, d0.MemFree = 40392<<20, (81559-551-40392)<<20
	d0.UtilGPU, d0.UtilMem, d0.PowerMW, d0.TempC = 52, 23, 312456, 44
	d1.Procs = []smi.Process{{PID: pidC, Type: "C", Name: "./bench", UsedMem: 1024 << 20, MemOK: true, GI: smi.NA, CI: smi.NA}}
	d1.ProcUtil = []smi.ProcUtil{{PID: pidC, SM: 99}}
	d1.MemUsed, d1.MemFree, d1.UtilGPU = 1024<<20, (81559-551-1024)<<20, 99

	var l region.Layout
	l.Init("42")
	u, _ := region.ParseUUID(d0.UUID)
	l.NDevs, l.NProcs = 1, 1
	l.Devs[0].UUID = u
	l.Devs[0].Tracked = 10000 << 20
	l.Devs[0].Excess = 392 << 20
	l.Procs[0].PID = pidA
	writeFile(t, filepath.Join(n.conf, "42.region"), string(l.Bytes()), 0o600)
	n.authority(t, d0.UUID)
	return n
}

// authority gives the node softmig-guard's files: GPU 0's time file (job
// 42 held to its 25 %, job 43 lent 10 points beyond its 50 %) and the
// guard's status, as of now.
func (n *node) authority(t *testing.T, uuid string) {
	t.Helper()
	now := time.Now()
	path, err := timefile.Path(n.conf, uuid)
	if err != nil {
		t.Fatal(err)
	}
	f, err := timefile.Create(path, timefile.Lend, time.Second, now)
	if err != nil {
		t.Fatal(err)
	}
	defer testutil.Close(t, f)
	a, errA := f.Assign("42", 25, now)
	b, errB := f.Assign("43", 50, now)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	f.SetStats(a, 0, 248, 0)
	f.SetStats(b, timefile.FlagLent, 596, 96)
	f.Beat(now)
	s := &guardstat.Status{PID: 812, Started: now.Add(-time.Hour), Updated: now, TimeAuthority: true, GPUs: 2, Looks: 160000,
		LookMean: 312 * time.Microsecond, LookMax: 9 * time.Millisecond, CPU: 36 * time.Second, NVMLCPU: 12 * time.Second, Kills: 1}
	if err := guardstat.Write(n.conf, s); err != nil {
		t.Fatal(err)
	}
}

const inJob42 = "0::/system.slice/slurmstepd.scope/job_42/step_0/user/task_0\n"
const outside = "0::/user.slice/user-0.slice/session-1.scope\n"

type result struct {
	stdout, stderr string
	err            error
	execPath       string
	execArgs       []string
}

func (n *node) run(t *testing.T, args ...string) result {
	t.Helper()
	var r result
	d := deps{
		open: func(string) (smi.Source, error) {
			if n.openErr != nil {
				return nil, n.openErr
			}
			return &smi.Fake{Sys: n.sys}, nil
		},
		env: smi.Env{ProcRoot: n.proc, ConfDir: n.conf, UID: n.uid,
			LookupEnv: func(k string) (string, bool) { v, ok := n.env[k]; return v, ok }},
		exec: func(path string, argv []string) error {
			r.execPath, r.execArgs = path, argv
			return nil
		},
		selfExe:  "/proc/self/exe",
		ctx:      n.ctx,
		maxLoops: 2,
	}
	var out, errb bytes.Buffer
	if !strings.HasPrefix(strings.Join(args, " "), "--config=") {
		args = append(args, "--config=/nonexistent")
	}
	r.err = runWith(d, args, &out, &errb)
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		writeFile(t, path, got, 0o644)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		cgroup string
		args   []string
	}{
		{"admin-table", outside, nil},
		{"admin-slices", outside, []string{"--slices"}},
		{"admin-slices-csv", outside, []string{"--slices", "--format=csv"}},
		{"admin-query-apps", outside, []string{"--query-compute-apps=pid,process_name,used_memory", "--format=csv"}},
		{"job-table", inJob42, nil},
		{"job-list", inJob42, []string{"-L"}},
		{"job-query-gpu", inJob42, []string{"--query-gpu=index,name,uuid,pci.bus_id,driver_version,memory.total,memory.used,memory.free,utilization.gpu,utilization.memory", "--format=csv"}},
		{"job-query-gpu-nounits", inJob42, []string{"--query-gpu=memory.total,memory.used,memory.free,utilization.gpu,fan.speed,power.draw,temperature.gpu", "--format=csv,noheader,nounits"}},
		{"job-query-apps", inJob42, []string{"--query-compute-apps=pid,process_name,used_gpu_memory,gpu_uuid,gpu_bus_id", "--format=csv"}},
		{"job-q-memory", inJob42, []string{"-q", "-d", "MEMORY,UTILIZATION,PIDS"}},
		{"job-q", inJob42, []string{"-q", "-i", "0"}},
		{"job-table-i1", inJob42, []string{"-i", "1"}},
		{"job-slices", inJob42, []string{"--slices"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, tt.cgroup)
			r := n.run(t, tt.args...)
			if r.err != nil || r.execPath != "" {
				t.Fatalf("run(%v) = %v, exec %q; want output", tt.args, r.err, r.execPath)
			}
			golden(t, tt.name, r.stdout)
		})
	}
}

// TestJobSeesOnlyItsOwn checks the outcome directly, whatever the layout.
func TestJobSeesOnlyItsOwn(t *testing.T) {
	n := newNode(t, inJob42)
	r := n.run(t)
	for _, bad := range []string{"2178999", "3100", "miniconda", "bench"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("job 42's table shows %q of another job:\n%s", bad, r.stdout)
		}
	}
	for _, want := range []string{"2178454", "10392MiB /  20480MiB", "12%"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("job 42's table lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestEnvOnlyTightens(t *testing.T) {
	n := newNode(t, inJob42)
	n.env["CUDA_DEVICE_MEMORY_LIMIT"] = "30g" // looser: ignored
	r := n.run(t, "--query-gpu=memory.total", "--format=csv,noheader")
	if r.stdout != "20480 MiB\n20480 MiB\n" {
		t.Errorf("looser env limit: got %q; want the config's 20480 MiB", r.stdout)
	}
	n.env["CUDA_DEVICE_MEMORY_LIMIT"] = "8g"
	n.env["CUDA_DEVICE_MEMORY_LIMIT_1"] = "4g"
	r = n.run(t, "--query-gpu=memory.total", "--format=csv,noheader")
	if r.stdout != "8192 MiB\n4096 MiB\n" {
		t.Errorf("tighter env limits: got %q; want 8192 and 4096 MiB", r.stdout)
	}
	// CUDA_VISIBLE_DEVICES=1: NVML device 1 is CUDA ordinal 0.
	n.env["CUDA_VISIBLE_DEVICES"] = "1"
	n.env["CUDA_DEVICE_MEMORY_LIMIT_0"] = "2g"
	delete(n.env, "CUDA_DEVICE_MEMORY_LIMIT_1")
	r = n.run(t, "--query-gpu=index,memory.total", "--format=csv,noheader")
	if r.stdout != "0, 8192 MiB\n1, 2048 MiB\n" {
		t.Errorf("CUDA_VISIBLE_DEVICES=1 with a limit for ordinal 0: got %q", r.stdout)
	}
}

func TestEnvOutsideJob(t *testing.T) {
	n := newNode(t, outside)
	n.env["CUDA_DEVICE_MEMORY_LIMIT"] = "16g"
	r := n.run(t, "--query-gpu=memory.total", "--format=csv,noheader,nounits")
	if r.err != nil || r.stdout != "16384\n16384\n" {
		t.Errorf("env slice outside a job: %q, %v; want 16384 twice", r.stdout, r.err)
	}
	// Only the user's own processes outside any job.
	r = n.run(t, "--query-compute-apps=pid", "--format=csv,noheader")
	if r.stdout != "3100\n" {
		t.Errorf("env slice outside a job shows processes %q; want only 3100", r.stdout)
	}
	n.env["CUDA_DEVICE_MEMORY_LIMIT"] = "16q"
	r = n.run(t)
	if r.err == nil || r.stdout != "" {
		t.Errorf("malformed env limit: %q, %v; want an error and no output", r.stdout, r.err)
	}
}

func TestFailClosed(t *testing.T) {
	t.Run("unreadable cgroup", func(t *testing.T) {
		n := newNode(t, inJob42)
		os.Remove(filepath.Join(n.proc, "self", "cgroup"))
		r := n.run(t)
		var ee *cmdline.Exit
		if !errors.As(r.err, &ee) || ee.Code != exitPermission || r.stdout != "" {
			t.Errorf("without /proc/self/cgroup: out %q, err %v; want nothing and exit %d", r.stdout, r.err, exitPermission)
		}
	})
	t.Run("unsafe config", func(t *testing.T) {
		n := newNode(t, inJob42)
		if err := os.Chmod(filepath.Join(n.conf, "42.conf"), 0o666); err != nil {
			t.Fatal(err)
		}
		r := n.run(t)
		if r.err == nil || r.stdout != "" || !strings.Contains(r.err.Error(), "writable only by root") {
			t.Errorf("world-writable config: out %q, err %v; want nothing and the reason", r.stdout, r.err)
		}
	})
	t.Run("bad config", func(t *testing.T) {
		n := newNode(t, inJob42)
		writeFile(t, filepath.Join(n.conf, "42.conf"), "CUDA_DEVICE_MEMORY_LIMIT=lots\n", 0o644)
		r := n.run(t)
		if r.err == nil || r.stdout != "" || !strings.HasPrefix(r.err.Error(), "softmig: GPU disabled for this process: ") {
			t.Errorf("unparsable config: out %q, err %v; want the contract's line", r.stdout, r.err)
		}
	})
	t.Run("process cgroup unreadable", func(t *testing.T) {
		n := newNode(t, inJob42)
		os.Remove(filepath.Join(n.proc, "2178454", "cgroup"))
		r := n.run(t, "--query-compute-apps=pid", "--format=csv,noheader")
		if r.err != nil || r.stdout != "" {
			t.Errorf("job process with an unreadable cgroup: %q, %v; want it left out", r.stdout, r.err)
		}
	})
	t.Run("job id from env only", func(t *testing.T) {
		n := newNode(t, outside)
		n.env["SLURM_JOB_ID"] = "43"
		r := n.run(t, "--query-compute-apps=pid", "--format=csv,noheader")
		// 43's process has a job cgroup, and 43 is named by it: shown.
		if r.err != nil || r.stdout != "2178999\n" {
			t.Errorf("SLURM_JOB_ID=43: %q, %v; want only 2178999", r.stdout, r.err)
		}
	})
}

func TestPassthrough(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"topo", "-m"}, []string{"topo", "-m"}},
		{[]string{"-q", "-x"}, []string{"-q", "-x"}},
		{[]string{"--real=/opt/nv/nvidia-smi", "-q", "-d", "ECC"}, []string{"-q", "-d", "ECC"}},
		{[]string{"--query-gpu=clocks_event_reasons.active", "--format=csv"}, []string{"--query-gpu=clocks_event_reasons.active", "--format=csv"}},
		{[]string{"--query-gpu=memory.used"}, []string{"--query-gpu=memory.used"}},
		{[]string{"--query-gpu=memory.used", "--format=xml"}, []string{"--query-gpu=memory.used", "--format=xml"}},
		{[]string{"--slices", "pmon", "-c", "1"}, []string{"pmon", "-c", "1"}},
	}
	for _, tt := range tests {
		n := newNode(t, inJob42)
		realSMI := filepath.Join(t.TempDir(), "nvidia-smi.real")
		writeFile(t, realSMI, "#!/bin/sh\n", 0o755)
		n.env["SOFTMIG_NVIDIA_SMI"] = realSMI
		r := n.run(t, tt.args...)
		wantPath := realSMI
		if strings.HasPrefix(tt.args[0], "--real=") {
			wantPath = strings.TrimPrefix(tt.args[0], "--real=")
		}
		if wantPath != realSMI {
			if r.err == nil || !strings.Contains(r.err.Error(), wantPath) {
				t.Errorf("run(%v) with a missing real nvidia-smi: %v; want an error naming %s", tt.args, r.err, wantPath)
			}
			continue
		}
		if r.err != nil || r.execPath != realSMI || strings.Join(r.execArgs[1:], " ") != strings.Join(tt.want, " ") {
			t.Errorf("run(%v) = exec %q %q, %v; want exec %s %q", tt.args, r.execPath, r.execArgs, r.err, realSMI, tt.want)
		}
	}
}

func TestIDs(t *testing.T) {
	n := newNode(t, outside)
	for _, id := range []string{"1", n.sys.Devices[1].UUID, "00000000:3B:00.0", "3b:00.0", "0000:3B:00.0"} {
		r := n.run(t, "-i", id, "--query-gpu=index", "--format=csv,noheader")
		if r.err != nil || r.stdout != "1\n" {
			t.Errorf("-i %s: %q, %v; want GPU 1", id, r.stdout, r.err)
		}
	}
	r := n.run(t, "-i", "7")
	var ee *cmdline.Exit
	if !errors.As(r.err, &ee) || ee.Code != exitNotFound || ee.Msg != "No devices were found" {
		t.Errorf("-i 7: %v; want \"No devices were found\", exit %d", r.err, exitNotFound)
	}
}

func TestLoop(t *testing.T) {
	n := newNode(t, inJob42)
	r := n.run(t, "--query-gpu=index", "--format=csv", "-lms", "1")
	if r.stdout != "index\n0\n1\n0\n1\n" {
		t.Errorf("-lms 1 twice: %q; want the header once and two rounds", r.stdout)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // an interrupt during the first sleep
	n.ctx = ctx
	r = n.run(t, "-l", "--query-gpu=index", "--format=csv,noheader", "-i", "0")
	if r.err != nil || r.execPath != "" || r.stdout != "0\n" {
		t.Errorf("-l without a value: %v, exec %q; want the default interval", r.err, r.execPath)
	}
}

func TestHelp(t *testing.T) {
	n := newNode(t, outside)
	r := n.run(t, "--help")
	if r.err != nil || !strings.Contains(r.stdout, "--query-gpu") || !strings.Contains(r.stdout, "--real") {
		t.Errorf("--help: %v\n%s", r.err, r.stdout)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in        string
		kong, rea string
		ok        bool
	}{
		{"-i 0 -q", "--id=0 --query", "-i 0 -q", true},
		{"--id=0 -l 2", "--id=0 --loop=2", "--id=0 -l 2", true},
		{"-l -q", "--loop=5 --query", "-l -q", true},
		{"-lms 500", "--loop-ms=500", "-lms 500", true},
		{"--real /x -L", "--real=/x --list-gpus", "-L", true},
		{"-x", "", "-x", false},
		{"-i", "", "-i", false},
	}
	for _, tt := range tests {
		k, r, ok := normalize(strings.Fields(tt.in))
		if strings.Join(k, " ") != tt.kong || strings.Join(r, " ") != tt.rea || ok != tt.ok {
			t.Errorf("normalize(%q) = %q, %q, %v; want %q, %q, %v", tt.in, k, r, ok, tt.kong, tt.rea, tt.ok)
		}
	}
}

// TestRealLayout compares the fixed parts of the default view with a capture
// of the real nvidia-smi (scripts/gpu-smi-capture.sh), when one is present.
func TestRealLayout(t *testing.T) {
	realSMI, err := os.ReadFile(filepath.Join("testdata", "real", "default.txt"))
	if err != nil {
		t.Skip("no capture of the real nvidia-smi in testdata/real (scripts/gpu-smi-capture.sh)")
	}
	ours, err := os.ReadFile(filepath.Join("testdata", "admin-table.golden"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := func(s string) []string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "+") || strings.HasPrefix(l, "|=") || strings.Contains(l, "Persistence-M") ||
				strings.Contains(l, "Memory-Usage") || strings.Contains(l, "MIG M.") || strings.Contains(l, "Processes:") ||
				strings.Contains(l, "Process name") || strings.Contains(l, "Usage      |") {
				keep = append(keep, l)
			}
		}
		return keep
	}
	r, o := fixed(string(realSMI)), fixed(string(ours))
	seen := map[string]bool{}
	for _, l := range r {
		seen[l] = true
	}
	for _, l := range o {
		if !seen[l] && !strings.Contains(l, "SoftMig") {
			t.Errorf("layout line not in the real nvidia-smi's output:\n%s", l)
		}
	}
}

// readCapture returns a capture of the real nvidia-smi and its exit status.
func readCapture(t *testing.T, name string) (string, int) {
	t.Helper()
	out, err := os.ReadFile(filepath.Join("testdata", "real", name+".txt"))
	if err != nil {
		t.Skipf("no capture %s of the real nvidia-smi (scripts/gpu-smi-capture.sh)", name)
	}
	rc, err := os.ReadFile(filepath.Join("testdata", "real", name+".rc"))
	if err != nil {
		t.Fatal(err)
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(rc)))
	if err != nil {
		t.Fatalf("%s.rc: %v", name, err)
	}
	return string(out), code
}

var (
	digits = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)
	busID  = regexp.MustCompile(`[0-9A-Fa-f]{8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]`)
)

// qShape is a -q line with its value's numbers masked; names, UUIDs and
// serials (which differ between GPUs) are masked whole.
func qShape(l string) string {
	l = busID.ReplaceAllString(l, "BUS")
	i := strings.Index(l, ": ")
	if i < 0 {
		return digits.ReplaceAllString(l, "N")
	}
	key, val := l[:i+2], l[i+2:]
	switch strings.TrimSpace(key[:i]) {
	case "Name", "Product Name", "GPU UUID", "Serial Number", "Timestamp":
		val = "X"
	}
	return key + digits.ReplaceAllString(val, "N")
}

// cellShape is a CSV cell's kind: [N/A], or a value with its unit.
func cellShape(c string) string {
	if c == "[N/A]" || strings.HasPrefix(c, "[") {
		return c
	}
	for _, u := range []string{" MiB", " %", " W", " MHz"} {
		if strings.HasSuffix(c, u) {
			return "v" + u
		}
	}
	return "v"
}

func csvShape(l string) string {
	cells := strings.Split(l, ", ")
	for i, c := range cells {
		cells[i] = cellShape(c)
	}
	return strings.Join(cells, ", ")
}

// TestRealCaptures compares softmig-smi (on the fake H100 node, same
// options) with the captures of the real nvidia-smi 580 in testdata/real:
// -q lines in nvidia-smi's order and alignment, CSV headers, units and N/A
// texts, -L's lines, error texts and exit statuses, and which option
// combinations the real nvidia-smi must answer itself.
func TestRealCaptures(t *testing.T) {
	t.Run("-q lines in nvidia-smi's, in order", func(t *testing.T) {
		for _, tt := range []struct {
			capture string
			args    []string
		}{
			{"q-i0", []string{"-q", "-i", "0"}},
			{"q-mem-util-pids", []string{"-q", "-d", "MEMORY,UTILIZATION,PIDS"}},
			{"q-memory", []string{"-q", "-d", "MEMORY"}},
			{"q-pids", []string{"-q", "-d", "PIDS"}},
			{"q-utilization", []string{"-q", "-d", "UTILIZATION"}},
		} {
			realSMI, _ := readCapture(t, tt.capture)
			// job 42's view: one process on GPU 0, none on GPU 1, as captured
			n := newNode(t, inJob42)
			r := n.run(t, tt.args...)
			if r.err != nil {
				t.Fatalf("%v: %v", tt.args, r.err)
			}
			var want []string
			for _, l := range strings.Split(realSMI, "\n") {
				want = append(want, qShape(l))
			}
			i := 0
			for _, l := range strings.Split(r.stdout, "\n") {
				j := i
				for j < len(want) && want[j] != qShape(l) {
					j++
				}
				if j == len(want) {
					t.Errorf("%v: line %q is not in %s.txt (after line %d)", tt.args, l, tt.capture, i)
					continue
				}
				i = j + 1
			}
		}
	})
	t.Run("CSV", func(t *testing.T) {
		for _, tt := range []struct{ capture, golden string }{
			{"query-gpu", "job-query-gpu"},
			{"query-gpu-nounits", "job-query-gpu-nounits"},
			{"query-apps", "job-query-apps"},
		} {
			realSMI, _ := readCapture(t, tt.capture)
			ours, err := os.ReadFile(filepath.Join("testdata", tt.golden+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			rl, ol := strings.Split(strings.TrimSpace(realSMI), "\n"), strings.Split(strings.TrimSpace(string(ours)), "\n")
			if !strings.Contains(tt.capture, "noheader") && !strings.Contains(tt.capture, "nounits") && rl[0] != ol[0] {
				t.Errorf("%s: header %q; nvidia-smi's is %q", tt.golden, ol[0], rl[0])
			}
			if got, want := csvShape(ol[len(ol)-1]), csvShape(rl[len(rl)-1]); got != want {
				t.Errorf("%s: row %q (%s); nvidia-smi's is %q (%s)", tt.golden, ol[len(ol)-1], got, rl[len(rl)-1], want)
			}
		}
	})
	t.Run("-L", func(t *testing.T) {
		realSMI, _ := readCapture(t, "list")
		line := regexp.MustCompile(`^GPU [0-9]+: NVIDIA H100 80GB HBM3 \(UUID: GPU-[0-9a-f-]+\)$`)
		for _, l := range strings.Split(strings.TrimSpace(realSMI), "\n") {
			if !line.MatchString(l) {
				t.Fatalf("the pattern does not fit the capture's %q", l)
			}
		}
		n := newNode(t, outside)
		r := n.run(t, "-L")
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if !line.MatchString(l) {
				t.Errorf("-L line %q does not look like nvidia-smi's", l)
			}
		}
	})
	t.Run("-i 99", func(t *testing.T) {
		realSMI, code := readCapture(t, "bad-id")
		n := newNode(t, outside)
		r := n.run(t, "-i", "99")
		var ee *cmdline.Exit
		if !errors.As(r.err, &ee) || ee.Code != code || ee.Msg+"\n" != realSMI || r.stdout != "" {
			t.Errorf("-i 99: %q, %v; want %q and exit %d", r.stdout, r.err, realSMI, code)
		}
	})
	// The real nvidia-smi answers these itself (its own error texts and
	// exit statuses: minor_number is no field of nvidia-smi 580).
	t.Run("passed to nvidia-smi", func(t *testing.T) {
		for _, tt := range []struct {
			capture string
			args    []string
		}{
			{"query-bad-field", []string{"--query-gpu=no.such.field", "--format=csv"}},
			{"query-gpu-more", []string{"--query-gpu=timestamp,count,serial,pci.domain,pci.bus,pci.device,pci.device_id,pci.sub_device_id,minor_number,persistence_mode,display_mode", "--format=csv"}},
			{"version", []string{"--version"}},
			{"help-query-gpu", []string{"--help-query-gpu"}},
			{"list", []string{"-i", "0", "-L"}},
		} {
			readCapture(t, tt.capture)
			n := newNode(t, outside)
			realSMI := filepath.Join(t.TempDir(), "nvidia-smi.real")
			writeFile(t, realSMI, "#!/bin/sh\n", 0o755)
			n.env["SOFTMIG_NVIDIA_SMI"] = realSMI
			r := n.run(t, tt.args...)
			wantOut := ""
			if tt.capture == "version" { // softmig-smi's own line first, as every tool's --version
				wantOut = "softmig-smi " + defs.Version() + "\n"
			}
			if r.err != nil || r.execPath != realSMI || r.stdout != wantOut {
				t.Errorf("%v: %q, exec %q, %v; want %q and the real nvidia-smi to answer", tt.args, r.stdout, r.execPath, r.err, wantOut)
			}
		}
	})
	t.Run("display_mode", func(t *testing.T) {
		n := newNode(t, outside)
		r := n.run(t, "--query-gpu=display_mode", "--format=csv")
		want := "display_mode\n[Requested functionality has been deprecated]\n[Requested functionality has been deprecated]\n"
		if r.err != nil || r.stdout != want {
			t.Errorf("display_mode: %q, %v; want nvidia-smi 580's %q", r.stdout, r.err, want)
		}
	})
}

// softmig-smi reads the site config through siteconf, as every tool does:
// paths.nvidia_smi_real is honoured, and a file that is not YAML or a bad
// value of that key is said on stderr, never ignored.
func TestSiteConfig(t *testing.T) {
	dir := t.TempDir()
	realSMI := filepath.Join(dir, "nvidia-smi.real")
	writeFile(t, realSMI, "#!/bin/sh\n", 0o755)
	site := filepath.Join(dir, "softmig.yaml")
	writeFile(t, site, "gpus:\n  l40s:\n    shards: 4\npaths:\n  nvidia_smi_real: "+realSMI+"\n", 0o644)
	n := newNode(t, inJob42)
	r := n.run(t, "--config="+site, "topo", "-m")
	if r.err != nil || r.execPath != realSMI || r.stderr != "" {
		t.Errorf("paths.nvidia_smi_real: exec %q, %v, stderr %q; want exec %s", r.execPath, r.err, r.stderr, realSMI)
	}
	writeFile(t, site, "gpus: [\n", 0o644)
	r = n.run(t, "--config="+site, "--query-gpu=memory.total", "--format=csv,noheader")
	if r.err != nil || !strings.Contains(r.stderr, "softmig-smi: warning: invalid site config: "+site+":1: YAML syntax") || r.stdout == "" {
		t.Errorf("broken YAML: %v, stdout %q, stderr %q; want the output and a warning", r.err, r.stdout, r.stderr)
	}
	writeFile(t, site, "gpus:\n  l40s:\n    shards: 4\npaths:\n  nvidia_smi_real: nvidia-smi.real\n", 0o644)
	r = n.run(t, "--config="+site, "--query-gpu=memory.total", "--format=csv,noheader")
	if !strings.Contains(r.stderr, "softmig-smi: warning: "+site+`:5: paths.nvidia_smi_real: "nvidia-smi.real" is not a clean absolute path`) {
		t.Errorf("bad nvidia_smi_real: stderr %q; want a warning naming the line", r.stderr)
	}
}
