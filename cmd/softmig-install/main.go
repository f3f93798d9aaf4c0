// SPDX-License-Identifier: Apache-2.0

// softmig-install installs SoftMig on a node, swaps its preload library on a
// busy node without ever failing a process start, checks an installation and
// removes it.
//
// Synopsis:
//
//	softmig-install install   [--root DIR] [--prefix DIR] [--from BUILD] [--src DIR] [--lib-dir DIR] [--no-preload]
//	                          [--unit-dir DIR] [--tmpfiles-dir DIR]
//	softmig-install update    [--root DIR] [--lib-dir DIR] [--from BUILD] [LIBRARY]
//	softmig-install enable    [--root DIR] [--lib-dir DIR]
//	softmig-install disable   [--root DIR] [--lib-dir DIR] [--for-removal [--prefix DIR]]
//	softmig-install verify    [--root DIR] [--lib-dir DIR] [--json] [--node NAME] [--prefix DIR]
//	softmig-install uninstall [--root DIR]
//
// Description:
//
// install creates /var/lib/shared (0755), /var/log/softmig and /run/softmig
// (0755 root:root: the prolog creates each job's log, owned by the job's
// user, so no user needs to write the directory); puts libsoftmig.so (0644
// root:root), the tools, the man pages and the Slurm scripts in place (the
// scripts name the tools at PREFIX/bin), the guard's systemd unit and the
// tmpfiles.d entry where systemd reads them, the docs and examples into
// PREFIX/share/doc/softmig; adds an example /etc/softmig/softmig.yaml and a
// logrotate config (deletes job logs 90 days after their last write) unless
// they exist; and, last, adds the library to
// /etc/ld.so.preload (atomically, once, other lines kept). What it created or
// changed is recorded in /var/lib/softmig/install.manifest, which uninstall
// reads to remove exactly that. Running install again changes nothing.
//
// update writes the new library next to the installed one, syncs it, then
// starts processes with it preloaded in a private mount namespace where
// /etc/ld.so.preload is masked; only when they start cleanly, the library
// answers softmig_version() and leaves a plain process unchanged is it
// renamed into place. Running processes keep the old file, new ones get the
// new one, and none ever sees a partial file. A refused library changes
// nothing.
//
// enable switches SoftMig on where a package put the files (packages never
// do it themselves): it checks and tries the installed library, creates the
// log and run directories, and adds the library to /etc/ld.so.preload.
// disable removes that line again; files, logs and job configs stay. With
// --for-removal (the packages' removal step) it first refuses while this
// node's slurm.conf runs SoftMig's scripts, naming the lines.
//
// verify prints a checklist of the whole node (paths, owners, modes, the
// preload line, a trial load, glibc, the site config, Slurm's prolog,
// epilog, cgroups, shards and lua plugins, the real guard) with the fix for
// each failure, fitting how SoftMig was installed, and exits 1 on any.
//
// Options:
//
//	--root DIR     operate on the tree below DIR instead of / (packaging, tests)
//	--lib-dir DIR  directory of libsoftmig.so on the node (default /var/lib/shared)
//	--prefix DIR   where tools, man pages and scripts go (default /usr/local)
//	--from BUILD   build directory with libsoftmig.so and bin/ (default: above this program's bin/)
//	--src DIR      source tree with man/ and slurm/ (default: the parent of BUILD)
//	--no-preload   stage for a package: no ld.so.preload line, nothing under /run (enable does both)
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/fsutil"
	"github.com/softmig/softmig/internal/preloadcfg"
	"github.com/softmig/softmig/internal/siteconf"
)

// The directories the library trusts, as built (internal/defs).
var (
	logDir = defs.LogDir()
	runDir = defs.RunDir()
)

// Node paths (as seen on the node, below --root).
const (
	libName       = "libsoftmig.so"
	defaultLibDir = "/var/lib/shared"
	stateDir      = "/var/lib/softmig"
	manifestPath  = stateDir + "/install.manifest"
	confDir       = "/etc/softmig"
	siteConfig    = confDir + "/softmig.yaml"
	logrotateConf = "/etc/logrotate.d/softmig"
	preloadPath   = preloadcfg.DefaultPath
	slurmGroup    = "slurm"
)

// errVerifyFailed is the cause of verify's exit 1, after it printed its
// checklist (which said it all).
var errVerifyFailed = errors.New("verify: the installation has problems (see the checklist above)")

func main() {
	cmdline.Main("softmig-install", run)
}

// mainExit runs the command and returns the process exit status.
func mainExit(args []string, stdout, stderr io.Writer) int {
	return cmdline.Status("softmig-install", run(args, stdout, stderr), stderr)
}

func run(args []string, stdout, stderr io.Writer) error {
	return newEnv(stdout, stderr).run(args)
}

// env is what the commands need from the host; tests replace parts of it.
type env struct {
	stdout, stderr io.Writer
	self           []string // argv that runs this program again (trial, probe)
	selfEnv        []string // environment added to those runs
	hostPreload    string   // the preload list of the running host, masked in trials
	shell          string   // a dynamically linked shell for trial starts
	euid           int
	getenv         func(string) string                  // the environment (SLURM_CONF)
	procRoot       string                               // /proc: the node's processes (slurmd, the guard)
	systemd        func(args ...string) (string, error) // systemctl, when systemd runs the node
}

