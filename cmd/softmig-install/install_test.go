// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/softmig/softmig/internal/testlibs"
)

func TestInstallModes(t *testing.T) {
	needRootNS(t)
	for _, slurm := range []bool{true, false} {
		name := "no slurm group"
		if slurm {
			name = "slurm group"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, slurm)
			f.install(t)
			want := []struct {
				path     string
				dir      bool
				mode     uint32
				uid, gid int
			}{
				{"/var/lib/shared", true, 0o755, 0, 0},
				{logDir, true, 0o755, 0, 0},
				{runDir, true, 0o755, 0, 0},
				{"/var/lib/softmig", true, 0o755, 0, 0},
				{"/var/lib/shared/libsoftmig.so", false, 0o644, 0, 0},
				{"/usr/local/bin/softmig-conf", false, 0o755, 0, 0},
				{"/usr/local/bin/softmig-install", false, 0o755, 0, 0},
				{"/usr/local/share/man/man8/softmig-install.8", false, 0o644, 0, 0},
				{"/usr/local/share/bash-completion/completions/softmig-conf", false, 0o644, 0, 0},
				{"/usr/local/share/man/man5/softmig.conf.5", false, 0o644, 0, 0},
				{"/usr/local/share/man/man1/softmig-log.1", false, 0o644, 0, 0},
				{"/usr/local/share/softmig/slurm/prolog.sh", false, 0o755, 0, 0},
				{"/usr/local/share/softmig/slurm/job_submit.lua", false, 0o644, 0, 0},
				{"/usr/local/share/softmig/slurm/softmig.yaml", false, 0o644, 0, 0},
				{"/etc/softmig/softmig.yaml", false, 0o644, 0, 0},
				{"/etc/logrotate.d/softmig", false, 0o644, 0, 0},
				{"/usr/local/lib/tmpfiles.d/softmig.conf", false, 0o644, 0, 0},
				{"/etc/ld.so.preload", false, 0o644, 0, 0},
				{"/var/lib/softmig/install.manifest", false, 0o644, 0, 0},
			}
			for _, w := range want {
				var st syscall.Stat_t
				if err := syscall.Lstat(filepath.Join(f.root, w.path), &st); err != nil {
					t.Errorf("%s: %v", w.path, err)
					continue
				}
				isDir := st.Mode&syscall.S_IFMT == syscall.S_IFDIR
				isReg := st.Mode&syscall.S_IFMT == syscall.S_IFREG
				if w.dir && !isDir || !w.dir && !isReg {
					t.Errorf("%s: file type %#o, want dir=%v", w.path, st.Mode&syscall.S_IFMT, w.dir)
				}
				if st.Mode&0o7777 != w.mode || int(st.Uid) != w.uid || int(st.Gid) != w.gid {
					t.Errorf("%s: %04o %d:%d, want %04o %d:%d", w.path, st.Mode&0o7777, st.Uid, st.Gid, w.mode, w.uid, w.gid)
				}
			}
			pre, _ := os.ReadFile(filepath.Join(f.root, "etc/ld.so.preload"))
			if got, want := string(pre), "# site\n/usr/lib/other.so\n/var/lib/shared/libsoftmig.so\n"; got != want {
				t.Errorf("ld.so.preload = %q, want %q", got, want)
			}
			tmp, _ := os.ReadFile(filepath.Join(f.root, "usr/local/lib/tmpfiles.d/softmig.conf"))
			if want := "d " + runDir + " 0755 root root -\n"; !strings.Contains(string(tmp), want) {
				t.Errorf("tmpfiles.d config lacks %q:\n%s", want, tmp)
			}
		})
	}
}

func TestInstallTwiceChangesNothing(t *testing.T) {
	needRootNS(t)
	f := newFixture(t, true)
	f.install(t)
	before := snapshot(t, f.root, true)
	out := f.install(t)
	if after := snapshot(t, f.root, true); after != before {
		t.Errorf("second install changed the root:\n%s", diffLines(before, after))
	}
	if !strings.Contains(out, "nothing to change") {
		t.Errorf("second install said %q, want it to say there is nothing to change", out)
	}
}

