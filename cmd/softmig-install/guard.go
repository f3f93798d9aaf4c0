// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// The guard's systemd unit: its template in the source tree and its name.
const (
	guardUnitSource = "systemd/softmig-guard.service"
	guardName       = "softmig-guard"
	guardUnitName   = guardName + ".service"
)

// systemdDirs returns where an install under prefix puts its systemd unit
// and tmpfiles.d entry: the distribution's directories for /usr (packages
// pass their own: %{_unitdir}, pkg-config's systemdsystemunitdir), the
// administrator's for /usr/local, both in systemd's search path; /etc for
// any other prefix, since systemd looks nowhere else.
func systemdDirs(prefix string) (unitDir, tmpfilesDir string) {
	switch prefix {
	case "/usr", "/usr/local":
		return prefix + "/lib/systemd/system", prefix + "/lib/tmpfiles.d"
	}
	return "/etc/systemd/system", "/etc/tmpfiles.d"
}

// unitSearchPath is where systemd looks for system units, first wins.
var unitSearchPath = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// guardFiles returns the guard's unit for unitDir, its placeholders filled
// in (substitute), and the note that tells the admin to enable it.
func guardFiles(prefix, unitDir, src string) ([]fileSpec, []string) {
	tmpl, err := os.ReadFile(filepath.Join(src, guardUnitSource))
	if err != nil {
		return nil, []string{fmt.Sprintf("no %s in %q: the guard's unit is not installed (softmig-guard(8))", guardUnitSource, src)}
	}
	return []fileSpec{{path: filepath.Join(unitDir, guardUnitName), data: substitute(tmpl, prefix), mode: 0o644}},
		[]string{"start the guard and keep it on at boot: systemctl daemon-reload && systemctl enable --now " + guardName}
}

// errNoSystemd: systemd does not run this node (a container, a chroot).
var errNoSystemd = errors.New("systemd is not running on this node")

// systemctl runs systemctl where systemd runs the node (as sd_booted(3)
// tells it) and returns its standard output.
func systemctl(args ...string) (string, error) {
	if fi, err := os.Stat("/run/systemd/system"); err != nil || !fi.IsDir() {
		return "", errNoSystemd
	}
	out, err := exec.Command("systemctl", args...).Output()
	return strings.TrimSpace(string(out)), err
}

// findGuardUnit returns the node path of the guard's unit systemd would use
// and the program its ExecStart runs.
func findGuardUnit(l layout) (unit, program string) {
	for _, d := range unitSearchPath {
		p := filepath.Join(d, guardUnitName)
		data, err := os.ReadFile(l.host(p))
		if err != nil {
			continue
		}
		s := bufio.NewScanner(bytes.NewReader(data))
		for s.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "ExecStart="); ok {
				if f := strings.Fields(strings.TrimLeft(v, "-@:+!")); len(f) > 0 {
					program = f[0]
				}
			}
		}
		return p, program
	}
	return "", ""
}

// checkGuard reports whether the real softmig-guard runs on the live node:
// the unit's main process under systemd, or a root process running the
// unit's program where systemd does not run; never just a process with its
// name. Without it, an escape from the library keeps what it took.
func (c *checklist) checkGuard(l layout) {
	if !l.live() {
		c.skip("%s: running is only checked on the live node (--root /)", guardName)
		return
	}
	unit, program := findGuardUnit(l)
	if unit == "" {
		c.fail(c.kind.reinstall(), "%s: not installed (no %s in %s)", guardName, guardUnitName, strings.Join(unitSearchPath, ", "))
		return
	}
	start := "systemctl daemon-reload && systemctl enable --now " + guardName
	state, err := c.e.systemd("is-active", guardUnitName)
	switch {
	case errors.Is(err, errNoSystemd):
		pid, deleted := findProgram(c.e.procRoot, program)
		switch {
		case pid == 0:
			c.fail(start+"   (systemd does not run this node: start "+program+" as root as your init system does)",
				"%s: no root process runs %s (%s): a process that escapes the library keeps what it takes", guardName, program, unit)
		case deleted:
			c.fail("systemctl restart "+guardName, "%s: pid %d runs a deleted %s: an old build still runs after an upgrade", guardName, pid, program)
		default:
			c.ok("%s: running %s as root (pid %d; systemd does not run this node)", guardName, program, pid)
		}
		return
	case state != "active":
		c.fail(start, "%s: %s is %s: a process that escapes the library keeps what it takes", guardName, unit, orUnknown(state))
		return
	}
	pidText, _ := c.e.systemd("show", "-p", "MainPID", "--value", guardUnitName)
	pid, _ := strconv.Atoi(pidText)
	exe, err := os.Readlink(filepath.Join(c.e.procRoot, strconv.Itoa(pid), "exe"))
	switch {
	case err != nil:
		c.fail("systemctl status "+guardName, "%s: active, but its main process (%q) cannot be read: %v", guardName, pidText, err)
	case strings.HasSuffix(exe, " (deleted)"):
		c.fail("systemctl restart "+guardName, "%s: pid %d runs a deleted %s: an old build still runs after an upgrade", guardName, pid, strings.TrimSuffix(exe, " (deleted)"))
	case exe != program && resolved(l, program) != exe:
		c.fail("check "+unit+" and its drop-ins", "%s: pid %d runs %s, not %s", guardName, pid, exe, program)
	default:
		c.ok("%s: %s active, pid %d runs %s", guardName, unit, pid, exe)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "not active"
	}
	return s
}

// findProgram returns a root process running program (by /proc/PID/exe)
// and whether that file was deleted since it started; pid 0 when none.
func findProgram(procRoot, program string) (pid int, deleted bool) {
	if program == "" {
		return 0, false
	}
	want := program
	if r, err := filepath.EvalSymlinks(program); err == nil {
		want = r
	}
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, false
	}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join(procRoot, e.Name(), "exe"))
		if err != nil {
			continue
		}
		gone := strings.HasSuffix(exe, " (deleted)")
		if exe = strings.TrimSuffix(exe, " (deleted)"); exe != want && exe != program {
			continue
		}
		if fi, err := os.Stat(filepath.Join(procRoot, e.Name())); err == nil {
			if _, uid, _ := statMode(fi); uid == 0 {
				return p, gone
			}
		}
	}
	return 0, false
}
