// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// Where Slurm and Apptainer keep the files the container checks read.
var (
	slurmConfPaths     = []string{"/etc/slurm/slurm.conf", "/etc/slurm-llnl/slurm.conf", "/usr/local/etc/slurm.conf"}
	apptainerConfPaths = []string{"/etc/apptainer/apptainer.conf", "/usr/local/etc/apptainer/apptainer.conf",
		"/etc/singularity/singularity.conf", "/usr/local/etc/singularity/singularity.conf"}
)

const taskPrologName = "task_prolog.sh"

// checkContainers reports how SoftMig reaches the node's Apptainer
// containers (docs/containers.md): slurm.conf runs SoftMig's task prolog,
// which binds it in through APPTAINER_BINDPATH (kept by --contain and every
// other flag); apptainer.conf lets users bind (the environment's binds are
// user binds) and has no bind path whose source is missing (that fails
// every container on the node) or that binds SoftMig (dropped by --contain,
// fatal once SoftMig is removed, and a duplicate of the task prolog's).
func (c *checklist) checkContainers(l layout) {
	conf := firstFile(l, apptainerConfPaths)
	if conf == "" {
		c.skip("containers: no apptainer.conf (%s): Apptainer not installed, not checked", strings.Join(apptainerConfPaths, ", "))
		return
	}
	c.checkTaskProlog(l)
	c.checkApptainerConf(l, conf)
}

func firstFile(l layout, paths []string) string {
	for _, p := range paths {
		if isFile(l.host(p)) {
			return p
		}
	}
	return ""
}

func (c *checklist) checkTaskProlog(l layout) {
	fix := "add TaskProlog=PREFIX/share/softmig/slurm/" + taskPrologName + " to slurm.conf, or run it from your own TaskProlog and print what it prints"
	sc := firstFile(l, slurmConfPaths)
	if sc == "" {
		c.skip("containers: no slurm.conf (%s): the task prolog is not checked", strings.Join(slurmConfPaths, ", "))
		return
	}
	tp := confValue(l.host(sc), "TaskProlog", "=")
	switch {
	case tp == "":
		c.fail(fix, "%s: no TaskProlog: containers started with --contain or --containall run without SoftMig, and the guard kills their GPU programs", sc)
		return
	case !isFile(l.host(tp)):
		c.fail(fix, "%s: TaskProlog=%s does not exist: Slurm fails every task on this node", sc, tp)
		return
	}
	if filepath.Base(tp) != taskPrologName {
		if b, err := os.ReadFile(l.host(tp)); err != nil || !strings.Contains(string(b), taskPrologName) {
			c.fail(fix, "%s: TaskProlog=%s does not run SoftMig's %s: containers run without SoftMig's binds", sc, tp, taskPrologName)
			return
		}
	}
	c.ok("%s: TaskProlog=%s binds SoftMig into containers (APPTAINER_BINDPATH) where it is enabled", sc, tp)
}

func (c *checklist) checkApptainerConf(l layout, conf string) {
	f, err := os.Open(l.host(conf))
	if err != nil {
		c.fail("make it readable", "%s: %v", conf, err)
		return
	}
	defer f.Close()
	ours := map[string]bool{preloadPath: true, l.lib(): true, runDir: true, logDir: true}
	bad := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := confLine(sc.Text(), "=")
		switch {
		case !ok:
		case key == "user bind control" && strings.EqualFold(val, "no"):
			c.fail("set \"user bind control = yes\" in "+conf, "%s: user bind control = no: Apptainer ignores APPTAINER_BINDPATH and containers run without SoftMig", conf)
			bad = true
		case key == "bind path":
			src, _, _ := strings.Cut(val, ":")
			if _, err := os.Stat(l.host(src)); err != nil {
				c.fail("remove \"bind path = "+val+"\" from "+conf, "%s: bind path = %s: the source is missing, every container on this node fails to start", conf, val)
				bad = true
			} else if ours[filepath.Clean(src)] {
				c.fail("remove \"bind path = "+val+"\" from "+conf+" (the task prolog binds it)", "%s: bind path = %s: dropped by --contain, fatal to every container once SoftMig is removed", conf, val)
				bad = true
			}
		}
	}
	if !bad {
		c.ok("%s: users may bind, no bind path of SoftMig's or with a missing source", conf)
	}
}

// confValue returns the last value of key in a "key<sep>value" file
// (slurm.conf's keys are case-insensitive), or "".
func confValue(path, key, sep string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	v := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, val, ok := confLine(sc.Text(), sep); ok && strings.EqualFold(k, key) {
			v = val
		}
	}
	return v
}

// confLine splits a "key <sep> value" line without its comment.
func confLine(line, sep string) (string, string, bool) {
	line, _, _ = strings.Cut(line, "#")
	k, v, ok := strings.Cut(line, sep)
	return strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v), ok && strings.TrimSpace(k) != ""
}
