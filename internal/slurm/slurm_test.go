// SPDX-License-Identifier: Apache-2.0

package slurm

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// A line captured from Slurm 22.05 in a prolog (reference/slurm-single-node).
const prologLine = "JobId=1 JobName=shardjob.sh UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901759 Nice=0 Account=(null) QOS=(null) JobState=RUNNING Reason=Prolog Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 DerivedExitCode=0:0 RunTime=00:00:00 TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-25T21:17:02 EligibleTime=2026-11-25T21:17:02 AccrueTime=2026-11-25T21:17:02 StartTime=2026-11-25T21:17:04 EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 LastSchedEval=2026-11-25T21:17:04 Scheduler=Main Partition=debug AllocNode:Sid=localhost:2160 ReqNodeList=(null) ExcNodeList=(null) NodeList=vm BatchHost=vm NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,mem=256M,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* JOB_GRES=shard:l40s:2   Nodes=vm CPU_IDs=0 Mem=256 GRES=shard:l40s:2(IDX:0) MinCPUsNode=1 MinMemoryCPU=256M MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 OverSubscribe=OK Contiguous=0 Licenses=(null) Network=(null) Command=/tmp/softmig-slurm/out/shardjob.sh WorkDir=/tmp/softmig-slurm/out StdErr=/tmp/softmig-slurm/out/job-1.out StdIn=/dev/null StdOut=/tmp/softmig-slurm/out/job-1.out Power= TresPerNode=gres:shard:l40s:2 "

func TestParseJobPrologLine(t *testing.T) {
	j, err := ParseJob(prologLine)
	if err != nil {
		t.Fatal(err)
	}
	if j.JobID != "1" || j.User != "root" || j.UID != 0 || j.JobState != "RUNNING" || j.JobGres != "shard:l40s:2" || j.TresPerNode != "gres:shard:l40s:2" || j.ArrayJobID != "" {
		t.Fatalf("ParseJob = %+v", j)
	}
	want := []NodeAlloc{{Nodes: "vm", Gres: []Gres{{Name: "shard", Type: "l40s", Count: 2, Indices: []int{0}}}}}
	if !reflect.DeepEqual(j.Alloc, want) {
		t.Fatalf("Alloc = %+v, want %+v", j.Alloc, want)
	}
	if j.Fields["Power"] != "" || j.Fields["Command"] != "/tmp/softmig-slurm/out/shardjob.sh" {
		t.Fatalf("Fields = %v", j.Fields)
	}
	g, err := j.NodeGres("vm")
	if err != nil || len(g) != 1 {
		t.Fatalf("NodeGres(vm) = %v, %v", g, err)
	}
	if _, err := j.NodeGres("other"); err == nil {
		t.Fatal("NodeGres(other) found an allocation")
	}
}

func TestParseJobVariants(t *testing.T) {
	line := "JobId=10 JobName=my job UserId=smtest(1001) ArrayJobId=9 ArrayTaskId=0 JobState=RUNNING JOB_GRES=gpu:l40s:3 " +
		"Nodes=gpu[01-02] CPU_IDs=0 Mem=256 GRES=gpu:l40s:1(IDX:0),shard:l40s:2(IDX:1) " +
		"Nodes=gpu03 CPU_IDs=0 Mem=256 GRES=gpu:2(IDX:0-1) TresPerNode=(null)"
	j, err := ParseJob(line)
	if err != nil {
		t.Fatal(err)
	}
	if j.Fields["JobName"] != "my job" || j.User != "smtest" || j.UID != 1001 || j.ArrayJobID != "9" || j.ArrayTaskID != "0" || j.TresPerNode != "" {
		t.Fatalf("ParseJob = %+v", j)
	}
	g, err := j.NodeGres("gpu02")
	want := []Gres{{Name: "gpu", Type: "l40s", Count: 1, Indices: []int{0}}, {Name: "shard", Type: "l40s", Count: 2, Indices: []int{1}}}
	if err != nil || !reflect.DeepEqual(g, want) {
		t.Fatalf("NodeGres(gpu02) = %+v, %v", g, err)
	}
	g, err = j.NodeGres("gpu03")
	if err != nil || !reflect.DeepEqual(g, []Gres{{Name: "gpu", Count: 2, Indices: []int{0, 1}}}) {
		t.Fatalf("NodeGres(gpu03) = %+v, %v", g, err)
	}
	// No GRES at all: no allocation groups with GRES.
	j, err = ParseJob("JobId=5 UserId=a(7) JOB_GRES=(null) Nodes=vm CPU_IDs=0 Mem=256 GRES= MinCPUsNode=1")
	if err != nil || j.JobGres != "" {
		t.Fatalf("ParseJob no gres = %+v, %v", j, err)
	}
	if g, err := j.NodeGres("vm"); err != nil || g != nil {
		t.Fatalf("NodeGres = %v, %v; want none", g, err)
	}
}

func TestParseJobErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"slurm_load_jobs error: Invalid job id specified",
		"JobId=abc UserId=x(1)",
		"JobId=1 GRES=gpu:1(IDX:0)",
		"JobId=1 Nodes=vm GRES=gpu:l40s:x(IDX:0)",
		"JobId=1 Nodes=vm GRES=gpu:l40s:1(IDX:a)",
		"JobId=1 Nodes=vm GRES=gpu:l40s:1(FOO:1)",
		"JobId=1 Nodes=vm GRES=gpu:l40s:1(IDX:0",
		"JobId=1 Nodes=vm GRES=gpu::1(IDX:0)",
		"JobId=1 Nodes=vm GRES=gpu(IDX:0)",
		"JobId=1\nJobId=2",
		"JobId=1 x\n",
	} {
		if j, err := ParseJob(in); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseJob(%q) = %+v, %v; want ErrSyntax", in, j, err)
		}
	}
}

