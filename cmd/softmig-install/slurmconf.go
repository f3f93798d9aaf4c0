// SPDX-License-Identifier: Apache-2.0

// slurmconf.go: the Slurm configuration of this node, as slurmd reads it,
// for verify's Slurm checks and for the refusal to remove SoftMig while
// Slurm still runs its scripts.

package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/softmig/softmig/internal/slurm"
)

// defaultSlurmConfs are where slurmd finds slurm.conf when nothing names
// it: the configure default of Slurm's packages, the cache of a configless
// node (Slurm 21.08 and later), Debian's path before Slurm 21.08, and a
// source install's.
var defaultSlurmConfs = []string{"/etc/slurm/slurm.conf", "/run/slurm/conf/slurm.conf", "/etc/slurm-llnl/slurm.conf", "/usr/local/etc/slurm.conf"}

// slurmConfPaths returns the node paths of the slurm.conf files this node's
// Slurm may read: $SLURM_CONF, what each running slurmd was started with
// (-f FILE, or SLURM_CONF in its environment), then the defaults; each
// once, those that exist.
func (e *env) slurmConfPaths(l layout) []string {
	var cands []string
	if v := e.getenv("SLURM_CONF"); v != "" {
		cands = append(cands, v)
	}
	if l.live() {
		cands = append(cands, slurmdConfs(e.procRoot)...)
	}
	cands = append(cands, defaultSlurmConfs...)
	seen := map[string]bool{}
	var out []string
	for _, p := range cands {
		p = filepath.Clean(p)
		if seen[p] || !isFile(l.host(p)) {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}

// slurmdConfs returns the config files of the running slurmd processes.
func slurmdConfs(procRoot string) []string {
	var out []string
	dirs, _ := filepath.Glob(filepath.Join(procRoot, "[0-9]*"))
	sort.Strings(dirs)
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "slurmd" {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		for i, a := range args {
			if a == "-f" && i+1 < len(args) {
				out = append(out, args[i+1])
			} else if v, ok := strings.CutPrefix(a, "-f"); ok && v != "" {
				out = append(out, v)
			}
		}
		environ, _ := os.ReadFile(filepath.Join(d, "environ"))
		for _, kv := range bytes.Split(environ, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("SLURM_CONF=")); ok && len(v) > 0 {
				out = append(out, string(v))
			}
		}
	}
	return out
}

// readSlurmConfs reads the node's slurm.conf files (below root); a file
// that exists but cannot be read is an error.
func (e *env) readSlurmConfs(l layout) ([]*slurm.Conf, error) {
	var confs []*slurm.Conf
	var errs []error
	for _, p := range e.slurmConfPaths(l) {
		c, err := slurm.ReadConf(l.host(p))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		if c != nil {
			confs = append(confs, c)
		}
	}
	return confs, errors.Join(errs...)
}

// scriptKeys are the slurm.conf keys that name programs slurmd, slurmctld
// and srun run for jobs: a missing program fails the job, and a failed
// Prolog or Epilog drains the node.
var scriptKeys = []string{"Prolog", "Epilog", "TaskProlog", "TaskEpilog", "PrologSlurmctld", "EpilogSlurmctld", "SrunProlog", "SrunEpilog"}

// scriptPaths returns the programs a script key names, as node paths: the
// files its pattern matches (Slurm takes a glob), or the path itself.
func scriptPaths(l layout, value string) []string {
	matches, _ := filepath.Glob(l.host(value))
	if len(matches) == 0 {
		return []string{filepath.Clean(value)}
	}
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		out = append(out, nodePath(l, m))
	}
	return out
}

// nodePath turns a path on this machine (below the root) into the node's.
func nodePath(l layout, host string) string {
	rel, err := filepath.Rel(l.root, host)
	if err != nil || strings.HasPrefix(rel, "..") {
		return host
	}
	return filepath.Join("/", rel)
}

// resolved is the node path p with its symbolic links followed (p itself
// when it does not exist).
func resolved(l layout, p string) string {
	r, err := filepath.EvalSymlinks(l.host(p))
	if err != nil {
		return p
	}
	return nodePath(l, r)
}
