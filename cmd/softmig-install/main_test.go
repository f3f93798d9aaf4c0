// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/testlibs"
	"github.com/softmig/softmig/internal/testutil"
)

const (
	// asMainEnv makes the test binary act as softmig-install: the trial and
	// the probe run this program again (env.self is the test binary).
	asMainEnv = "SOFTMIG_INSTALL_AS_MAIN"
	// privateNSEnv marks the copy of the test binary that runs in a
	// private mount namespace.
	privateNSEnv = "SOFTMIG_TEST_PRIVATE_NS"
)

// etcOverlaid is true when /etc is an overlay private to this test process:
// whatever the tests write there never reaches the machine.
var etcOverlaid bool

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
	}
	if os.Geteuid() == 0 && os.Getenv(privateNSEnv) == "" {
		// Run the tests again in a private mount namespace, so the
		// machine's own /etc/ld.so.preload is never touched.
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), privateNSEnv+"=1")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWNS}
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			os.Exit(0)
		case errors.As(err, &ee):
			os.Exit(ee.ExitCode())
		default:
			fmt.Fprintf(os.Stderr, "note: no private mount namespace (%v): tests that need one skip\n", err)
		}
	}
	if err := os.Setenv(asMainEnv, "1"); err != nil {
		fmt.Fprintf(os.Stderr, "cannot set %s: %v\n", asMainEnv, err)
		os.Exit(2)
	}
	cleanup := func() {}
	if os.Getenv(privateNSEnv) == "1" {
		cleanup = overlayEtc()
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// overlayEtc mounts an overlay over /etc in this (private) namespace.
func overlayEtc() func() {
	dir, err := os.MkdirTemp("", "softmig-install-etc-")
	if err != nil {
		return func() {}
	}
	up, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	if err := errors.Join(os.Mkdir(up, 0o755), os.Mkdir(work, 0o755)); err != nil {
		fmt.Fprintf(os.Stderr, "note: cannot make the overlay's directories (%v): the hot-swap test preloads with LD_PRELOAD\n", err)
		os.RemoveAll(dir)
		return func() {}
	}
	err = unix.Mount("overlay", "/etc", "overlay", 0, "lowerdir=/etc,upperdir="+up+",workdir="+work)
	if err != nil {
		fmt.Fprintf(os.Stderr, "note: cannot overlay /etc (%v): the hot-swap test preloads with LD_PRELOAD\n", err)
		os.RemoveAll(dir)
		return func() {}
	}
	etcOverlaid = true
	return func() {
		// The namespace ends with the process: a failure here leaks nothing.
		_ = unix.Unmount("/etc", unix.MNT_DETACH)
		os.RemoveAll(dir)
	}
}

// needRootNS skips a test that must run as root in the private namespace.
func needRootNS(t *testing.T) {
	t.Helper()
	testutil.NeedRoot(t, "chown, mount namespaces")
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare(1) on this machine: assuming no mount namespaces")
	}
	if os.Getenv(privateNSEnv) != "1" {
		t.Skip("cannot create a private mount namespace here")
	}
}

