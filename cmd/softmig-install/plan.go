package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// dirSpec is a directory install creates. Enforced ones get their mode and
// owner set even when they exist (the old values go to the manifest).
type dirSpec struct {
	path     string
	mode     uint32
	uid, gid int
	enforce  bool
	why      string // for verify's checklist
}

// fileSpec is a file install puts in place.
type fileSpec struct {
	path string // node path
	src  string // file to copy; empty when data is set
	data []byte
	mode uint32
	conf bool // site-owned: never overwritten, kept by uninstall once edited
	lib  bool // the preload library: staged, tried, then renamed
}

// logOwner decides the log directory's group and mode the way the seed
// does: group-writable by slurm where that group exists, else world-writable
// with the sticky bit.
func logOwner(root string) (gid int, mode uint32, err error) {
	gid, ok, err := lookupGroup(root, slurmGroup)
	if err != nil {
		return 0, 0, err
	}
	if ok {
		return gid, 0o775, nil
	}
	return 0, 0o1777, nil
}

// lookupGroup finds a group id: through the system's resolver (NSS, so
// LDAP/SSSD groups count) on the live system, in root/etc/group otherwise.
func lookupGroup(root, name string) (gid int, ok bool, err error) {
	if root == "/" {
		g, err := user.LookupGroup(name)
		var unknown user.UnknownGroupError
		if errors.As(err, &unknown) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("look up group %q: %w", name, err)
		}
		id, err := strconv.Atoi(g.Gid)
		return id, err == nil, err
	}
	f, err := os.Open(filepath.Join(root, "etc/group"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	return findGroup(f, name)
}

// findGroup parses group(5) lines.
func findGroup(r io.Reader, name string) (gid int, ok bool, err error) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		f := strings.Split(s.Text(), ":")
		if len(f) >= 3 && f[0] == name {
			id, err := strconv.Atoi(f[2])
			if err != nil {
				return 0, false, fmt.Errorf("group %q: bad gid %q", name, f[2])
			}
			return id, true, nil
		}
	}
	return 0, false, s.Err()
}

// groupName returns a printable name for gid.
func groupName(root string, gid int) string {
	if gid == 0 {
		return "root"
	}
	if id, ok, _ := lookupGroup(root, slurmGroup); ok && id == gid {
		return slurmGroup
	}
	return strconv.Itoa(gid)
}

// coreDirs are the directories the library and the Slurm scripts rely on.
func coreDirs(l layout) ([]dirSpec, error) {
	gid, mode, err := logOwner(l.root)
	if err != nil {
		return nil, err
	}
	logWhy := "every job's user may create its log here (sticky: none may delete another's)"
	if mode == 0o775 {
		logWhy = "members of group slurm (every job's user) may create their logs here"
	}
	// The manifest's directory comes first: once anything is created, the
	// manifest can record it.
	return []dirSpec{
		{path: stateDir, mode: 0o755, enforce: true, why: "install manifest"},
		{path: l.libDir, mode: 0o755, enforce: true, why: "every user must be able to read the preloaded library"},
		{path: logDir, mode: mode, gid: gid, enforce: true, why: logWhy},
		{path: runDir, mode: 0o755, enforce: true, why: "job configs: readable by all, writable by root only"},
	}, nil
}

// tools are the programs installed from BUILD/bin when they were built.
var tools = []string{"softmig-conf", "softmig-smi", "softmig-install", "softmig-log", "softmig-guard"}

// siteConfigSources are the example site configs looked for in the source
// tree, first found wins.
var siteConfigSources = []string{"slurm/softmig.yaml", "slurm/softmig.example.yaml", "etc/softmig.yaml"}

// planFiles lists the files install puts in place, library first.
func planFiles(l layout, prefix, from, src string) (files []fileSpec, notes []string, err error) {
	files = append(files, fileSpec{path: l.lib(), src: filepath.Join(from, libName), mode: 0o644, lib: true})
	for _, t := range tools {
		p := filepath.Join(from, "bin", t)
		if isFile(p) {
			files = append(files, fileSpec{path: filepath.Join(prefix, "bin", t), src: p, mode: 0o755})
		}
	}
	for _, sec := range []string{"1", "5", "8"} {
		pages, _ := filepath.Glob(filepath.Join(src, "man", "*."+sec))
		sort.Strings(pages)
		for _, p := range pages {
			if isFile(p) {
				files = append(files, fileSpec{path: filepath.Join(prefix, "share/man", "man"+sec, filepath.Base(p)), src: p, mode: 0o644})
			}
		}
	}
	scripts, _ := os.ReadDir(filepath.Join(src, "slurm"))
	for _, d := range scripts {
		p := filepath.Join(src, "slurm", d.Name())
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		mode := uint32(0o644)
		if fi.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		files = append(files, fileSpec{path: filepath.Join(prefix, "share/softmig/slurm", d.Name()), src: p, mode: mode})
	}
	found := false
	for _, s := range siteConfigSources {
		if p := filepath.Join(src, s); isFile(p) {
			files = append(files, fileSpec{path: siteConfig, src: p, mode: 0o644, conf: true})
			found = true
			break
		}
	}
	if !found {
		notes = append(notes, fmt.Sprintf("no example site config in %q (looked for %s): %s not installed",
			src, strings.Join(siteConfigSources, ", "), siteConfig))
	}
	unit, guardNotes := guardFiles(prefix, src)
	files, notes = append(files, unit...), append(notes, guardNotes...)
	_, logMode, err := logOwner(l.root)
	if err != nil {
		return nil, nil, err
	}
	files = append(files,
		fileSpec{path: logrotateConf, data: logrotate(l, logMode), mode: 0o644, conf: true},
		fileSpec{path: tmpfilesConf, data: tmpfiles(), mode: 0o644, conf: true})
	return files, notes, nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// logrotate returns the logrotate config for the per-job logs. The library
// keeps its log open with O_APPEND, so copytruncate; the directory is
// writable by others than root, so logrotate needs an explicit su.
func logrotate(l layout, logMode uint32) []byte {
	su := "root root"
	if logMode == 0o775 {
		su = "root " + slurmGroup
	}
	return []byte(fmt.Sprintf(`# SoftMig per-job logs (installed by softmig-install).
%s/*.log {
	su %s
	weekly
	rotate 4
	maxage 60
	missingok
	notifempty
	compress
	delaycompress
	copytruncate
}
`, logDir, su))
}

// tmpfiles recreates the job config directory at boot (/run is a tmpfs).
func tmpfiles() []byte {
	return []byte(fmt.Sprintf("# SoftMig job configs (installed by softmig-install).\nd %s 0755 root root -\n", runDir))
}
