// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/softmig/softmig/internal/jobpath"
	"github.com/softmig/softmig/internal/logrec"
)

var (
	jobArgRe = regexp.MustCompile(`^([0-9]+(_[0-9]+)?|pid[0-9]+)$`)

	errBadJob = errors.New("bad job")
	errNoLog  = errors.New("no log")
)

// logPath returns the log file of job id (or id itself when it is a path).
// Array tasks are found by either name: <id>.log, then the log named by the
// job's other name according to Slurm (123_4 <-> its own job id).
// logJob is what a log file's name names: a job id, or pid<N>.
func logJob(path string) string {
	id, _ := jobpath.LogJob(path)
	return id
}

func (e *env) logPath(id string) (string, error) {
	if strings.ContainsRune(id, '/') {
		if _, err := os.Stat(id); err != nil {
			return "", fmt.Errorf("%w: %w", errNoLog, err)
		}
		return id, nil
	}
	if !jobArgRe.MatchString(id) {
		return "", fmt.Errorf("%w %q: want a job id (12345), an array task (12345_7), pid<N>, or the path of a log file", errBadJob, id)
	}
	p := jobpath.Log(e.dir, id)
	tried := []string{filepath.Base(p)}
	if _, err := os.Stat(p); err == nil {
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w for job %s: %w", errNoLog, id, err)
	}
	if !strings.HasPrefix(id, "pid") && e.slurm != nil {
		for _, other := range e.slurm(e.ctx, id) {
			if other == id || !jobArgRe.MatchString(other) {
				continue
			}
			p := jobpath.Log(e.dir, other)
			tried = append(tried, filepath.Base(p))
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	if p := e.byContent(id); p != "" {
		return p, nil
	}
	msg := fmt.Sprintf("%v for job %s in %q (looked for %s)", errNoLog, id, e.dir, strings.Join(tried, ", "))
	if !strings.ContainsAny(id, "_p") {
		tasks, _ := filepath.Glob(jobpath.Log(e.dir, id+"_*"))
		if len(tasks) > 0 {
			for i := range tasks {
				tasks[i] = filepath.Base(tasks[i])
			}
			sort.Strings(tasks)
			msg += fmt.Sprintf("; array tasks of %s have logs: %s (name the task, like %s)",
				id, strings.Join(tasks, " "), logJob(tasks[0]))
		}
	}
	return "", errors.New(msg + "; see `softmig-log ls`")
}

// slurmNames asks Slurm for the other names of a job: for an array task
// given as 123_4, its own job id; for a job id that is an array task, its
// 123_4 form. scontrol knows running and recent jobs, sacct older ones; a
// node without either, or a job they do not know, gives no names.
func slurmNames(ctx context.Context, id string) []string {
	run := func(name string, args ...string) string {
		path, err := exec.LookPath(name)
		if err != nil {
			return ""
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, path, args...).Output()
		if err != nil {
			return ""
		}
		return string(out)
	}
	if names := parseScontrol(run("scontrol", "show", "job", "-o", id)); len(names) > 0 {
		return names
	}
	return parseSacct(run("sacct", "-n", "-P", "-X", "-j", id, "-o", "JobIDRaw,JobID"))
}

// parseScontrol reads `scontrol show job -o ID`: one line per job. Only a
// single job answers (an array's own id lists all its tasks).
func parseScontrol(out string) []string {
	lines := nonEmptyLines(out)
	if len(lines) != 1 {
		return nil
	}
	kv := map[string]string{}
	for _, f := range strings.Fields(lines[0]) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	var names []string
	if id := kv["JobId"]; id != "" {
		names = append(names, id)
	}
	if a, t := kv["ArrayJobId"], kv["ArrayTaskId"]; a != "" && t != "" && jobArgRe.MatchString(a+"_"+t) {
		names = append(names, a+"_"+t)
	}
	return names
}

// parseSacct reads `sacct -n -P -X -j ID -o JobIDRaw,JobID`: "130|123_4".
func parseSacct(out string) []string {
	lines := nonEmptyLines(out)
	if len(lines) != 1 {
		return nil
	}
	raw, id, ok := strings.Cut(lines[0], "|")
	if !ok {
		return nil
	}
	var names []string
	for _, n := range []string{raw, id} {
		if jobArgRe.MatchString(n) {
			names = append(names, n)
		}
	}
	return names
}

func nonEmptyLines(s string) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// byContent finds, without Slurm, an array task's log named in the seed's
// form (123_4.log) whose records carry the task's own job id (job=130): the
// first record of each such file is read.
func (e *env) byContent(id string) string {
	if strings.ContainsAny(id, "_p") {
		return ""
	}
	names, _ := filepath.Glob(jobpath.Log(e.dir, "*_*"))
	sort.Strings(names)
	for _, p := range names {
		if firstJob(p) == id {
			return p
		}
	}
	return ""
}

// firstJob returns the job of the first record among the first lines of a log.
func firstJob(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	r := logrec.NewReader(io.LimitReader(f, 64<<10))
	for i := 0; i < 16; i++ {
		it, err := r.Next()
		if err != nil {
			return ""
		}
		if it.Err == nil && it.Rec.Job != logrec.NoJob {
			return it.Rec.Job
		}
	}
	return ""
}
