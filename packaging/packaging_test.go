// SPDX-License-Identifier: Apache-2.0

package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

var (
	// mustHave are in both packages; units and tmpfiles.d entries where
	// the distributions keep them, docs and examples with them.
	mustHave = []string{
		"/usr/bin/softmig-conf", "/usr/bin/softmig-smi", "/usr/bin/softmig-install", "/usr/bin/softmig-log", "/usr/bin/softmig-guard",
		"/var/lib/shared/libsoftmig.so", "/usr/share/softmig/slurm/prolog.sh", "/usr/share/softmig/slurm/epilog.sh",
		"/usr/share/softmig/slurm/task_prolog.sh", "/usr/share/softmig/slurm/softmig_gres.lua", "/var/log/softmig",
		"/usr/share/bash-completion/completions/softmig-conf", "/usr/share/bash-completion/completions/softmig-smi",
		"/usr/share/doc/softmig/NOTICE", "/usr/share/doc/softmig/examples/slurm/4-shards/slurm.conf",
		"/usr/share/doc/softmig/examples/slurm/site-prolog.sh", "/usr/share/doc/softmig/examples/slurm/site-task_prolog.sh",
		"/usr/share/doc/softmig/examples/slurm/site-job_submit.lua", "/usr/share/doc/softmig/CONTRIBUTING.md",
		"/usr/share/doc/softmig/docs/containers.md", "/usr/share/doc/softmig/docs/monitoring.md",
		"/usr/share/doc/softmig/docs/grafana-softmig.json",
		"/usr/lib/tmpfiles.d/softmig.conf",
	}
	// configs are the site's files: kept on upgrade when edited.
	configs = []string{"/etc/logrotate.d/softmig", "/etc/softmig/softmig.yaml"}
	// manPage matches the packages' compressed man pages.
	manPage = regexp.MustCompile(`^/usr/share/man/man[158]/[^/]+\.[158]\.gz$`)
)

// checkList checks a package's file list (one absolute path a line).
func checkList(t *testing.T, pkg string, list []string, unit string) {
	t.Helper()
	have := map[string]bool{}
	pages := 0
	for _, p := range list {
		p = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(p), "."), "/")
		have[p] = true
		if p == "/run" || strings.HasPrefix(p, "/run/") || strings.HasPrefix(p, "/var/run") {
			t.Errorf("%s ships %s: nothing under /run belongs in a package (tmpfiles.d makes it)", pkg, p)
		}
		if p == "/etc/ld.so.preload" || strings.Contains(p, "install.manifest") || strings.HasPrefix(p, "/var/lib/softmig") {
			t.Errorf("%s ships %s", pkg, p)
		}
		if strings.HasPrefix(p, "/etc/systemd") || strings.HasPrefix(p, "/etc/tmpfiles.d") {
			t.Errorf("%s ships %s: /etc is the admin's, for overrides", pkg, p)
		}
		if strings.HasPrefix(p, "/usr/share/man/") && manPage.MatchString(p) {
			pages++
		}
	}
	for _, p := range append(mustHave, unit) {
		// dh_compress compresses the deb's documents over 4 KB.
		if !have[p] && (!strings.HasPrefix(p, "/usr/share/doc/") || !have[p+".gz"]) {
			t.Errorf("%s lacks %s", pkg, p)
		}
	}
	if pages < 5 {
		t.Errorf("%s has %d compressed man pages; want one per tool and the pages of the library and configs", pkg, pages)
	}
}

// checkStripped checks the unpacked binaries carry no symbol table.
func checkStripped(t *testing.T, root string) {
	t.Helper()
	for _, f := range []string{"usr/bin/softmig-conf", "usr/bin/softmig-guard", "var/lib/shared/libsoftmig.so"} {
		out := run(t, "file", "-b", filepath.Join(root, f))
		if !strings.Contains(out, ", stripped") {
			t.Errorf("%s is not stripped: %s", f, out)
		}
	}
}