// runTool runs softmig-install with args and returns its output.
func runTool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := newEnv(&out, &errb).run(args)
	if err != nil && errb.Len() > 0 {
		err = fmt.Errorf("%w\nstderr: %s", err, errb.String())
	}
	return out.String(), err
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runTool(t, args...)
	if err != nil {
		t.Fatalf("softmig-install %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// fixture is a source tree with a build directory, and a target root.
type fixture struct {
	src, build, root, libs string
}

// newFixture builds a good library (version "1"), fake tools, man pages,
// Slurm scripts and an example site config, and a root that holds an
// /etc/group (with a slurm group when slurm is true) and an
// /etc/ld.so.preload naming another library.
func newFixture(t *testing.T, slurm bool) *fixture {
	t.Helper()
	testlibs.NeedCC(t)
	base := t.TempDir()
	f := &fixture{src: filepath.Join(base, "src"), root: filepath.Join(base, "root"), libs: filepath.Join(base, "libs")}
	f.build = filepath.Join(f.src, "build")
	for _, d := range []string{f.build + "/bin", f.build + "/completion", f.src + "/man", f.src + "/slurm", f.root + "/etc", f.libs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testlibs.Lib(t, f.build, libName, testlibs.Good("1"))
	files := map[string]string{
		"build/bin/softmig-conf":        "#!/bin/sh\necho conf\n",
		"build/bin/softmig-install":     "#!/bin/sh\necho install\n",
		"build/bin/softmig-smi":         "#!/bin/sh\necho smi\n",
		"build/bin/softmig-log":         "#!/bin/sh\necho log\n",
		"build/completion/softmig-conf": "complete -F _softmig_conf softmig-conf\n",
		"man/softmig-install.8":         ".TH SOFTMIG-INSTALL 8\n",
		"man/softmig.conf.5":            ".TH SOFTMIG.CONF 5\n",
		"man/softmig-log.1":             ".TH SOFTMIG-LOG 1\n",
		"slurm/prolog.sh":               "#!/bin/sh\n",
		"slurm/epilog.sh":               "#!/bin/sh\n",
		"slurm/job_submit.lua":          "-- lua\n",
		"slurm/softmig.yaml":            "gpus:\n  l40s:\n    shards: 4\n",
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(f.src, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	group := "root:x:0:\n"
	if slurm {
		group += "slurm:x:64030:\n"
	}
	if err := os.WriteFile(filepath.Join(f.root, "etc/group"), []byte(group), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.root, "etc/ld.so.preload"), []byte("# site\n/usr/lib/other.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.root, "usr/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.root, "usr/lib/other.so"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.slurm(t)
	return f
}

// fixtureNode is the fixture's Slurm node name.
const fixtureNode = "node1"

// slurm writes a Slurm setup for SoftMig below the root, as the admin
// guide makes it: site prolog and epilog scripts that call SoftMig's,
// the lua plugins and shards for node1.
func (f *fixture) slurm(t *testing.T) {
	t.Helper()
	t.Setenv("SLURM_CONF", "")
	dir := filepath.Join(f.root, "etc/slurm")
	testutil.Must(t, os.MkdirAll(dir, 0o755))
	site := "#!/bin/sh\nif [ -x /usr/local/share/softmig/slurm/%[1]s.sh ]; then /usr/local/share/softmig/slurm/%[1]s.sh || exit; fi\n"
	files := map[string]string{
		"slurm.conf": "ClusterName=c\nProlog=/etc/slurm/prolog.sh\nEpilog=/etc/slurm/epilog.sh\nPrologFlags=Alloc,Contain\n" +
			"ProctrackType=proctrack/cgroup\nTaskPlugin=task/affinity,task/cgroup\nGresTypes=gpu,shard\nJobSubmitPlugins=lua\n" +
			"NodeName=node[1-2] CPUs=4 Gres=gpu:l40s:1,shard:l40s:4\n",
		"gres.conf":         "NodeName=node[1-2] Name=gpu Type=l40s File=/dev/nvidia0\nNodeName=node[1-2] Name=shard Type=l40s Count=4 File=/dev/nvidia0\n",
		"prolog.sh":         fmt.Sprintf(site, "prolog"),
		"epilog.sh":         fmt.Sprintf(site, "epilog"),
		"job_submit.lua":    "local ok, softmig = pcall(dofile, \"/usr/local/share/softmig/slurm/softmig_gres.lua\")\n",
		"softmig_types.lua": "return {}\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// verifyArgs are the arguments of verify on the fixture's root.
func (f *fixture) verifyArgs(extra ...string) []string {
	return append([]string{"verify", "--root", f.root, "--node", fixtureNode, "--prefix", "/usr/local"}, extra...)
}

func (f *fixture) install(t *testing.T, extra ...string) string {
	t.Helper()
	return mustRun(t, append([]string{"install", "--root", f.root, "--from", f.build}, extra...)...)
}

func (f *fixture) lib() string { return filepath.Join(f.root, "var/lib/shared", libName) }

// snapshot describes every path below root: type, mode, owner and content;
// with stamps also inode and mtime (anything rewritten shows).
func snapshot(t *testing.T, root string, stamps bool) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %v %04o %d:%d", rel, fi.Mode().Type(), st.Mode&0o7777, st.Uid, st.Gid)
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			s := sha256.Sum256(b)
			line += " " + hex.EncodeToString(s[:8])
		}
		if stamps {
			line += fmt.Sprintf(" ino=%d mtime=%d", st.Ino, fi.ModTime().UnixNano())
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// diffLines shows the lines only in a and only in b.
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var d []string
	for l := range ma {
		if !mb[l] {
			d = append(d, "- "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			d = append(d, "+ "+l)
		}
	}
	sort.Strings(d)
	return strings.Join(d, "\n")
}
