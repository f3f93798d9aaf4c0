// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/softmig/softmig/cmd/softmig-log/logsum"
)

// accountCmd stores a job's one-line summary in Slurm's accounting, in
// the job's AdminComment, so that `sacct -j ID -o AdminComment` answers
// from any login node long after the node has forgotten the job (as the
// jobstats stack does). The epilog runs it at the end of every GPU job.
type accountCmd struct {
	Print    bool          `help:"Print the summary line only; store nothing."`
	Wait     time.Duration `default:"20s" help:"How long to wait for Slurm's accounting to record the job's end (the end record would overwrite an AdminComment stored before it)."`
	Sacct    string        `default:"sacct" placeholder:"CMD" help:"The sacct command."`
	Sacctmgr string        `default:"sacctmgr" placeholder:"CMD" help:"The sacctmgr command."`
	Job      string        `arg:"" help:"Job id (12345), array task (12345_7), pid<N>, or a log file path."`
}

// MaxAdminComment is the most bytes of AdminComment that Slurm's
// accounting database keeps: slurmdbd stores it in a MySQL TEXT column
// (job_table.admin_comment, accounting_storage_mysql.c), 65,535 bytes. A
// longer one would be cut or refused by the database; this tool never
// sends one.
const MaxAdminComment = 65535

// commentSep separates the summary from what the AdminComment held
// before: not "|", which would break `sacct -P` output.
const commentSep = "; "

var (
	errNoAccounting = errors.New("no Slurm accounting here")
	errNotStored    = errors.New("AdminComment left as it was")
)

func (c *accountCmd) Run(e *env) error {
	out, err := e.summarize(c.Job)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	line := commentLine(strings.SplitN(host, ".", 2)[0], out.Summary)
	if c.Print {
		_, err := fmt.Fprintln(e.stdout, line)
		return err
	}
	if len(out.Devices) == 0 {
		fmt.Fprintf(e.stderr, "softmig-log: job %s used no GPU (%s): nothing to store\n", out.Job, out.Verdict)
		return nil
	}
	job := out.Job
	if !jobArgRe.MatchString(job) || strings.HasPrefix(job, "pid") {
		return fmt.Errorf("%s: the records name no Slurm job (job=%s): nothing to store in Slurm's accounting", out.Log, job)
	}
	s := slurmDB{ctx: e.ctx, sacct: c.Sacct, sacctmgr: c.Sacctmgr}
	if err := s.waitEnded(job, c.Wait); err != nil {
		return err
	}
	return s.appendSummary(job, line)
}

// appendSummary adds line to the job's AdminComment and reads it back. The
// epilog of each node of a job runs at the same time, each with its own
// line: when another node's write replaced this one, it is added again
// (three tries, after a pause of its own length).
func (s slurmDB) appendSummary(job, line string) error {
	lowercases := s.lowercases()
	for try := 1; ; try++ {
		old, err := s.adminComment(job)
		if err != nil {
			return err
		}
		next, why := appendComment(old, line, lowercases)
		if why != "" {
			return fmt.Errorf("job %s: %w: %s; the summary was: %s", job, errNotStored, why, line)
		}
		if next == old {
			return nil // there already (stored by an earlier try, or the epilog ran twice)
		}
		if err := s.setAdminComment(job, next); err != nil {
			return err
		}
		time.Sleep(time.Duration(try*(100+rand.Intn(400))) * time.Millisecond)
		got, err := s.adminComment(job)
		if err == nil && strings.Contains(got, line) {
			return nil
		}
		if try == 3 && err != nil {
			return fmt.Errorf("job %s: stored the AdminComment, but sacct cannot read it back: %w; the summary was: %s", job, err, line)
		}
		if try == 3 {
			return fmt.Errorf("job %s: stored the AdminComment, but sacct reads back %q; the summary was: %s", job, got, line)
		}
	}
}

