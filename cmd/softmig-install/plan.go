// SPDX-License-Identifier: Apache-2.0

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
	// The manifest's directory comes first: once anything is created, the
	// manifest can record it.
	return []dirSpec{
		{path: stateDir, mode: 0o755, enforce: true, why: "install manifest"},
		{path: l.libDir, mode: 0o755, enforce: true, why: "every user must be able to read the preloaded library"},
		{path: logDir, mode: 0o755, enforce: true, why: "job logs: the prolog creates each job's, owned by its user; no user may add or remove one"},
		{path: runDir, mode: 0o755, enforce: true, why: "job configs: readable by all, writable by root only"},
	}, nil
}

// tools are the programs installed from BUILD/bin when they were built.
var tools = []string{"softmig-conf", "softmig-smi", "softmig-install", "softmig-log", "softmig-guard"}

// siteConfigSources are the example site configs looked for in the source
// tree, first found wins.
var siteConfigSources = []string{"slurm/softmig.yaml", "slurm/softmig.example.yaml", "etc/softmig.yaml"}

// installDirs are where install puts what is not below the library
// directory or /etc.
type installDirs struct {
	prefix      string // tools, man pages, Slurm scripts, docs
	unitDir     string // the guard's systemd unit
	tmpfilesDir string // the tmpfiles.d entry of the run directory
}

// planFiles lists the files install puts in place, library first.
func planFiles(l layout, dirs installDirs, from, src string) (files []fileSpec, notes []string, err error) {
	prefix := dirs.prefix
	files = append(files, fileSpec{path: l.lib(), src: filepath.Join(from, libName), mode: 0o644, lib: true})
	for _, t := range tools {
		p := filepath.Join(from, "bin", t)
		if isFile(p) {
			files = append(files, fileSpec{path: filepath.Join(prefix, "bin", t), src: p, mode: 0o755})
		}
	}
	for _, t := range tools {
		if p := filepath.Join(from, "completion", t); isFile(p) {
			files = append(files, fileSpec{path: filepath.Join(prefix, "share/bash-completion/completions", t), src: p, mode: 0o644})
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
		if err != nil || !fi.Mode().IsRegular() || strings.HasPrefix(d.Name(), ".") || strings.HasSuffix(d.Name(), ".go") {
			continue
		}
		mode := uint32(0o644)
		if fi.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, fileSpec{path: filepath.Join(prefix, "share/softmig/slurm", d.Name()),
			data: substitute(data, prefix), mode: mode})
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
	unit, guardNotes := guardFiles(prefix, dirs.unitDir, src)
	files, notes = append(files, unit...), append(notes, guardNotes...)
	files = append(files,
		fileSpec{path: logrotateConf, data: logrotate(), mode: 0o644, conf: true},
		fileSpec{path: filepath.Join(dirs.tmpfilesDir, tmpfilesName), data: tmpfiles(), mode: 0o644})
	return append(files, docFiles(prefix, src)...), notes, nil
}

// docSources are the documents installed into PREFIX/share/doc/softmig,
// with the layout of the source tree (the README's links keep working):
// files, or directories whose regular files go (not their subdirectories).
// slurm/examples is copied whole, as examples/slurm.
var docSources = []string{"README.md", "CONTRIBUTING.md", "NOTICE", "docs"}

// docFiles lists the documentation and the example Slurm and site files.
func docFiles(prefix, src string) []fileSpec {
	doc := filepath.Join(prefix, "share/doc/softmig")
	var files []fileSpec
	for _, s := range docSources {
		p := filepath.Join(src, s)
		if isFile(p) {
			files = append(files, fileSpec{path: filepath.Join(doc, s), src: p, mode: 0o644})
			continue
		}
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if f := filepath.Join(p, e.Name()); e.Type().IsRegular() {
				files = append(files, fileSpec{path: filepath.Join(doc, s, e.Name()), src: f, mode: 0o644})
			}
		}
	}
	examples := filepath.Join(src, "slurm/examples")
	// A source tree without examples installs none.
	_ = filepath.WalkDir(examples, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(examples, p)
			mode := uint32(0o644)
			if fi, err := d.Info(); err == nil && fi.Mode().Perm()&0o111 != 0 {
				mode = 0o755
			}
			files = append(files, fileSpec{path: filepath.Join(doc, "examples/slurm", rel), src: p, mode: mode})
		}
		return nil
	})
	return files
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// substitute puts the install's paths into a Slurm script or the guard's
// unit: @BINDIR@ (the tools), @RUNDIR@ and @LOGDIR@ (the library's
// directories), so a prolog installed under any prefix runs the
// softmig-conf installed beside it.
func substitute(data []byte, prefix string) []byte {
	return []byte(strings.NewReplacer(
		"@BINDIR@", filepath.Join(prefix, "bin"),
		"@RUNDIR@", runDir,
		"@LOGDIR@", logDir,
	).Replace(string(data)))
}

// logAgeDays is how long a job's log is kept after its last write.
const logAgeDays = 90

// logrotate returns the logrotate config that expires the per-job logs: a
// job's log is written while the job runs and never again, so rotating is
// pointless; "rotate 0" with "minage" deletes each log once its last write
// is logAgeDays old ("nocreate": no empty file comes back).
func logrotate() []byte {
	return []byte(fmt.Sprintf(`# SoftMig per-job logs (installed by softmig-install): each is deleted
# %[2]d days after its last write.  Change minage to keep them longer.
%[1]s/*.log {
	daily
	minage %[2]d
	rotate 0
	ifempty
	missingok
	nocreate
	nocompress
}
`, logDir, logAgeDays))
}

// tmpfilesName is the tmpfiles.d entry's file name.
const tmpfilesName = "softmig.conf"

// tmpfiles recreates the job config directory at boot (/run is a tmpfs).
func tmpfiles() []byte {
	return []byte(fmt.Sprintf("# SoftMig job configs (installed by softmig-install).\nd %s 0755 root root -\n", runDir))
}
