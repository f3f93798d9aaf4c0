// SPDX-License-Identifier: Apache-2.0

package slurm_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/slurmtest"
	"github.com/softmig/softmig/internal/testutil"
)

// accountingCluster is the shared cluster, skipping where it has no
// accounting, with the simulated GPU built.
func accountingCluster(t *testing.T) *slurmtest.Cluster {
	t.Helper()
	c := getCluster(t)
	if !c.Accounting {
		t.Skip("no Slurm accounting on this machine: " + c.NoAccounting)
	}
	needC(t, testutil.Root(t))
	return c
}

// simJob is a job on a quarter of the simulated GPU that holds 11 GiB of
// its 12 GiB slice, is refused 13 GiB, and, with hold, waits for the test
// to create the file go-<jobid> in the output directory before it starts.
func simJob(t *testing.T, c *slurmtest.Cluster, hold bool) string {
	t.Helper()
	// The job's user runs these: copies it can reach (the tree may be a
	// private clone).
	sh := testutil.NewShared(t)
	script := "export LD_PRELOAD=" + sh.Path("build/libsoftmig.so") + " LD_LIBRARY_PATH=" + sh.Path("build/sim") +
		" SOFTMIG_SIM_STATE=" + filepath.Join(c.Out, "sim.state") + " SOFTMIG_SIM_MEMORY=48g\n"
	if hold {
		script += "i=0; while [ ! -e " + c.Out + "/go-$SLURM_JOB_ID ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n"
	}
	memtest := sh.Path("build/test/memtest")
	script += memtest + " alloc 11811160064; " + memtest + " alloc 13958643712; true"
	out, stderr, err := c.Run(slurmtest.User, "sbatch", "--parsable", "-o", filepath.Join(c.Out, "job-%j.out"), "--gres=gpu:l40s.4:1", "--wrap", script)
	if err != nil {
		t.Fatalf("sbatch: %v: %s", err, stderr)
	}
	return strings.TrimSpace(strings.SplitN(out, ";", 2)[0])
}

// release lets a held job go on once it runs, after setting its
// AdminComment as a site would (scontrol, as root).
func release(t *testing.T, c *slurmtest.Cluster, id, comment string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for c.JobField(id, "JobState") != "RUNNING" {
		if time.Now().After(deadline) {
			t.Fatalf("job %s not running after 90 s\n%s", id, c.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, stderr, err := c.Run("", "scontrol", "update", "jobid="+id, "AdminComment="+comment); err != nil {
		t.Fatalf("scontrol update AdminComment: %v: %s", err, stderr)
	}
	if err := os.WriteFile(filepath.Join(c.Out, "go-"+id), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func adminComment(t *testing.T, c *slurmtest.Cluster, id string) string {
	t.Helper()
	out, stderr, err := c.Run("", "sacct", "-n", "-P", "-X", "-j", id, "-o", "AdminComment")
	if err != nil {
		t.Fatalf("sacct: %v: %s", err, stderr)
	}
	return strings.TrimSuffix(out, "\n")
}

// softmigLog runs softmig-log as the epilog does.
func softmigLog(t *testing.T, c *slurmtest.Cluster, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testutil.Path(t, "build/bin/softmig-log"), append([]string{"--config", c.SiteConfig}, args...)...)
	cmd.Env = c.Env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// After a sliced job ends, sacct answers with its summary from the
// accounting database, as an admin would ask from a login node.
func TestAdminCommentSummary(t *testing.T) {
	c := accountingCluster(t)
	id := simJob(t, c, false)
	if err := c.Wait(id); err != nil {
		t.Fatal(err)
	}
	want, err := softmigLog(t, c, "account", "--print", id)
	if err != nil {
		t.Fatalf("softmig-log account --print: %v: %s", err, want)
	}
	want = strings.TrimSpace(want)
	got := adminComment(t, c, id)
	if got != want {
		t.Fatalf("sacct AdminComment of job %s = %q; want the summary %q\njob output:\n%s", id, got, want, readOut(t, c, id))
	}
	mustContain(t, "summary", got, "softmig on "+strings.ToLower(c.Node)+" (from the job log): dev 0 peak 11", " of 12g (9", "ask gpu:l40s.2:1")
	if !regexp.MustCompile(`, [1-9][0-9]* oom refused, `).MatchString(got) {
		t.Errorf("summary %q counts no refusal; the job was refused 13 GiB", got)
	}
	// The epilog running again (a requeue, an admin) adds nothing.
	if out, err := softmigLog(t, c, "account", id); err != nil || adminComment(t, c, id) != want {
		t.Errorf("account run twice: %v %s; AdminComment now %q", err, out, adminComment(t, c, id))
	}
}

// A job whose AdminComment a site set keeps it: the summary is appended,
// or, where storing it would change what is there, left out with a reason.
func TestAdminCommentKept(t *testing.T) {
	c := accountingCluster(t)
	// Before 23.02, sacctmgr stores every AdminComment in lower case.
	version, _, _ := c.Run("", "sacctmgr", "--version")
	m := regexp.MustCompile(`slurm(?:-wlm)? (\d+)\.(\d+)`).FindStringSubmatch(version)
	if m == nil {
		t.Fatalf("sacctmgr --version = %q: no version", version)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	lowercases := major < 23 || major == 23 && minor < 2
	for _, tc := range []struct {
		name, comment string
		appended      bool
		why           string // softmig-log account's reason when not appended
	}{
		{"site note", "site: project 42", true, ""},
		{"capitals", "Site: Project 42", !lowercases, "holds capitals"},
		{"near the size limit", strings.Repeat("x", 65500), false, "65535 bytes Slurm's accounting database keeps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := simJob(t, c, true)
			release(t, c, id, tc.comment)
			if err := c.Wait(id); err != nil {
				t.Fatal(err)
			}
			got := adminComment(t, c, id)
			if !tc.appended {
				if got != tc.comment {
					t.Fatalf("AdminComment of job %s = %.80q (%d bytes); want the site's %.80q kept as it was", id, got, len(got), tc.comment)
				}
				out, err := softmigLog(t, c, "account", id)
				if err == nil || !strings.Contains(out, tc.why) || !strings.Contains(out, "the summary was: softmig") {
					t.Errorf("softmig-log account %s = %v: %s; want a failure saying %q and the summary", id, err, out, tc.why)
				}
				return
			}
			if !strings.HasPrefix(got, tc.comment+"; softmig on "+strings.ToLower(c.Node)+" (from the job log): dev 0 peak 11") {
				t.Errorf("AdminComment of job %s = %q; want the site's %q, then the summary", id, got, tc.comment)
			}
		})
	}
}
