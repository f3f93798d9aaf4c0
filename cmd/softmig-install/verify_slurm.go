// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/softmig/softmig/internal/slurm"
)

// checkSlurm checks that this node's Slurm runs SoftMig: its prolog and
// epilog (directly, or through a site script that calls them), job
// identity by cgroup, this node's shards in slurm.conf and gres.conf, and
// the lua plugins where their files are on this host.
func (c *checklist) checkSlurm(l layout, node string) {
	confs, err := c.e.readSlurmConfs(l)
	if err != nil {
		c.fail("fix the file Slurm reads", "Slurm config: %v", err)
		return
	}
	if len(confs) == 0 {
		c.fail("set Slurm up for SoftMig (README, admin guide step 4); set SLURM_CONF when slurm.conf is elsewhere",
			"no slurm.conf on this node (looked at $SLURM_CONF, the running slurmd's, %s): Slurm runs no SoftMig prolog here, GPU jobs are not sliced",
			strings.Join(defaultSlurmConfs, ", "))
		return
	}
	conf := confs[0]
	c.ok("Slurm config: %s", strings.Join(conf.Files, ", "))
	prefix := c.prefix
	c.checkSlurmScript(l, conf, prefix, "Prolog")
	c.checkSlurmScript(l, conf, prefix, "Epilog")
	c.checkSlurmValue(conf, "PrologFlags", "Alloc", "the prolog runs when the job is allocated, before any step")
	c.checkSlurmValue(conf, "ProctrackType", "proctrack/cgroup", "every process of a job is in the job's cgroup, which tells the library its job")
	c.checkSlurmValue(conf, "TaskPlugin", "task/cgroup", "jobs are confined to their devices (with ConstrainDevices=yes in cgroup.conf)")
	c.checkSlurmValue(conf, "GresTypes", "shard", "slices are Slurm shards")
	c.checkNodeShards(conf, prefix, node)
	c.checkLuaPlugin(conf, prefix, "JobSubmitPlugins", "job_submit.lua", true)
	c.checkLuaPlugin(conf, prefix, "CliFilterPlugins", "cli_filter.lua", false)
}

// slurmScripts are the slurm.conf keys that run SoftMig's scripts: the
// script, what the node loses when the key does not run it, and what
// Slurm does while the program the key names is missing.
var slurmScripts = map[string]struct{ script, without, missing string }{
	"Prolog": {"prolog.sh", "GPU jobs get no slice",
		"every job fails its prolog and Slurm drains the node"},
	"Epilog": {"epilog.sh", "job configs and regions outlive their jobs",
		"every job fails its epilog and Slurm drains the node"},
	"TaskProlog": {taskPrologName, "containers started with --contain or --containall run without SoftMig, and the guard kills their GPU programs",
		"Slurm fails every task on this node"},
}

// checkSlurmScript checks that Slurm's key runs SoftMig's script, directly
// or through a site script that calls it.
func (c *checklist) checkSlurmScript(l layout, conf *slurm.Conf, prefix, key string) {
	sc := slurmScripts[key]
	ours := filepath.Join(prefix, "share/softmig/slurm", sc.script)
	site := filepath.Join(prefix, "share/doc/softmig/examples/slurm/site-"+sc.script)
	call := fmt.Sprintf("if [ -x %[1]s ]; then %[1]s; fi", ours)
	if key == "Prolog" {
		call = fmt.Sprintf("if [ -x %[1]s ]; then %[1]s || exit; fi", ours) // its failure is the job's
	}
	if !isFile(l.host(ours)) {
		c.fail(c.kind.reinstall(), "%s: missing: Slurm cannot run SoftMig's %s", ours, strings.TrimSuffix(sc.script, ".sh"))
		return
	}
	s, ok := conf.Get(key)
	if !ok || s.Value == "" {
		c.fail(fmt.Sprintf("%s=/etc/slurm/%s in slurm.conf, a site script with the line: %s   (example: %s)", key, sc.script, call, site),
			"%s: no %s: SoftMig's %s never runs, %s", conf.Path, key, sc.script, sc.without)
		return
	}
	found := false
	for _, p := range scriptPaths(l, s.Value) {
		if !isFile(l.host(p)) {
			continue
		}
		found = true
		if ownsPath(prefix, p) && filepath.Base(p) == sc.script || ownsPath(prefix, resolved(l, p)) && filepath.Base(resolved(l, p)) == sc.script {
			c.ok("%s: runs SoftMig's %s directly (removing the package refuses until this line runs a site script like %s)", s, sc.script, site)
			return
		}
		if data, err := os.ReadFile(l.host(p)); err == nil && strings.Contains(string(data), ours) {
			c.ok("%s: runs %s, which calls %s", s, p, ours)
			return
		}
	}
	if !found {
		c.fail(fmt.Sprintf("install the site script there (example: %s), or name an existing one", site),
			"%s: does not exist: %s", s, sc.missing)
		return
	}
	c.fail(fmt.Sprintf("add to the script %s names: %s   (example: %s)", key, call, site),
		"%s: does not run %s: %s", s, ours, sc.without)
}