// slurmSetup makes a Slurm setup below root the way the admin guide does,
// from the package's own examples: slurm.conf with SoftMig's lines and a
// NodeName line, gres.conf, the site's prolog, epilog and task prolog that
// call SoftMig's, the site's job_submit.lua with SoftMig's step and the GPU
// types from the site config. verify must pass with it.
func slurmSetup(t *testing.T, root string) {
	t.Helper()
	ex := filepath.Join(root, "usr/share/doc/softmig/examples/slurm")
	etc := filepath.Join(root, "etc/slurm")
	testutil.Must(t, os.MkdirAll(etc, 0o755))
	conf, err := os.ReadFile(filepath.Join(ex, "4-shards/slurm.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf = append(conf, "NodeName=gpu[01-04] CPUs=8 Gres=gpu:l40s:4,shard:l40s:16\n"...)
	types := run(t, filepath.Join(root, "usr/bin/softmig-conf"), "--config", filepath.Join(root, "etc/softmig/softmig.yaml"), "gres-lua")
	for name, data := range map[string][]byte{"slurm.conf": conf, "softmig_types.lua": []byte(types)} {
		if err := os.WriteFile(filepath.Join(etc, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for src, dst := range map[string]string{"4-shards/gres.conf": "gres.conf", "site-prolog.sh": "prolog.sh", "site-epilog.sh": "epilog.sh",
		"site-task_prolog.sh": "task_prolog.sh", "site-job_submit.lua": "job_submit.lua", "site-cli_filter.lua": "cli_filter.lua"} {
		data, err := os.ReadFile(filepath.Join(ex, src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, dst), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// checkInstalled checks an unpacked package: the prolog runs the packaged
// softmig-conf; the packaged softmig-install enables the node, verifies it
// (with the Slurm setup the guide makes) and disables it again.
func checkInstalled(t *testing.T, root string) {
	t.Helper()
	prolog, err := os.ReadFile(filepath.Join(root, "usr/share/softmig/slurm/prolog.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`SOFTMIG_CONF:-/usr/bin/softmig-conf}`).Match(prolog) {
		t.Errorf("the packaged prolog does not run /usr/bin/softmig-conf:\n%s", prolog)
	}
	scripts, _ := filepath.Glob(filepath.Join(root, "usr/share/softmig/slurm/*.sh"))
	for _, f := range scripts {
		if b, _ := os.ReadFile(f); regexp.MustCompile(`@[A-Z]+@`).Match(b) {
			t.Errorf("the packaged %s keeps a placeholder make install fills in:\n%s", filepath.Base(f), b)
		}
	}
	tool := filepath.Join(root, "usr/bin/softmig-install")
	if _, err := os.Stat(filepath.Join(root, "etc/ld.so.preload")); err == nil {
		t.Errorf("installing the package wrote etc/ld.so.preload: it must wait for softmig-install enable")
	}
	slurmSetup(t, root)
	// Apptainer is installed: verify checks the TaskProlog too.
	if err := os.MkdirAll(filepath.Join(root, "etc/apptainer"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/apptainer/apptainer.conf"), []byte("user bind control = yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, tool, "--root", root, "enable")
	verify := exec.Command(tool, "--root", root, "verify", "--node", "gpu02", "--prefix", "/usr")
	verify.Env = append(os.Environ(), "SLURM_CONF=")
	out, err := verify.CombinedOutput()
	if err != nil {
		t.Errorf("softmig-install verify after enable, with the guide's Slurm setup: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "TaskProlog=/etc/slurm/task_prolog.sh: runs /etc/slurm/task_prolog.sh, which calls /usr/share/softmig/slurm/task_prolog.sh") {
		t.Errorf("verify does not find SoftMig's task prolog through the site's:\n%s", out)
	}
	// Every packaged tool says the version the packaged library answers.
	m := regexp.MustCompile(`answers version ([^,\s]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("verify does not say the library's version:\n%s", out)
	}
	for _, name := range []string{"softmig-conf", "softmig-install", "softmig-log", "softmig-smi", "softmig-guard"} {
		v, _ := exec.Command(filepath.Join(root, "usr/bin", name), "--version").Output()
		if first, _, _ := strings.Cut(string(v), "\n"); first != name+" "+string(m[1]) {
			t.Errorf("%s --version = %q, want %q (the library's softmig_version)", name, first, name+" "+string(m[1]))
		}
	}
	if target, err := os.Readlink(filepath.Join(root, "usr/local/bin/nvidia-smi")); err != nil || target != "/usr/bin/softmig-smi" {
		t.Errorf("after enable /usr/local/bin/nvidia-smi -> %q (%v), want /usr/bin/softmig-smi", target, err)
	}
	run(t, tool, "--root", root, "disable")
	if _, err := os.Lstat(filepath.Join(root, "usr/local/bin/nvidia-smi")); !os.IsNotExist(err) {
		t.Errorf("after disable /usr/local/bin/nvidia-smi is still there (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/ld.so.preload")); !os.IsNotExist(err) {
		t.Errorf("after disable etc/ld.so.preload, which enable created, is still there (%v)", err)
	}
}

func TestRPM(t *testing.T) {
	pkgs := packages(t, "rpm", "rpmbuild")
	rpm, srpm := pick(t, pkgs, ".x86_64.rpm"), pick(t, pkgs, ".src.rpm")
	if src := run(t, "rpm", "-qpl", srpm); !strings.Contains(src, "softmig.spec") || !strings.Contains(src, ".tar.gz") {
		t.Errorf("the source RPM lacks the spec or the tarball:\n%s", src)
	}
	list := strings.Fields(run(t, "rpm", "-qpl", rpm))
	checkList(t, rpm, list, "/usr/lib/systemd/system/softmig-guard.service")
	if !strings.Contains(strings.Join(list, " "), "/usr/share/licenses/softmig") {
		t.Errorf("%s has no licence in /usr/share/licenses (%%license)", rpm)
	}
	if got := strings.Fields(run(t, "rpm", "-qpc", rpm)); strings.Join(got, " ") != strings.Join(configs, " ") {
		t.Errorf("rpm -qpc = %v, want %v", got, configs)
	}
	if lic := run(t, "rpm", "-qp", "--qf", "%{LICENSE}", rpm); lic != "Apache-2.0 AND MIT AND BSD-3-Clause AND OFL-1.1 AND FTL AND CC-BY-4.0" {
		t.Errorf("License: %q; want SoftMig's and the linked Go modules' (NOTICE)", lic)
	}
	// The glibc it was built against, explicitly and per symbol version.
	req := run(t, "rpm", "-qpR", rpm)
	for _, re := range []string{`(?m)^glibc >= 2\.\d+$`, `(?m)^libc\.so\.6\(GLIBC_2\.34\)\(64bit\)$`, `(?m)^logrotate$`} {
		if !regexp.MustCompile(re).MatchString(req) {
			t.Errorf("rpm -qpR lacks %s:\n%s", re, req)
		}
	}
	scripts := run(t, "rpm", "-qp", "--scripts", rpm)
	for _, want := range []string{
		"softmig-install disable --for-removal --prefix /usr || exit 1", // %preun, erase only
		"preset softmig-guard.service",                                  // %systemd_post: installed as the presets say (disabled)
		"disable --now softmig-guard.service",                           // %systemd_preun: stopped on removal
		"try-restart softmig-guard.service",                             // %systemd_postun_with_restart: restarted on upgrade
		"rm -rf /var/lib/softmig /run/softmig",                          // erase leaves only logs
	} {
		if !strings.Contains(scripts, want) {
			t.Errorf("the RPM's scriptlets lack %q:\n%s", want, scripts)
		}
	}
	if strings.Contains(scripts, "softmig-install enable") {
		t.Errorf("the RPM's scriptlets switch SoftMig on; only the admin does:\n%s", scripts)
	}
	root := t.TempDir()
	run(t, "rpm", "--root", root, "-i", "--nodeps", "--noscripts", rpm)
	if out, err := exec.Command("rpm", "--root", root, "-V", "--nodeps", "softmig").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("rpm -V right after install: %v\n%s", err, out)
	}
	checkStripped(t, root)
	editConfig(t, root)
	out, _ := exec.Command("rpm", "--root", root, "-V", "--nodeps", "softmig").CombinedOutput()
	if !regexp.MustCompile(`(?m)^S\.5\S*\s+c /etc/softmig/softmig.yaml$`).Match(out) {
		t.Errorf("rpm -V does not flag the edited config as a changed config file:\n%s", out)
	}
	checkInstalled(t, root)
}

func TestDeb(t *testing.T) {
	deb := pick(t, packages(t, "deb", "dpkg-buildpackage"), ".deb")
	var list []string
	for _, l := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(l)
		list = append(list, f[len(f)-1])
	}
	checkList(t, deb, list, "/lib/systemd/system/softmig-guard.service")
	for _, p := range []string{"./usr/share/doc/softmig/copyright", "./usr/share/doc/softmig/changelog.gz"} {
		if !strings.Contains(strings.Join(list, " "), p) {
			t.Errorf("%s lacks %s", deb, p)
		}
	}
	ctl := t.TempDir()
	run(t, "dpkg-deb", "-e", deb, ctl)
	conff, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if got := strings.Fields(string(conff)); strings.Join(got, " ") != strings.Join(configs, " ") {
		t.Errorf("conffiles = %v, want %v", got, configs)
	}
	control, _ := os.ReadFile(filepath.Join(ctl, "control"))
	if !regexp.MustCompile(`(?m)^Depends: .*libc6 \(>= 2\.\d+\)`).Match(control) || !strings.Contains(string(control), "softmig-test@example.org") {
		t.Errorf("control: want Depends on the glibc the binaries need, and the builder as Maintainer:\n%s", control)
	}
	for script, want := range map[string]string{
		"prerm":    "disable --for-removal --prefix /usr",
		"postinst": "deb-systemd-helper update-state 'softmig-guard.service'",
		"postrm":   "deb-systemd-helper purge 'softmig-guard.service'",
	} {
		b, _ := os.ReadFile(filepath.Join(ctl, script))
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q:\n%s", script, want, b)
		}
	}
	// dpkg --root runs the maintainer scripts outside a chroot with DPKG_ROOT
	// set; they act on that tree only.
	root := dpkgRoot(t)
	dpkg(t, root, "-i", deb)
	if out := run(t, "dpkg", "--root", root, "--verify", "softmig"); out != "" {
		t.Errorf("dpkg --verify right after install:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(root, "run/softmig")); err != nil {
		t.Errorf("postinst did not make /run/softmig through tmpfiles.d: %v", err)
	}
	checkStripped(t, root)
	editConfig(t, root)
	if out := run(t, "dpkg", "--root", root, "--verify", "softmig"); !regexp.MustCompile(`(?m)^\?\?5\S* c /etc/softmig/softmig.yaml$`).MatchString(out) {
		t.Errorf("dpkg --verify does not flag the edited conffile:\n%s", out)
	}
	checkInstalled(t, root)
	dpkg(t, root, "-r", "softmig")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/softmig-conf")); err == nil {
		t.Errorf("dpkg -r left /usr/bin/softmig-conf")
	}
}

// dpkgRoot makes an empty root dpkg --root can install into.
func dpkgRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		testutil.Must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	testutil.Must(t, os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644))
	return root
}

// dpkg runs dpkg on root, the maintainer scripts included (chrootless).
func dpkg(t *testing.T, root string, args ...string) string {
	t.Helper()
	return run(t, "dpkg", append([]string{"--root", root, "--force-depends", "--force-script-chrootless"}, args...)...)
}

// editConfig edits the site config as an admin would (a comment added).
func editConfig(t *testing.T, root string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(root, "etc/softmig/softmig.yaml"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("# edited by the site\n"); err != nil {
		t.Fatal(err)
	}
}