func newEnv(stdout, stderr io.Writer) *env {
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	e := &env{stdout: stdout, stderr: stderr, self: []string{self},
		hostPreload: preloadPath, shell: "/bin/sh", euid: os.Geteuid(),
		getenv: os.Getenv, procRoot: "/proc", systemd: systemctl}
	// SOFTMIG_INSTALL_* variables travel to our own re-runs (the tests use
	// one to make their binary act as this program).
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SOFTMIG_INSTALL_") {
			e.selfEnv = append(e.selfEnv, kv)
		}
	}
	return e
}

// cli is the command line.
type cli struct {
	Version cmdline.VersionFlag `help:"Print the version (the library's softmig_version) and exit."`
	Root    string              `default:"/" placeholder:"DIR" help:"Operate on the tree below DIR instead of / (packaging, tests)."`
	LibDir  string              `default:"/var/lib/shared" placeholder:"DIR" help:"Directory of libsoftmig.so on the node."`
	siteconf.Flag

	Install   installCmd   `cmd:"" help:"Install SoftMig (directories, library, tools, man pages, Slurm scripts, configs, ld.so.preload line)."`
	Update    updateCmd    `cmd:"" help:"Swap in a new libsoftmig.so on a live node after trying it in a private mount namespace."`
	Enable    enableCmd    `cmd:"" help:"Switch SoftMig on after a package install: directories, then the ld.so.preload line."`
	Disable   disableCmd   `cmd:"" help:"Switch SoftMig off: remove the library from ld.so.preload (files stay)."`
	Verify    verifyCmd    `cmd:"" help:"Check an installation; print a checklist with fixes; exit 1 on any failure."`
	Uninstall uninstallCmd `cmd:"" help:"Remove exactly what install added and restore what it changed."`
	Trial     trialCmd     `cmd:"" hidden:"" help:"(internal) try a library in fresh processes."`
	Probe     probeCmd     `cmd:"" hidden:"" help:"(internal) call softmig_version() of a preloaded library."`
}

func (e *env) run(args []string) error {
	var c cli
	ctx, parser, err := cmdline.Parse(&c, args, e.stdout, e.stderr,
		kong.Name("softmig-install"),
		kong.Description("Install, hot-swap, verify and uninstall SoftMig on a node."),
		kong.UsageOnError(),
	)
	var ex *cmdline.Exit
	if errors.As(err, &ex) {
		if ex.Code == 0 {
			return nil
		}
		return ex
	}
	if err != nil {
		if parser == nil {
			return err
		}
		parser.Errorf("%s", err)
		return &cmdline.Exit{Code: cmdline.UsageExit}
	}
	return ctx.Run(e, &c)
}

// layout maps node paths to paths on this machine (below --root).
type layout struct {
	root   string
	libDir string
}

func (c *cli) layout() (layout, error) {
	root, err := filepath.Abs(c.Root)
	if err != nil {
		return layout{}, fmt.Errorf("--root %q: %w", c.Root, err)
	}
	if !filepath.IsAbs(c.LibDir) {
		return layout{}, fmt.Errorf("--lib-dir %q: must be an absolute path on the node", c.LibDir)
	}
	return layout{root: root, libDir: filepath.Clean(c.LibDir)}, nil
}

// host returns where the node path p lives on this machine.
func (l layout) host(p string) string { return filepath.Join(l.root, p) }

// lib is the node path of the installed library.
func (l layout) lib() string { return filepath.Join(l.libDir, libName) }

// live reports whether we operate on the running system itself.
func (l layout) live() bool { return l.root == "/" }

// owner returns root:root when we may chown, nil otherwise (an unprivileged
// packaging run leaves owners to the packager).
func (e *env) owner() *fsutil.Owner {
	if e.euid == 0 {
		return &fsutil.Owner{UID: 0, GID: 0}
	}
	return nil
}

// needRoot refuses to touch the live system without root.
func (e *env) needRoot(l layout, what string) error {
	if e.euid != 0 && l.live() {
		return fmt.Errorf("%s must run as root (it writes system directories and /etc/ld.so.preload); "+
			"to stage files for a package, pass --root DIR", what)
	}
	return nil
}

func (e *env) say(format string, a ...any) {
	fmt.Fprintf(e.stdout, format+"\n", a...)
}

// lockRoot takes an exclusive flock on the root directory so that two runs
// of softmig-install on the same tree never interleave.
func lockRoot(root string) (unlock func(), err error) {
	f, err := os.Open(root)
	if err != nil {
		return nil, fmt.Errorf("lock %q: %w", root, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %q: %w", root, err)
	}
	return func() { f.Close() }, nil
}

// statMode returns the permission bits (07777) and owner of fi.
func statMode(fi os.FileInfo) (mode uint32, uid, gid int) {
	st := fi.Sys().(*syscall.Stat_t)
	return st.Mode & 0o7777, int(st.Uid), int(st.Gid)
}