// commentLine is a job's summary in one line of lower-case letters
// without quotes or backslashes, so that sacctmgr stores it unchanged
// (before Slurm 23.02 it lowercases the whole AdminComment, and always
// turns quotes into backquotes). Everything in it comes from the job's log,
// which the job's user can write, and it says so. host is the node's name:
// each node of a job adds its own line.
func commentLine(host string, s *logsum.Summary) string {
	var devs []string
	for _, d := range s.Devices {
		var b strings.Builder
		fmt.Fprintf(&b, "dev %d", d.Dev)
		switch {
		case d.PeakTime == nil:
			fmt.Fprintf(&b, " peak unknown of %s", shortSize(d.MemLimit))
		case d.MemLimit > 0:
			fmt.Fprintf(&b, " peak %s of %s (%.0f%%)", shortSize(d.Peak), shortSize(d.MemLimit), d.PeakPercent)
		default:
			fmt.Fprintf(&b, " peak %s, no slice", shortSize(d.Peak))
		}
		if d.SMLimit > 0 && d.SMLimit < 100 {
			fmt.Fprintf(&b, ", share %d%% throttled %s", d.SMLimit, logsum.FormatMS(d.ThrottledMS))
			if d.WindowMS > 0 {
				fmt.Fprintf(&b, " gpu time %s (%.0f%%, lent %s, paused %s)", logsum.FormatMS(d.GPUTimeMS),
					100*float64(d.GPUTimeMS)/float64(d.WindowMS), logsum.FormatMS(d.LentMS), logsum.FormatMS(d.PausedMS))
			}
		}
		fmt.Fprintf(&b, ", %d oom refused, %d killed", d.Refused, len(d.Kills)+d.GuardOver+d.GuardEscapes+d.GuardTime)
		if d.Ask != "" {
			fmt.Fprintf(&b, ", ask %s", strings.TrimPrefix(d.Ask, "--gres="))
		}
		devs = append(devs, b.String())
	}
	return strings.ToLower("softmig on " + host + " (from the job log): " + strings.Join(devs, "; "))
}

var sizeUnits = strings.NewReplacer(" PiB", "p", " TiB", "t", " GiB", "g", " MiB", "m", " KiB", "k", " B", "b")

// shortSize writes bytes as SoftMig's size syntax reads them: 9.1g, 512m.
func shortSize(n int64) string {
	if n <= 0 {
		return "none"
	}
	return sizeUnits.Replace(logsum.FormatSize(n))
}

// appendComment returns the AdminComment with line added after what it
// held, or why it must stay as it is: nothing already there may change.
func appendComment(old, line string, lowercases bool) (string, string) {
	if strings.Contains(old, line) {
		return old, ""
	}
	next := line
	if old != "" {
		next = old + commentSep + line
	}
	switch {
	case len(next) > MaxAdminComment:
		return "", fmt.Sprintf("it holds %d bytes, and with the %d of the summary it would pass the %d bytes Slurm's accounting database keeps", len(old), len(commentSep+line), MaxAdminComment)
	case strings.ContainsAny(old, "'\"\\"):
		return "", "it holds a quote or a backslash, which sacctmgr would rewrite (quotes become backquotes)"
	case lowercases && strings.ToLower(old) != old:
		return "", "it holds capitals, and this Slurm's sacctmgr (before 23.02) stores the whole AdminComment in lower case"
	}
	return next, ""
}

// slurmDB reaches Slurm's accounting through its own commands.
type slurmDB struct {
	ctx             context.Context
	sacct, sacctmgr string
}

func (s slurmDB) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "accounting storage is disabled") {
			return "", fmt.Errorf("%w: %s (AccountingStorageType in slurm.conf): the job's summary stays in its log", errNoAccounting, msg)
		}
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}

// waitEnded waits until the accounting database has the job's end: the
// end record carries the AdminComment slurmctld holds and would overwrite
// one stored before it.
func (s slurmDB) waitEnded(job string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		out, err := s.run(s.sacct, "-n", "-P", "-X", "-j", job, "-o", "State,End")
		if err != nil {
			return err
		}
		state, end, _ := strings.Cut(strings.TrimSpace(out), "|")
		if end != "" && end != "Unknown" && !strings.Contains(end, "\n") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("job %s: Slurm's accounting has not recorded its end after %v (state %q): run `softmig-log account %s` again later", job, wait, state, job)
		}
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// adminComment returns the job's AdminComment as the database holds it.
func (s slurmDB) adminComment(job string) (string, error) {
	out, err := s.run(s.sacct, "-n", "-P", "-X", "-j", job, "-o", "AdminComment")
	return strings.TrimSuffix(out, "\n"), err
}

func (s slurmDB) setAdminComment(job, comment string) error {
	_, err := s.run(s.sacctmgr, "-i", "modify", "job", "where", "jobid="+job, "set", "AdminComment="+comment)
	return err
}

var slurmVersion = regexp.MustCompile(`slurm(?:-wlm)? (\d+)\.(\d+)`)

// lowercases reports whether this sacctmgr stores AdminComment in lower
// case (Slurm before 23.02: "sacctmgr - no longer force updates to the
// AdminComment ... to lower-case", NEWS of 23.02). Unknown counts as yes.
func (s slurmDB) lowercases() bool {
	out, err := s.run(s.sacctmgr, "--version")
	m := slurmVersion.FindStringSubmatch(out)
	if err != nil || m == nil {
		return true
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return major < 23 || (major == 23 && minor < 2)
}