func TestUninstallRestoresRoot(t *testing.T) {
	needRootNS(t)
	f := newFixture(t, true)
	// Things that exist before install: a log directory with the wrong mode
	// (install fixes it, uninstall restores it) and a site config of the
	// admin's (never touched).
	if err := os.MkdirAll(filepath.Join(f.root, "var/log/softmig"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(f.root, "var/log/softmig"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.root, "etc/softmig"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.root, "etc/softmig/softmig.yaml"), []byte("# mine\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, f.root, false)

	out := f.install(t)
	if !strings.Contains(out, "kept /etc/softmig/softmig.yaml") {
		t.Errorf("install did not say it kept the existing site config:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(f.root, "etc/softmig/softmig.yaml")); string(b) != "# mine\n" {
		t.Errorf("install overwrote the existing site config: %q", b)
	}
	// A job log written meanwhile is kept, and so is its directory.
	mustRun(t, "uninstall", "--root", f.root)
	if after := snapshot(t, f.root, false); after != before {
		t.Errorf("uninstall did not restore the root:\n%s", diffLines(before, after))
	}
	if _, err := runTool(t, "uninstall", "--root", f.root); err == nil || !strings.Contains(err.Error(), "no manifest") {
		t.Errorf("second uninstall = %v, want a no-manifest error", err)
	}
}

func TestUninstallKeepsLogsAndEditedConfig(t *testing.T) {
	needRootNS(t)
	f := newFixture(t, false)
	f.install(t)
	logf := filepath.Join(f.root, "var/log/softmig/42.log")
	if err := os.WriteFile(logf, []byte("ts=... msg=\"process start\"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(f.root, "etc/softmig/softmig.yaml")
	if err := os.WriteFile(conf, []byte("edited: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "uninstall", "--root", f.root)
	for _, p := range []string{logf, conf} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("uninstall removed %s: %v", p, err)
		}
	}
	for _, w := range []string{"kept /var/log/softmig/ (not empty)", "kept /etc/softmig/softmig.yaml (edited since install)"} {
		if !strings.Contains(out, w) {
			t.Errorf("uninstall output lacks %q:\n%s", w, out)
		}
	}
	if _, err := os.Stat(f.lib()); !os.IsNotExist(err) {
		t.Errorf("library still there after uninstall: %v", err)
	}
}

func TestInstallNoPreload(t *testing.T) {
	needRootNS(t)
	f := newFixture(t, true)
	os.Remove(filepath.Join(f.root, "etc/ld.so.preload"))
	f.install(t, "--no-preload")
	if _, err := os.Stat(filepath.Join(f.root, "etc/ld.so.preload")); !os.IsNotExist(err) {
		t.Errorf("--no-preload created etc/ld.so.preload (%v)", err)
	}
	// Without --no-preload it is created, and uninstall removes it again.
	f.install(t)
	if b, _ := os.ReadFile(filepath.Join(f.root, "etc/ld.so.preload")); string(b) != "/var/lib/shared/libsoftmig.so\n" {
		t.Errorf("ld.so.preload = %q", b)
	}
	mustRun(t, "uninstall", "--root", f.root)
	if _, err := os.Stat(filepath.Join(f.root, "etc/ld.so.preload")); !os.IsNotExist(err) {
		t.Errorf("uninstall left the ld.so.preload it created (%v)", err)
	}
}

func TestInstallRefusesBadLibrary(t *testing.T) {
	needRootNS(t)
	for _, tc := range []struct{ name, src, want string }{
		{"text file", "", "not an ELF file"},
		{"crashing constructor", testlibs.Crashing, "killed by SIGSEGV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, true)
			if tc.src == "" {
				if err := os.WriteFile(filepath.Join(f.build, libName), []byte("not a library"), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				testlibs.Lib(t, f.build, libName, tc.src)
			}
			before := snapshot(t, f.root, true)
			_, err := runTool(t, "install", "--root", f.root, "--from", f.build)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("install with a bad library = %v, want a refusal mentioning %q", err, tc.want)
			}
			if after := snapshot(t, f.root, true); after != before {
				t.Errorf("a refused install changed the root:\n%s", diffLines(before, after))
			}
		})
	}
}

func TestLiveInstallNeedsRoot(t *testing.T) {
	var out, errb strings.Builder
	e := newEnv(&out, &errb)
	e.euid = 1000
	for _, cmd := range []string{"install", "update", "uninstall"} {
		err := e.run([]string{cmd})
		if err == nil || !strings.Contains(err.Error(), "must run as root") {
			t.Errorf("%s as uid 1000 on / = %v, want a must-run-as-root error", cmd, err)
		}
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := &manifest{}
	m.add(entry{op: "mkdir", path: "/var/log/softmig", mode: 0o1777})
	m.add(entry{op: "chmod", path: "/etc/ld.so.preload", mode: 0o600, uid: 0, gid: 4})
	m.add(entry{op: "conf", path: "/etc/softmig/softmig.yaml", mode: 0o644, sum: "abc"})
	m.add(entry{op: "preload", path: "/etc/ld.so.preload", sum: "/var/lib/shared/libsoftmig.so", created: true})
	got, err := parseManifest(strings.NewReader(string(m.bytes())))
	if err != nil {
		t.Fatal(err)
	}
	if string(got.bytes()) != string(m.bytes()) {
		t.Errorf("round trip:\n%s\nwant\n%s", got.bytes(), m.bytes())
	}
	for _, bad := range []string{"rm\t/x\n", "mkdir\t/x\t0755\t0\n", "mkdir\tx\t0755\t0\t0\n", "file\t/x\t9999\t0\t0\n", "preload\t/p\t/l\tmaybe\n"} {
		if _, err := parseManifest(strings.NewReader(bad)); err == nil {
			t.Errorf("parseManifest(%q) = nil error, want one", bad)
		}
	}
}

// TestPackageFlow stages a package (make install DESTDIR=...: no preload
// line, nothing under /run), unpacks it on a node, enables it there with
// the one command the README gives, verifies, and disables it again.
func TestPackageFlow(t *testing.T) {
	needRootNS(t)
	f := newFixture(t, false)
	pkg := filepath.Join(t.TempDir(), "pkg")
	mustRun(t, "install", "--root", pkg, "--from", f.build, "--no-preload")
	for _, p := range []string{"etc/ld.so.preload", "run", "var/run"} {
		if _, err := os.Lstat(filepath.Join(pkg, p)); !os.IsNotExist(err) {
			t.Errorf("the staged package has %s (%v)", p, err)
		}
	}
	// The node: the package's files.
	node := f.root
	if out, err := exec.Command("cp", "-a", pkg+"/.", node+"/").CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	out := mustRun(t, "enable", "--root", node, "--smi", "/usr/local/bin/softmig-smi")
	for _, w := range []string{"created " + runDir, "added /var/lib/shared/libsoftmig.so to /etc/ld.so.preload"} {
		if !strings.Contains(out, w) {
			t.Errorf("enable output lacks %q:\n%s", w, out)
		}
	}
	if target, err := os.Readlink(filepath.Join(node, smiLink)); err != nil || target != "/usr/local/bin/softmig-smi" {
		t.Errorf("after enable %s -> %q (%v), want softmig-smi", smiLink, target, err)
	}
	if out, err := runTool(t, f.verifyArgs()...); err != nil {
		t.Errorf("verify on the node: %v\n%s", err, out)
	}
	if out := mustRun(t, "enable", "--root", node); !strings.Contains(out, "already enabled") {
		t.Errorf("second enable said %q, want already enabled", out)
	}
	mustRun(t, "disable", "--root", node)
	pre, _ := os.ReadFile(filepath.Join(node, "etc/ld.so.preload"))
	if got, want := string(pre), "# site\n/usr/lib/other.so\n"; got != want {
		t.Errorf("after disable ld.so.preload = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(node, "var/lib/shared/libsoftmig.so")); err != nil {
		t.Errorf("disable removed the library: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(node, smiLink)); !os.IsNotExist(err) {
		t.Errorf("after disable %s is still there (%v)", smiLink, err)
	}
}
