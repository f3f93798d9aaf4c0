// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/elfcheck"
	"github.com/softmig/softmig/internal/libprobe"
	"github.com/softmig/softmig/internal/preloadcfg"
)

type verifyCmd struct {
	JSON   bool   `name:"json" help:"Print the checklist as one JSON object (ready, checks with status, what and fix)."`
	Node   string `placeholder:"NAME" help:"This node's Slurm name, to find its NodeName and gres.conf lines (default: $SLURMD_NODENAME, else the short host name)."`
	Prefix string `placeholder:"DIR" help:"The install prefix of the tools and Slurm scripts (default: the one this program runs from)."`
}

// checklist collects verify's results; it prints each as it comes, or,
// for --json, all at the end.
type checklist struct {
	e      *env
	json   bool
	kind   installKind // how SoftMig came onto the node: the fixes depend on it
	prefix string      // the install prefix (node path): tools, Slurm scripts, docs
	checks []check
	failed int
}

// check is one line of the checklist.
type check struct {
	Status string `json:"status"` // ok, skip, fail
	What   string `json:"what"`
	Fix    string `json:"fix,omitempty"`
}

func (c *checklist) add(ch check) {
	c.checks = append(c.checks, ch)
	if c.json {
		return
	}
	switch ch.Status {
	case "fail":
		fmt.Fprintf(c.e.stdout, "FAIL  %s\n      fix: %s\n", ch.What, ch.Fix)
	default:
		fmt.Fprintf(c.e.stdout, "%-5s %s\n", ch.Status, ch.What)
	}
}

func (c *checklist) ok(format string, a ...any) {
	c.add(check{Status: "ok", What: fmt.Sprintf(format, a...)})
}

func (c *checklist) skip(format string, a ...any) {
	c.add(check{Status: "skip", What: fmt.Sprintf(format, a...)})
}

func (c *checklist) fail(fix, format string, a ...any) {
	c.failed++
	c.add(check{Status: "fail", What: fmt.Sprintf(format, a...), Fix: fix})
}

// printJSON writes the checklist for scripts: ready is true when nothing
// failed.
func (c *checklist) printJSON() error {
	enc := json.NewEncoder(c.e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Ready   bool    `json:"ready"`
		Version string  `json:"version"`
		Failed  int     `json:"failed"`
		Checks  []check `json:"checks"`
	}{c.failed == 0, defs.Version(), c.failed, c.checks})
}

func (c *verifyCmd) Run(e *env, g *cli) error {
	l, err := g.layout()
	if err != nil {
		return err
	}
	cl := &checklist{e: e, json: c.JSON, kind: detectInstall(l), prefix: e.prefixOr(c.Prefix, l)}
	cl.ok("installed by %s", cl.kind)
	dirs, err := coreDirs(l)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if d.path != stateDir { // checked with the manifest
			cl.checkPath(l, d.path, true, d.mode, d.uid, d.gid, d.why)
		}
	}
	libOK := cl.checkLibrary(l)
	if libOK {
		cl.checkBuildInfo(l)
	}
	cl.checkPreload(l)
	if libOK {
		cl.checkLoad(l)
	}
	cl.checkGlibc(l)
	cl.checkManifest(l)
	cl.checkSiteConfig(l, g.Config)
	cl.checkSlurm(l, c.nodeName(e))
	cl.checkGuard(l)
	cl.checkContainers(l)
	if cl.json {
		if err := cl.printJSON(); err != nil {
			return err
		}
		if cl.failed > 0 {
			return &cmdline.Exit{Code: 1, Err: errVerifyFailed}
		}
		return nil
	}
	if cl.failed > 0 {
		fmt.Fprintf(e.stdout, "%d check(s) failed\n", cl.failed)
		return &cmdline.Exit{Code: 1, Err: errVerifyFailed}
	}
	fmt.Fprintln(e.stdout, "all checks passed")
	return nil
}

