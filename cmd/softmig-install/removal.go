// SPDX-License-Identifier: Apache-2.0

// removal.go: a package's removal must not hurt the node. Slurm runs the
// programs slurm.conf names for every job, and a Prolog or Epilog that is
// gone fails the job and drains the node (a TaskProlog, every task); so
// while this node's Slurm runs one of SoftMig's scripts, the package's
// removal step refuses and names the lines to take out first.

package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/softmig/softmig/internal/slurm"
)

// prefixOr returns flag, or else the install prefix of this program
// (PREFIX/bin/softmig-install), as a node path.
func (e *env) prefixOr(flag string, l layout) string {
	if flag != "" {
		return filepath.Clean(flag)
	}
	self, err := filepath.Abs(e.self[0])
	if err != nil {
		return ""
	}
	return filepath.Dir(filepath.Dir(nodePath(l, self)))
}

// ownsPath reports whether the node path p is one of this install's
// programs or Slurm scripts (PREFIX/share/softmig/..., PREFIX/bin/softmig-*).
func ownsPath(prefix, p string) bool {
	if prefix == "" {
		return false
	}
	return strings.HasPrefix(p, filepath.Join(prefix, "share/softmig")+"/") ||
		filepath.Dir(p) == filepath.Join(prefix, "bin") && strings.HasPrefix(filepath.Base(p), "softmig-")
}

// slurmRunsOurs returns the settings of confs whose programs are this
// install's files, directly or through a symbolic link.
func slurmRunsOurs(l layout, prefix string, confs []*slurm.Conf) []slurm.Setting {
	var refs []slurm.Setting
	for _, c := range confs {
		for _, k := range scriptKeys {
			s, ok := c.Get(k)
			if !ok {
				continue
			}
			for _, p := range scriptPaths(l, s.Value) {
				if ownsPath(prefix, p) || ownsPath(prefix, resolved(l, p)) {
					refs = append(refs, s)
					break
				}
			}
		}
	}
	return refs
}

// checkRemovable refuses the removal of the install while the node's Slurm
// runs its scripts; the error names each line and what to do.
func (e *env) checkRemovable(l layout, prefix string) error {
	confs, err := e.readSlurmConfs(l)
	if err != nil {
		return fmt.Errorf("refusing to remove SoftMig: cannot read this node's Slurm config to see whether it runs SoftMig's scripts: %w; "+
			"fix the file, or take SoftMig's Prolog/Epilog lines out of it, then remove the package again", err)
	}
	refs := slurmRunsOurs(l, prefix, confs)
	if len(refs) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "refusing to remove SoftMig: this node's Slurm runs SoftMig's scripts, which removal deletes; "+
		"every job would then fail its prolog or epilog and Slurm would drain the node, or every task would fail its task prolog:\n")
	for _, s := range refs {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	fmt.Fprintf(&b, "Take these lines out of slurm.conf, or make them run a site script that calls SoftMig's only while it is installed:\n"+
		"  if [ -x %[1]s/share/softmig/slurm/prolog.sh ]; then %[1]s/share/softmig/slurm/prolog.sh || exit; fi\n"+
		"(%[1]s/share/doc/softmig/examples/slurm/site-prolog.sh, site-epilog.sh and site-task_prolog.sh), run `scontrol reconfigure`, "+
		"then remove the package again. Nothing was changed.", prefix)
	return fmt.Errorf("%s", b.String())
}