func TestParseGres(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Gres
	}{
		{"", nil},
		{"(null)", nil},
		{"gpu:l40s:1(IDX:0)", []Gres{{"gpu", "l40s", 1, []int{0}}}},
		{"gpu:4(IDX:0-1,3,5)", []Gres{{"gpu", "", 4, []int{0, 1, 3, 5}}}},
		{"gpu:l40s(CNT:2)", []Gres{{"gpu", "l40s", 2, nil}}},
		{"gpu:l40s:0(IDX:N/A)", []Gres{{"gpu", "l40s", 0, nil}}},
		{"shard:2(IDX:0),gpu:h100:1(IDX:1)", []Gres{{"shard", "", 2, []int{0}}, {"gpu", "h100", 1, []int{1}}}},
		{"nic:1", []Gres{{"nic", "", 1, nil}}},
	} {
		got, err := ParseGres(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseGres(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestExpandHostlist(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"vm", []string{"vm"}},
		{"gpu[01-03,07]", []string{"gpu01", "gpu02", "gpu03", "gpu07"}},
		{"a[8-10]x,b", []string{"a8x", "a9x", "a10x", "b"}},
	} {
		got, err := ExpandHostlist(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ExpandHostlist(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a[1-", "a[3-1]", "a[x]"} {
		if got, err := ExpandHostlist(bad); err == nil {
			t.Errorf("ExpandHostlist(%q) = %v, want error", bad, got)
		}
	}
}

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Request
	}{
		{"gres:gpu:l40s.2:1", []Request{{"gpu", "l40s", 2, 1}}},
		{"gres/gpu:l40s.4", []Request{{"gpu", "l40s", 4, 1}}},
		{"gpu:l40s.8:2", []Request{{"gpu", "l40s", 8, 2}}},
		{"gres:gpu:l40s:1", []Request{{"gpu", "l40s", 0, 1}}},
		{"gres:gpu:2,gres:shard:l40s:3", []Request{{"gpu", "", 0, 2}, {"shard", "l40s", 0, 3}}},
		{"gres:gpu:l40s.2:1,gres:gpu:l40s.4:1", []Request{{"gpu", "l40s", 2, 1}, {"gpu", "l40s", 4, 1}}},
		{"gres:gpu", []Request{{"gpu", "", 0, 1}}},
	} {
		got, err := ParseRequest(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseRequest(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "gres:", "gpu:l40s.x:1", "gpu:l40s.0", "gpu:.2:1", "gpu:a:b:1", "gpu:l40s.02"} {
		if got, err := ParseRequest(bad); err == nil {
			t.Errorf("ParseRequest(%q) = %+v, want error", bad, got)
		}
	}
	if s := (Request{"gpu", "l40s", 4, 1}).String(); s != "gpu:l40s.4:1" {
		t.Errorf("String() = %q", s)
	}
}

// A line captured in a real 22.05 prolog (reference/slurm-single-node) parses.
func TestReferenceCapture(t *testing.T) {
	data, err := os.ReadFile("testdata/prolog-scontrol.txt")
	if err != nil {
		t.Fatal(err)
	}
	j, err := ParseJob(strings.TrimSpace(string(data)))
	if err != nil || j.JobGres != "shard:l40s:2" {
		t.Fatalf("ParseJob(reference) = %+v, %v", j, err)
	}
}

func TestFindJob(t *testing.T) {
	// scontrol show job -d -o 9 for the last task of array 9, which keeps the base id.
	out := "JobId=10 ArrayJobId=9 ArrayTaskId=0 JobState=RUNNING Nodes=vm GRES=shard:l40s:1(IDX:0)\n" +
		"JobId=11 ArrayJobId=9 ArrayTaskId=1 JobState=RUNNING Nodes=vm GRES=shard:l40s:1(IDX:0)\n" +
		"JobId=9 ArrayJobId=9 ArrayTaskId=2 JobState=RUNNING Nodes=vm GRES=shard:l40s:2(IDX:0)\n"
	j, err := FindJob(out, "9")
	if err != nil || j.ArrayTaskID != "2" || j.Alloc[0].Gres[0].Count != 2 {
		t.Fatalf("FindJob(9) = %+v, %v", j, err)
	}
	if j, err := FindJob(out, "11"); err != nil || j.ArrayTaskID != "1" {
		t.Fatalf("FindJob(11) = %+v, %v", j, err)
	}
	if j, err := FindJob(out, "9_0"); err != nil || j.JobID != "10" {
		t.Fatalf("FindJob(9_0) = %+v, %v", j, err)
	}
	if _, err := FindJob(out, "12"); err == nil || !strings.Contains(err.Error(), "describes job 10,11,9, not job 12") {
		t.Fatalf("FindJob(12) error %v", err)
	}
	for _, bad := range []string{"", "\n\n", "JobId=x"} {
		if j, err := FindJob(bad, "1"); err == nil {
			t.Errorf("FindJob(%q) = %+v", bad, j)
		}
	}
}
