// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testlibs"
	"github.com/softmig/softmig/internal/testutil"
)

func TestVerify(t *testing.T) {
	needRootNS(t)
	tests := []struct {
		name   string
		mutate func(t *testing.T, f *fixture)
		want   []string // lines (or parts) the checklist must print
	}{
		{"good install", func(*testing.T, *fixture) {}, []string{
			"ok    /var/log/softmig: directory 0755 root:root",
			"ok    /var/lib/shared/libsoftmig.so: loads in a fresh process, answers version 1",
			"ok    /var/lib/shared/libsoftmig.so: built with version=test " + defs.Facts() + ", as these tools",
			"ok    /etc/ld.so.preload: lists /var/lib/shared/libsoftmig.so",
			"skip  new processes on the node map",
			"ok    /etc/softmig/softmig.yaml: a site config with 1 GPU type(s), jobs get their slices",
			"ok    Slurm config: ROOT/etc/slurm/slurm.conf",
			"ok    ROOT/etc/slurm/slurm.conf:2: Prolog=/etc/slurm/prolog.sh: runs /etc/slurm/prolog.sh, which calls /usr/local/share/softmig/slurm/prolog.sh",
			"ok    ROOT/etc/slurm/slurm.conf:3: Epilog=/etc/slurm/epilog.sh: runs /etc/slurm/epilog.sh, which calls /usr/local/share/softmig/slurm/epilog.sh",
			"ok    ROOT/etc/slurm/slurm.conf:9: node node1 has Gres=gpu:l40s:1,shard:l40s:4",
			"ok    ROOT/etc/slurm/job_submit.lua: loads softmig_gres.lua",
			"all checks passed",
		}},
		{"no slurm.conf", func(t *testing.T, f *fixture) {
			os.Remove(filepath.Join(f.root, "etc/slurm/slurm.conf"))
		}, []string{
			"FAIL  no slurm.conf on this node",
		}},
		{"site prolog without SoftMig's", func(t *testing.T, f *fixture) {
			testutil.Must(t, os.WriteFile(filepath.Join(f.root, "etc/slurm/prolog.sh"), []byte("#!/bin/sh\nexit 0\n"), 0o755))
		}, []string{
			"FAIL  ROOT/etc/slurm/slurm.conf:2: Prolog=/etc/slurm/prolog.sh: does not run /usr/local/share/softmig/slurm/prolog.sh: GPU jobs get no slice",
			"fix: add to the script Prolog names: if [ -x /usr/local/share/softmig/slurm/prolog.sh ]; then /usr/local/share/softmig/slurm/prolog.sh || exit; fi",
		}},
		{"SoftMig's epilog missing", func(t *testing.T, f *fixture) {
			os.Remove(filepath.Join(f.root, "usr/local/share/softmig/slurm/epilog.sh"))
		}, []string{
			"FAIL  /usr/local/share/softmig/slurm/epilog.sh: missing: Slurm cannot run SoftMig's epilog",
			"fix: softmig-install install",
		}},
		{"good: prolog runs SoftMig's directly", func(t *testing.T, f *fixture) {
			editFile(t, filepath.Join(f.root, "etc/slurm/slurm.conf"), "Prolog=/etc/slurm/prolog.sh", "Prolog=/usr/local/share/softmig/slurm/prolog.sh")
		}, []string{
			"ok    ROOT/etc/slurm/slurm.conf:2: Prolog=/usr/local/share/softmig/slurm/prolog.sh: runs SoftMig's prolog.sh directly (removing the package refuses",
		}},
		{"no job cgroups", func(t *testing.T, f *fixture) {
			editFile(t, filepath.Join(f.root, "etc/slurm/slurm.conf"), "ProctrackType=proctrack/cgroup", "ProctrackType=proctrack/linuxproc")
		}, []string{
			"FAIL  ProctrackType lacks proctrack/cgroup (ROOT/etc/slurm/slurm.conf:5: ProctrackType=proctrack/linuxproc)",
		}},
		{"node without shards", func(t *testing.T, f *fixture) {
			editFile(t, filepath.Join(f.root, "etc/slurm/slurm.conf"), ",shard:l40s:4", "")
		}, []string{
			"FAIL  ROOT/etc/slurm/slurm.conf:9: node node1 has no shards (Gres=gpu:l40s:1): it runs no slices",
		}},
		{"gres.conf without shards", func(t *testing.T, f *fixture) {
			editFile(t, filepath.Join(f.root, "etc/slurm/gres.conf"), "Name=shard", "Name=mps")
		}, []string{
			"FAIL  ROOT/etc/slurm/gres.conf: no Name=shard line for this node",
		}},
		{"job_submit.lua without SoftMig", func(t *testing.T, f *fixture) {
			testutil.Must(t, os.WriteFile(filepath.Join(f.root, "etc/slurm/job_submit.lua"), []byte("function slurm_job_submit() return slurm.SUCCESS end\n"), 0o644))
		}, []string{
			"FAIL  ROOT/etc/slurm/job_submit.lua: does not load softmig_gres.lua",
			"fix: add SoftMig's lines to it, as in /usr/local/share/doc/softmig/examples/slurm/site-job_submit.lua",
		}},
		{"tool built for a newer glibc", func(t *testing.T, f *fixture) {
			// This machine's programs against a glibc 2.17 (EL7's): the
			// loader would refuse them, so verify must.
			testutil.Must(t, os.MkdirAll(filepath.Join(f.root, "lib64"), 0o755))
			libc := testlibs.FakeLibc(t, f.libs, "GLIBC_2.2.5", "GLIBC_2.17")
			copyFile(t, libc, filepath.Join(f.root, "lib64/libc.so.6"))
			prog := testlibs.Program(t, f.libs, "prog", "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
			copyFile(t, prog, filepath.Join(f.root, "usr/local/bin/softmig-conf"))
		}, []string{
			"FAIL  /usr/local/bin/softmig-conf: built for a newer distribution: needs a newer glibc: it needs GLIBC_2.",
			"and ROOT/lib64/libc.so.6 goes up to GLIBC_2.17",
			"fix: build SoftMig on a build host of this node's distribution",
		}},
		{"log directory mode", func(t *testing.T, f *fixture) {
			if err := os.Chmod(filepath.Join(f.root, "var/log/softmig"), 0o777); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"FAIL  /var/log/softmig: directory 0777 root:root, want 0755 root:root",
			"fix: chown root:root " + "ROOT/var/log/softmig && chmod 0755 ROOT/var/log/softmig",
		}},
		{"library mode", func(t *testing.T, f *fixture) {
			if err := os.Chmod(f.lib(), 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"FAIL  /var/lib/shared/libsoftmig.so: file 0600 root:root, want 0644 root:root",
			"fix: chown root:root ROOT/var/lib/shared/libsoftmig.so && chmod 0644 ROOT/var/lib/shared/libsoftmig.so",
		}},
		{"library directory not searchable", func(t *testing.T, f *fixture) {
			if err := os.Chmod(filepath.Join(f.root, "var/lib"), 0o750); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"FAIL  /var/lib: not searchable by other users",
			"fix: chmod o+x ROOT/var/lib",
		}},
		{"preload line missing", func(t *testing.T, f *fixture) {
			if err := os.WriteFile(filepath.Join(f.root, "etc/ld.so.preload"), []byte("/usr/lib/other.so\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"FAIL  /etc/ld.so.preload: does not list /var/lib/shared/libsoftmig.so",
			"fix: softmig-install enable",
		}},
		{"preload names a missing file", func(t *testing.T, f *fixture) {
			os.Remove(filepath.Join(f.root, "usr/lib/other.so"))
		}, []string{
			"FAIL  /etc/ld.so.preload: lists /usr/lib/other.so, which does not exist",
			"fix: remove /usr/lib/other.so from /etc/ld.so.preload",
		}},
		{"library not passive", func(t *testing.T, f *fixture) {
			noisy := testlibs.Lib(t, f.libs, "noisy.so", testlibs.Noisy)
			b, _ := os.ReadFile(noisy)
			if err := os.WriteFile(f.lib(), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"FAIL  /var/lib/shared/libsoftmig.so: it is not passive",
			"fix: put a good build in place: softmig-install update BUILD/libsoftmig.so",
		}},
		{"library built with another run dir", func(t *testing.T, f *fixture) {
			other := strings.Replace(defs.Facts(), "run_dir="+defs.RunDir(), "run_dir=/srv/softmig", 1)
			lib := testlibs.Lib(t, f.libs, "other.so", `const char *softmig_version(void) { return "1"; }`+"\n"+testlibs.BuildInfo(other))
			b, _ := os.ReadFile(lib)
			if err := os.WriteFile(f.lib(), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"FAIL  /var/lib/shared/libsoftmig.so: library built with run_dir=/srv/softmig (tools: " + defs.RunDir() + "): it trusts other paths than these tools",
			"fix: build the library and the tools together (make RUNDIR=... LOGDIR=... all)",
		}},
		{"library without build info", func(t *testing.T, f *fixture) {
			lib := testlibs.Lib(t, f.libs, "old.so", `const char *softmig_version(void) { return "1"; }`+"\n")
			b, _ := os.ReadFile(lib)
			if err := os.WriteFile(f.lib(), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"FAIL  /var/lib/shared/libsoftmig.so: does not export the string softmig_build_info (a build older than these tools?)",
		}},
		{"site config moves the run directory", func(t *testing.T, f *fixture) {
			if err := os.WriteFile(filepath.Join(f.root, "etc/softmig/softmig.yaml"), []byte("gpus:\n  l40s:\n    shards: 4\npaths:\n  run_dir: /srv/softmig\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"FAIL  /etc/softmig/softmig.yaml: GPU jobs fail closed: ROOT/etc/softmig/softmig.yaml:5: paths.run_dir: \"/srv/softmig\": this directory is set at build time",
		}},
		{"tool removed", func(t *testing.T, f *fixture) {
			os.Remove(filepath.Join(f.root, "usr/local/bin/softmig-conf"))
		}, []string{
			"FAIL  /usr/local/bin/softmig-conf: no such file or directory (installed by softmig-install)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, true)
			f.install(t)
			tc.mutate(t, f)
			out, err := runTool(t, f.verifyArgs()...)
			good := strings.HasPrefix(tc.name, "good")
			if good && err != nil || !good && !errors.Is(err, errVerifyFailed) {
				t.Errorf("verify = %v, want failure %v\n%s", err, !good, out)
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "ROOT", f.root)
				if !strings.Contains(out, w) {
					t.Errorf("checklist lacks %q:\n%s", w, out)
				}
			}
			if testing.Verbose() {
				t.Log(out)
			}
		})
	}
}

func TestVerifyExitStatus(t *testing.T) {
	needRootNS(t)
	f := newFixture(t, false)
	var out, errb strings.Builder
	if code := mainExit(f.verifyArgs(), &out, &errb); code != 1 {
		t.Errorf("verify of an empty root exited %d, want 1\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "FAIL  /var/lib/shared:") {
		t.Errorf("checklist lacks the missing library directory:\n%s", out.String())
	}
	f.install(t)
	out.Reset()
	if code := mainExit(f.verifyArgs(), &out, &errb); code != 0 {
		t.Errorf("verify after install exited %d, want 0\n%s", code, out.String())
	}
}

// verify --json gives scripts the same checklist: ready, each check's
// status, what and fix, and the exit status of the plain form.
func TestVerifyJSON(t *testing.T) {
	needRootNS(t)
	f := newFixture(t, false)
	f.install(t)
	if err := os.Chmod(filepath.Join(f.root, "var/log/softmig"), 0o777); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := mainExit(f.verifyArgs("--json"), &out, &errb); code != 1 {
		t.Errorf("verify --json with a bad log directory exited %d, want 1\n%s", code, out.String())
	}
	var got struct {
		Ready  bool
		Failed int
		Checks []struct{ Status, What, Fix string }
	}
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("verify --json printed no JSON object: %v\n%s", err, out.String())
	}
	var fails []string
	for _, c := range got.Checks {
		if c.Status == "fail" {
			fails = append(fails, c.What+" / "+c.Fix)
		}
	}
	if got.Ready || got.Failed != 1 || len(fails) != 1 || !strings.Contains(fails[0], "/var/log/softmig") || !strings.Contains(fails[0], "chmod 0755") {
		t.Errorf("verify --json = ready %v, failed %d, failures %q; want one failure for /var/log/softmig with its fix", got.Ready, got.Failed, fails)
	}
	if err := os.Chmod(filepath.Join(f.root, "var/log/softmig"), 0o755); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := mainExit(f.verifyArgs("--json"), &out, &errb); code != 0 || !strings.Contains(out.String(), `"ready": true`) {
		t.Errorf("verify --json of a good install exited %d:\n%s", code, out.String())
	}
}

// editFile replaces old by repl in the file at path; old must be there.
func editFile(t *testing.T, path, old, repl string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), old) {
		t.Fatalf("%s: %v, or no %q in it", path, err, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, repl, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