// checkSlurmValue checks that a comma-separated setting has want.
func (c *checklist) checkSlurmValue(conf *slurm.Conf, key, want, why string) {
	s, ok := conf.Get(key)
	if ok {
		for _, v := range strings.Split(s.Value, ",") {
			if strings.EqualFold(strings.TrimSpace(v), want) {
				c.ok("%s: %s", s, why)
				return
			}
		}
	}
	have := "not set"
	if ok {
		have = s.String()
	}
	c.fail(fmt.Sprintf("%s=%s in %s (with what it has)", key, want, conf.Path), "%s lacks %s (%s): %s", key, want, have, why)
}

// checkNodeShards checks that slurm.conf gives this node shards and that
// gres.conf, next to it, says which GPUs they are on.
func (c *checklist) checkNodeShards(conf *slurm.Conf, prefix, node string) {
	n, line, ok := conf.Node(node)
	switch {
	case !ok:
		c.fail(fmt.Sprintf("add a NodeName=%s line, or run verify with --node NAME", node),
			"%s: no NodeName line names this node (%s)", conf.Path, node)
		return
	case !strings.Contains(n["gres"], "shard"):
		c.fail(fmt.Sprintf("add the shards to the Gres of %s:%d, e.g. Gres=gpu:l40s:4,shard:l40s:16 (GPUs x shards per GPU)", line.File, line.Line),
			"%s:%d: node %s has no shards (Gres=%s): it runs no slices", line.File, line.Line, node, n["gres"])
		return
	}
	c.ok("%s:%d: node %s has Gres=%s", line.File, line.Line, node, n["gres"])
	gres := filepath.Join(filepath.Dir(conf.Path), "gres.conf")
	if found, err := gresHasShards(gres, node); err != nil || !found {
		why := "no Name=shard line for this node"
		if err != nil {
			why = err.Error()
		}
		c.fail("add Name=shard lines for this node's GPUs, as in "+prefix+"/share/doc/softmig/examples/slurm/4-shards/gres.conf", "%s: %s", gres, why)
		return
	}
	c.ok("%s: names this node's shards (softmig-conf check compares their count with the site config)", gres)
}

// gresHasShards reports whether gres.conf has a Name=shard line for node.
func gresHasShards(path, node string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line, _, _ := strings.Cut(s.Text(), "#")
		kv := map[string]string{}
		for _, field := range strings.Fields(line) {
			if k, v, ok := strings.Cut(field, "="); ok {
				kv[strings.ToLower(k)] = v
			}
		}
		if !strings.EqualFold(kv["name"], "shard") {
			continue
		}
		if kv["nodename"] == "" {
			return true, nil
		}
		hosts, _ := slurm.ExpandHostlist(kv["nodename"])
		for _, h := range hosts {
			if h == node {
				return true, nil
			}
		}
	}
	return false, s.Err()
}

// checkLuaPlugin checks a lua plugin of slurm.conf: on the host that has
// its script (next to slurm.conf), the script loads SoftMig's module and
// the GPU types table is there. need: the plugin is required (job_submit
// is the authoritative check; cli_filter only helps srun).
func (c *checklist) checkLuaPlugin(conf *slurm.Conf, prefix, key, script string, need bool) {
	s, ok := conf.Get(key)
	snippet := filepath.Join(prefix, "share/doc/softmig/examples/slurm/site-"+script)
	if !ok || !strings.Contains(strings.ToLower(s.Value), "lua") {
		if need {
			c.fail(fmt.Sprintf("%s=lua in slurm.conf, and %s as in %s", key, script, snippet),
				"%s has no lua plugin: GPU slice requests are refused as invalid GRES", key)
		} else {
			c.skip("%s: no lua (optional: it lets srun ask for a slice; see %s)", key, snippet)
		}
		return
	}
	dir := filepath.Dir(conf.Path)
	data, err := os.ReadFile(filepath.Join(dir, script))
	if err != nil {
		c.skip("%s: %s is not on this host: check it on the hosts that run it (slurmctld, submit hosts)", s, filepath.Join(dir, script))
		return
	}
	if !strings.Contains(string(data), "softmig_gres.lua") {
		c.fail("add SoftMig's lines to it, as in "+snippet, "%s: does not load softmig_gres.lua: GPU slice requests are not turned into shards", filepath.Join(dir, script))
		return
	}
	types := filepath.Join(dir, "softmig_types.lua")
	if !isFile(types) {
		c.fail("softmig-conf gres-lua > "+types, "%s: missing: softmig_gres.lua knows no GPU type, every slice request is refused", types)
		return
	}
	c.ok("%s: loads softmig_gres.lua, with %s", filepath.Join(dir, script), types)
}
