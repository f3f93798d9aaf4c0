// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testutil"
)

func TestGuardUnit(t *testing.T) {
	files, notes := guardFiles("/opt/sm", "/etc/systemd/system", testutil.Root(t))
	if len(files) != 1 || files[0].path != "/etc/systemd/system/softmig-guard.service" || files[0].conf {
		t.Fatalf("guardFiles = %+v, %q; want the unit in the unit directory, the install's (admins override it with drop-ins)", files, notes)
	}
	unit := string(files[0].data)
	for _, want := range []string{"ExecStart=/opt/sm/bin/softmig-guard\n", "ReadWritePaths=-" + defs.RunDir() + " -" + defs.LogDir() + "\n", "WantedBy=multi-user.target"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "@") {
		t.Errorf("unit keeps a placeholder:\n%s", unit)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "systemctl enable --now softmig-guard") {
		t.Errorf("notes = %q; want the enable hint", notes)
	}
	if files, notes := guardFiles("/opt/sm", "/etc/systemd/system", t.TempDir()); len(files) != 0 || len(notes) != 1 {
		t.Errorf("without the template: %+v %q; want a note only", files, notes)
	}
}

// Units and tmpfiles.d entries go where systemd reads them: the
// distribution's directories for /usr, the administrator's for /usr/local.
func TestSystemdDirs(t *testing.T) {
	for prefix, want := range map[string][2]string{
		"/usr":       {"/usr/lib/systemd/system", "/usr/lib/tmpfiles.d"},
		"/usr/local": {"/usr/local/lib/systemd/system", "/usr/local/lib/tmpfiles.d"},
		"/opt/sm":    {"/etc/systemd/system", "/etc/tmpfiles.d"},
	} {
		if u, tf := systemdDirs(prefix); u != want[0] || tf != want[1] {
			t.Errorf("systemdDirs(%s) = %s, %s; want %s, %s", prefix, u, tf, want[0], want[1])
		}
	}
}

// The guard is found by the program it runs, never by its name: a process
// called softmig-guard that runs something else does not count, and one
// that runs a deleted (replaced) file is found as such.
func TestFindProgram(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the fake processes must be root's (their /proc directories are owned by the test's user)")
	}
	proc := t.TempDir()
	for pid, exe := range map[string]string{"12": "/usr/bin/bash", "34": "/tmp/softmig-guard", "self": "/opt/sm/bin/softmig-guard"} {
		testutil.Must(t, os.MkdirAll(filepath.Join(proc, pid), 0o755))
		testutil.Must(t, os.Symlink(exe, filepath.Join(proc, pid, "exe")))
	}
	if pid, _ := findProgram(proc, "/opt/sm/bin/softmig-guard"); pid != 0 {
		t.Errorf("findProgram found pid %d; want none (pid 34 only has the name)", pid)
	}
	testutil.Must(t, os.MkdirAll(filepath.Join(proc, "56"), 0o755))
	testutil.Must(t, os.Symlink("/opt/sm/bin/softmig-guard", filepath.Join(proc, "56", "exe")))
	if pid, deleted := findProgram(proc, "/opt/sm/bin/softmig-guard"); pid != 56 || deleted {
		t.Errorf("findProgram = %d, deleted %v; want 56, not deleted", pid, deleted)
	}
	os.Remove(filepath.Join(proc, "56", "exe"))
	testutil.Must(t, os.Symlink("/opt/sm/bin/softmig-guard (deleted)", filepath.Join(proc, "56", "exe")))
	if pid, deleted := findProgram(proc, "/opt/sm/bin/softmig-guard"); pid != 56 || !deleted {
		t.Errorf("findProgram = %d, deleted %v; want 56, deleted (an old build after an upgrade)", pid, deleted)
	}
}