// nodeName is this node's Slurm name (see verifyCmd.Node).
func (c *verifyCmd) nodeName(e *env) string {
	if c.Node != "" {
		return c.Node
	}
	if n := e.getenv("SLURMD_NODENAME"); n != "" {
		return n
	}
	host, _ := os.Hostname()
	short, _, _ := strings.Cut(host, ".")
	return short
}

// checkPath checks that a node path exists as a directory or regular file
// with the given mode and owner.
func (c *checklist) checkPath(l layout, path string, dir bool, mode uint32, uid, gid int, why string) bool {
	p := l.host(path)
	kind, mk := "file", c.kind.reinstall()
	if dir {
		kind, mk = "directory", fmt.Sprintf("install -d -m %04o -o root -g %s %s   (or: softmig-install enable)", mode, groupName(l.root, gid), p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		c.fail(mk, "%s: %v", path, unwrapPath(err))
		return false
	}
	if fi.IsDir() != dir || !dir && !fi.Mode().IsRegular() {
		c.fail("move it away, then: "+mk, "%s: is not a %s (%s)", path, kind, fi.Mode().Type())
		return false
	}
	om, ou, og := statMode(fi)
	if om != mode || ou != uid || og != gid {
		c.fail(fmt.Sprintf("chown root:%s %s && chmod %04o %s", groupName(l.root, gid), p, mode, p),
			"%s: %s %s, want %s (%s)", path, kind, describe(l.root, om, ou, og), describe(l.root, mode, uid, gid), why)
		return false
	}
	c.ok("%s: %s %s", path, kind, describe(l.root, om, ou, og))
	return true
}

func unwrapPath(err error) error {
	if pe := new(os.PathError); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkLibrary checks the installed library file and that every user can
// reach it.
func (c *checklist) checkLibrary(l layout) bool {
	lib := l.lib()
	if !c.checkPath(l, lib, false, 0o644, 0, 0, "every process on the node reads it") {
		return false
	}
	if err := elfcheck.Check(l.host(lib), libprobe.Symbol); err != nil {
		c.fail(c.kind.reinstall(), "%s: %v", lib, err)
		return false
	}
	c.ok("%s: an ELF shared object for this machine exporting %s()", lib, libprobe.Symbol)
	for d := filepath.Dir(lib); ; d = filepath.Dir(d) {
		fi, err := os.Stat(l.host(d))
		if err == nil && fi.Mode().Perm()&0o001 == 0 {
			c.fail(fmt.Sprintf("chmod o+x %s", l.host(d)), "%s: not searchable by other users, who then cannot load %s", d, lib)
			return false
		}
		if d == "/" {
			break
		}
	}
	c.ok("%s: every directory above it is searchable by all users", lib)
	return true
}

// checkBuildInfo shows the facts the installed library was built with (its
// softmig_build_info) and fails when they are not these tools': a library
// built with another RUNDIR reads job configs where the prolog never writes
// them, and every job would run with the whole GPU.
func (c *checklist) checkBuildInfo(l layout) {
	lib := l.lib()
	fix := "build the library and the tools together (make RUNDIR=... LOGDIR=... all) and install both: softmig-install update BUILD/libsoftmig.so"
	info, err := elfcheck.ReadString(l.host(lib), defs.BuildInfoSymbol)
	if err != nil {
		c.fail(fix, "%s: %v (a build older than these tools?)", lib, unwrapPath(err))
		return
	}
	if err := defs.CheckBuildInfo(info); err != nil {
		c.fail(fix, "%s: %v: it trusts other paths than these tools", lib, err)
		return
	}
	c.ok("%s: built with %s, as these tools", lib, info)
}

// checkPreload checks the preload list: a plain root-owned file, our line
// once, nothing it names missing, no second SoftMig library.
func (c *checklist) checkPreload(l layout) {
	lib := l.lib()
	if !c.checkPath(l, preloadPath, false, 0o644, 0, 0, "the dynamic loader of every process reads it") {
		return
	}
	pf, _, err := preloadcfg.Read(l.host(preloadPath))
	if err != nil {
		c.fail("make it a plain file, then: softmig-install enable", "%s: %v", preloadPath, err)
		return
	}
	switch n := pf.Count(lib); {
	case n == 0:
		c.fail("softmig-install enable   (adds the line atomically)", "%s: does not list %s: processes start without SoftMig", preloadPath, lib)
	case n > 1:
		c.fail(fmt.Sprintf("leave one %s line in %s", lib, preloadPath), "%s: lists %s %d times", preloadPath, lib, n)
	default:
		c.ok("%s: lists %s", preloadPath, lib)
	}
	bad := false
	for _, en := range pf.Entries() {
		p := en
		if !filepath.IsAbs(p) {
			continue // a bare name is searched in the library path
		}
		if _, err := os.Stat(l.host(p)); err != nil {
			c.fail(fmt.Sprintf("remove %s from %s", en, preloadPath), "%s: lists %s, which does not exist: every process prints a loader error", preloadPath, en)
			bad = true
		} else if en != lib && filepath.Base(en) == libName {
			c.fail(fmt.Sprintf("remove %s from %s", en, preloadPath), "%s: lists a second SoftMig library %s", preloadPath, en)
			bad = true
		}
	}
	if !bad {
		c.ok("%s: every library it lists exists", preloadPath)
	}
}

// checkLoad tries the installed library in fresh processes (see trial), and
// on the live node checks that a new process really maps it.
func (c *checklist) checkLoad(l layout) {
	lib := l.lib()
	version, err := c.e.trial(l.host(lib))
	if err != nil {
		c.fail("put a good build in place: softmig-install update BUILD/libsoftmig.so", "%s: %v", lib, err)
		return
	}
	c.ok("%s: loads in a fresh process, answers version %s, leaves a process that uses no GPU unchanged", lib, version)
	if !l.live() {
		c.skip("new processes on the node map %s (only checked with --root /)", lib)
		return
	}
	out, err := start([]string{trialPath, "LC_ALL=C"}, c.e.shell, "-c", "cat /proc/$$/maps")
	switch {
	case err != nil:
		c.fail("check "+preloadPath+" and the loader error above", "a new process on this node failed to start: %v", err)
	case !strings.Contains(out, lib):
		c.fail("softmig-install enable", "a new process on this node does not map %s", lib)
	default:
		c.ok("new processes on this node map %s", lib)
	}
}

// checkManifest checks every file and directory install recorded.
func (c *checklist) checkManifest(l layout) {
	m, exists, err := readManifest(l.host(manifestPath))
	if err != nil {
		c.fail("remove it and run softmig-install install", "%v", err)
		return
	}
	if c.kind.manager != "" {
		c.skip("the package's files are not checked here: %s checks them", c.kind.verifyCmd())
		return
	}
	if !exists {
		c.skip("%s: none (not installed by softmig-install): tools, man pages and scripts not checked", manifestPath)
		return
	}
	missing := 0
	for _, en := range m.entries {
		p := l.host(en.path)
		switch en.op {
		case "mkdir", "file", "conf":
			fi, err := os.Stat(p)
			if err != nil {
				c.fail("softmig-install install", "%s: %v (installed by softmig-install)", en.path, unwrapPath(err))
				missing++
				continue
			}
			if en.op == "file" {
				if om, ou, og := statMode(fi); om != en.mode || ou != en.uid || og != en.gid {
					c.fail(fmt.Sprintf("chown root:root %s && chmod %04o %s", p, en.mode, p),
						"%s: %s, want %s", en.path, describe(l.root, om, ou, og), describe(l.root, en.mode, en.uid, en.gid))
					missing++
				}
			}
		}
	}
	if missing == 0 {
		c.ok("%s: all %d recorded paths are in place", manifestPath, len(m.entries))
	}
}
