package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/softmig/softmig/internal/defs"
)

// The guard's systemd unit: its template in the source tree and where
// install puts it.
const (
	guardUnitSource = "systemd/softmig-guard.service"
	guardUnit       = "/etc/systemd/system/softmig-guard.service"
	guardName       = "softmig-guard"
)

// guardFiles returns the guard's unit, its @BINDIR@ and @LOGDIR@ filled in,
// and the note that tells the admin to enable it.
func guardFiles(prefix, src string) ([]fileSpec, []string) {
	tmpl, err := os.ReadFile(filepath.Join(src, guardUnitSource))
	if err != nil {
		return nil, []string{fmt.Sprintf("no %s in %q: the guard's unit is not installed (softmig-guard(8))", guardUnitSource, src)}
	}
	unit := bytes.ReplaceAll(tmpl, []byte("@BINDIR@"), []byte(filepath.Join(prefix, "bin")))
	unit = bytes.ReplaceAll(unit, []byte("@LOGDIR@"), []byte(defs.LogDir()))
	return []fileSpec{{path: guardUnit, data: unit, mode: 0o644, conf: true}},
		[]string{"start the guard and keep it on at boot: systemctl daemon-reload && systemctl enable --now " + guardName}
}

// checkGuard reports whether softmig-guard runs on the live node: without
// it, an escape from the library (a private loader, dlmopen, a container
// without SoftMig's binds) keeps what it took.
func (c *checklist) checkGuard(l layout) {
	if !l.live() {
		c.skip("%s: running is only checked on the live node (--root /)", guardName)
		return
	}
	if pid := findProcess("/proc", guardName); pid > 0 {
		c.ok("%s: running as root (pid %d)", guardName, pid)
		return
	}
	c.fail("systemctl daemon-reload && systemctl enable --now "+guardName+"   (unit "+guardUnit+")",
		"%s: not running: a process that escapes the library keeps what it takes", guardName)
}

// findProcess returns the pid of a root process named name, or 0.
func findProcess(procRoot, name string) int {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return 0
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != name {
			continue
		}
		if fi, err := os.Stat(filepath.Join(procRoot, e.Name())); err == nil {
			if _, uid, _ := statMode(fi); uid == 0 {
				return pid
			}
		}
	}
	return 0
}
