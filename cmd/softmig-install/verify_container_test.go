// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// verify reports how SoftMig reaches the node's containers: the task
// prolog in slurm.conf, user binds allowed, and no bind path in
// apptainer.conf that fails every container or binds SoftMig.
func TestVerifyContainers(t *testing.T) {
	needRootNS(t)
	const prolog = "/usr/local/share/softmig/slurm/task_prolog.sh"
	good := map[string]string{
		"etc/apptainer/apptainer.conf": "# bind path = /etc/ld.so.preload\nbind path = /etc/hosts\nuser bind control = yes\n",
		"etc/slurm/slurm.conf":         "ClusterName=c\ntaskprolog=" + prolog + "\n",
		"etc/hosts":                    "127.0.0.1 localhost\n",
	}
	tests := []struct {
		name  string
		files map[string]string
		want  []string
		fail  bool
	}{
		{"no apptainer", map[string]string{"etc/apptainer/apptainer.conf": ""}, []string{"skip  containers: no apptainer.conf"}, false},
		{"good", nil, []string{
			"ok    ROOT/etc/slurm/slurm.conf:11: taskprolog=" + prolog + ": runs SoftMig's task_prolog.sh directly (removing the package refuses",
			"ok    /etc/apptainer/apptainer.conf: users may bind, no bind path of SoftMig's or with a missing source",
		}, false},
		{"site TaskProlog that runs ours", map[string]string{
			"etc/slurm/slurm.conf": "TaskProlog=/etc/slurm/tp.sh\n",
			"etc/slurm/tp.sh":      "#!/bin/sh\n" + prolog + "\n",
		}, []string{"ok    ROOT/etc/slurm/slurm.conf:10: TaskProlog=/etc/slurm/tp.sh: runs /etc/slurm/tp.sh, which calls " + prolog}, false},
		{"site TaskProlog without ours", map[string]string{
			"etc/slurm/slurm.conf": "TaskProlog=/etc/slurm/tp.sh\n",
			"etc/slurm/tp.sh":      "#!/bin/sh\necho export X=1\n",
		}, []string{
			"FAIL  ROOT/etc/slurm/slurm.conf:10: TaskProlog=/etc/slurm/tp.sh: does not run " + prolog + ": containers started with --contain",
			"fix: add to the script TaskProlog names: if [ -x " + prolog + " ]; then " + prolog + "; fi",
		}, true},
		{"TaskProlog missing", map[string]string{"etc/slurm/slurm.conf": "TaskProlog=/etc/slurm/gone.sh\n"}, []string{
			"FAIL  ROOT/etc/slurm/slurm.conf:10: TaskProlog=/etc/slurm/gone.sh: does not exist: Slurm fails every task on this node",
		}, true},
		{"no TaskProlog", map[string]string{"etc/slurm/slurm.conf": "ClusterName=c\n"}, []string{
			"FAIL  ROOT/etc/slurm/slurm.conf: no TaskProlog: SoftMig's task_prolog.sh never runs, containers started with --contain or --containall run without SoftMig",
			"fix: TaskProlog=/etc/slurm/task_prolog.sh in slurm.conf, a site script with the line: if [ -x " + prolog + " ]; then " + prolog + "; fi",
		}, true},
		{"bind path of SoftMig's", map[string]string{
			"etc/apptainer/apptainer.conf": "bind path = /etc/ld.so.preload\nbind path = /var/lib/shared/libsoftmig.so\n",
		}, []string{
			"FAIL  /etc/apptainer/apptainer.conf: bind path = /etc/ld.so.preload: dropped by --contain, fatal to every container once SoftMig is removed",
			"FAIL  /etc/apptainer/apptainer.conf: bind path = /var/lib/shared/libsoftmig.so: dropped by --contain",
		}, true},
		{"bind path with a missing source", map[string]string{
			"etc/apptainer/apptainer.conf": "bind path = /nonexistent/lib.so:/lib.so\n",
		}, []string{"FAIL  /etc/apptainer/apptainer.conf: bind path = /nonexistent/lib.so:/lib.so: the source is missing, every container on this node fails to start"}, true},
		{"user binds disabled", map[string]string{
			"etc/apptainer/apptainer.conf": "user bind control = no\n",
		}, []string{"FAIL  /etc/apptainer/apptainer.conf: user bind control = no: Apptainer ignores APPTAINER_BINDPATH"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, true)
			f.install(t)
			// The case's slurm.conf lines go after the fixture's Slurm setup.
			slurmConf := filepath.Join(f.root, "etc/slurm/slurm.conf")
			setup, err := os.ReadFile(slurmConf)
			if err != nil {
				t.Fatal(err)
			}
			for _, files := range []map[string]string{good, tc.files, {strings.TrimPrefix(prolog, "/"): "#!/bin/sh\n"}} {
				for p, s := range files {
					p = filepath.Join(f.root, p)
					if p == slurmConf {
						s = string(setup) + s
					}
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if s == "" {
						os.Remove(p)
					} else if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			out, err := runTool(t, f.verifyArgs()...)
			if tc.fail != errors.Is(err, errVerifyFailed) || !tc.fail && err != nil {
				t.Errorf("verify = %v, want failure %v\n%s", err, tc.fail, out)
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "ROOT", f.root); !strings.Contains(out, w) {
					t.Errorf("checklist lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
