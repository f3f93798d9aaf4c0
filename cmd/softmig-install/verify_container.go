// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// Where Apptainer keeps its config (Singularity's before the rename).
var apptainerConfPaths = []string{"/etc/apptainer/apptainer.conf", "/usr/local/etc/apptainer/apptainer.conf",
	"/etc/singularity/singularity.conf", "/usr/local/etc/singularity/singularity.conf"}

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

// checkTaskProlog checks that the slurm.conf slurmd reads runs SoftMig's
// task prolog, as verify's Slurm checks read it (checkSlurm reports a
// node without one).
func (c *checklist) checkTaskProlog(l layout) {
	confs, err := c.e.readSlurmConfs(l)
	if err != nil || len(confs) == 0 {
		c.skip("containers: no readable slurm.conf: the task prolog is not checked")
		return
	}
	c.checkSlurmScript(l, confs[0], c.prefix, "TaskProlog")
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

// confLine splits a "key <sep> value" line without its comment.
func confLine(line, sep string) (string, string, bool) {
	line, _, _ = strings.Cut(line, "#")
	k, v, ok := strings.Cut(line, sep)
	return strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v), ok && strings.TrimSpace(k) != ""
}
