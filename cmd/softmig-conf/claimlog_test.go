// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Another user made the job's log before the job started (the log
// directory is world-writable and sticky): a file of theirs with a forged
// record, or a symlink. The prolog's write puts the job's own empty log in
// its place; a log that is already the job's (a requeued job) stays.
func TestWriteClaimsTheJobLog(t *testing.T) {
	requireRoot(t)
	e := env("SLURM_JOB_ID=42", "SLURM_JOB_UID=1001", "SLURM_JOB_GID=1002", "SLURM_JOB_USER=alice", "SLURM_JOB_GPUS=0", "SLURMD_NODENAME=vm")
	forged := "ts=2026-11-25T11:00:00Z level=event job=42 pid=1 dev=0 msg=\"guard kill\" reason=over_slice\n"
	// forge writes a forged log at p owned by uid:gid.
	forge := func(p string, uid, gid int) {
		if err := os.WriteFile(p, []byte(forged), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name  string
		plant func(path string)
		keep  bool
	}{
		{"another user's file", func(p string) { forge(p, 4242, 4242) }, false},
		{"a symlink", func(p string) {
			if err := os.Symlink("/etc/hostname", p); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"a hard link", func(p string) {
			forge(p+".x", 1001, 1002)
			if err := os.Link(p+".x", p); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"the job's own", func(p string) { forge(p, 1001, 1002) }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, site4, line("42", "shard:l40s:1(IDX:0)"))
			if err := os.Chmod(f.logs, os.ModeSticky|0o777); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(f.logs, "42.log")
			tt.plant(path)
			if _, _, err := f.runConf(t, e, "write", "--job-info", f.info); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			data, _ := os.ReadFile(path)
			if !fi.Mode().IsRegular() || st.Uid != 1001 || st.Gid != 1002 || st.Nlink != 1 || fi.Mode().Perm()&0o022 != 0 {
				t.Fatalf("job log after write: mode %v uid %d gid %d links %d; want the job user's regular file", fi.Mode(), st.Uid, st.Gid, st.Nlink)
			}
			if tt.keep != (string(data) == forged) {
				t.Errorf("job log after write holds %q; want the old content kept: %v", data, tt.keep)
			}
		})
	}
}

// A FIFO planted as the job's log must not hang the prolog when it logs a
// config error (fail closed): the error is logged to the job's own file.
func TestFailClosedLogsPastAPlantedFIFO(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, "gpus: [", line("9", "shard:l40s:1(IDX:0)"))
	if err := os.Chmod(f.logs, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(f.logs, "9.log")
	if err := syscall.Mkfifo(path, 0o666); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := f.runConf(t, env("SLURM_JOB_ID=9", "SLURM_JOB_UID=1001", "SLURMD_NODENAME=vm"), "write", "--job-info", f.info)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Logf("write with a FIFO planted as the job's log: %v", err)
		}
	case <-time.After(5 * time.Second):
		os.Remove(path)
		t.Fatal("write hung on a FIFO planted as the job's log")
	}
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), `msg="config error"`) {
		t.Errorf("job log %s: %q, %v; want the config error", path, data, err)
	}
}
