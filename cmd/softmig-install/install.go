// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/softmig/softmig/internal/elfcheck"
	"github.com/softmig/softmig/internal/fsutil"
	"github.com/softmig/softmig/internal/libprobe"
)

type installCmd struct {
	Prefix      string `default:"/usr/local" placeholder:"DIR" help:"Where tools, man pages and Slurm scripts go."`
	From        string `placeholder:"BUILD" help:"Build directory holding libsoftmig.so and bin/ (default: the directory above this program's bin/)."`
	Src         string `placeholder:"DIR" help:"Source tree holding man/ and slurm/ (default: the parent of BUILD)."`
	NoPreload   bool   `help:"Stage files for a package: no etc/ld.so.preload line, nothing under /run (softmig-install enable does both on the node)."`
	UnitDir     string `placeholder:"DIR" help:"Where the guard's systemd unit goes (default: PREFIX/lib/systemd/system for /usr and /usr/local, else /etc/systemd/system)."`
	TmpfilesDir string `placeholder:"DIR" help:"Where the tmpfiles.d entry of the run directory goes (default: PREFIX/lib/tmpfiles.d for /usr and /usr/local, else /etc/tmpfiles.d)."`
}

// defaultFrom is the build directory this program was started from
// (BUILD/bin/softmig-install).
func (e *env) defaultFrom() string {
	return filepath.Dir(filepath.Dir(e.self[0]))
}

func (c *installCmd) Run(e *env, g *cli) (err error) {
	l, err := g.layout()
	if err != nil {
		return err
	}
	if err := e.needRoot(l, "install"); err != nil {
		return err
	}
	if !filepath.IsAbs(c.Prefix) {
		return fmt.Errorf("--prefix %q: must be an absolute path on the node", c.Prefix)
	}
	from := c.From
	if from == "" {
		from = e.defaultFrom()
	}
	src := c.Src
	if src == "" {
		abs, err := filepath.Abs(from)
		if err != nil {
			return err
		}
		src = filepath.Dir(abs)
	}
	where, err := c.installDirs()
	if err != nil {
		return err
	}
	files, notes, err := planFiles(l, where, from, src)
	if err != nil {
		return err
	}
	for _, f := range files {
		if strings.ContainsAny(f.path, "\t\n") {
			return fmt.Errorf("path %q: tabs and newlines are not supported", f.path)
		}
	}
	// Check and try the library before touching anything (when it is not
	// the installed one already); the staged copy is tried again.
	lib := files[0].src
	if err := elfcheck.Check(lib, libprobe.Symbol); err != nil {
		return fmt.Errorf("refusing the library: %w; nothing was changed", err)
	}
	if data, err := os.ReadFile(lib); err != nil {
		return err
	} else if same, _ := fsutil.SameContent(l.host(l.lib()), data); !same {
		if _, err := e.trial(lib); err != nil {
			return fmt.Errorf("refusing %q: %w; nothing was changed", lib, err)
		}
	}
	if err := os.MkdirAll(l.root, 0o755); err != nil {
		return err
	}
	unlock, err := lockRoot(l.root)
	if err != nil {
		return err
	}
	defer unlock()

	in, save, err := openInstaller(e, l)
	if err != nil {
		return err
	}
	defer save(&err)

	dirs, err := coreDirs(l)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if c.NoPreload && d.path == runDir {
			continue // a package ships nothing under /run (a tmpfs): tmpfiles.d and enable make it
		}
		if err := in.ensureDir(d); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := in.installFile(f); err != nil {
			return err
		}
	}
	if smi := filepath.Join(filepath.Clean(c.Prefix), "bin/softmig-smi"); !c.NoPreload && isFile(l.host(smi)) {
		if err := in.linkSmi(smi); err != nil {
			return err
		}
	}
	if !c.NoPreload {
		if err := in.addPreload(); err != nil {
			return err
		}
	}
	for _, n := range notes {
		e.say("note: %s", n)
	}
	if e.euid != 0 {
		e.say("note: not root: owners were left as they are (a package must set root:root)")
	}
	if in.changed == 0 {
		e.say("softmig-install: nothing to change below %s", l.root)
	}
	return nil
}

// installDirs returns the prefix and the systemd directories, from the
// flags or their defaults (systemdDirs).
func (c *installCmd) installDirs() (d installDirs, err error) {
	d.prefix = filepath.Clean(c.Prefix)
	d.unitDir, d.tmpfilesDir = systemdDirs(d.prefix)
	if d.unitDir, err = nodeDirFlag("--unit-dir", c.UnitDir, d.unitDir); err != nil {
		return d, err
	}
	d.tmpfilesDir, err = nodeDirFlag("--tmpfiles-dir", c.TmpfilesDir, d.tmpfilesDir)
	return d, err
}

// nodeDirFlag is a directory flag's value, def when it is not given.
func nodeDirFlag(flag, value, def string) (string, error) {
	switch {
	case value == "":
		return def, nil
	case !filepath.IsAbs(value):
		return "", fmt.Errorf("%s %q: must be an absolute path on the node", flag, value)
	}
	return filepath.Clean(value), nil
}
