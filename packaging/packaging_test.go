// Package packaging tests `make rpm` and `make deb`: each package is built
// from this tree, its contents are checked (tools, library, scripts naming
// the tools where the package puts them, configs marked as such, nothing
// under /run, no ld.so.preload), and it is installed into a scratch root
// where the package manager's verify must pass, then flag an edited config.
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
	mustHave = []string{
		"/usr/bin/softmig-conf", "/usr/bin/softmig-smi", "/usr/bin/softmig-install", "/usr/bin/softmig-log", "/usr/bin/softmig-guard",
		"/var/lib/shared/libsoftmig.so", "/usr/share/softmig/slurm/prolog.sh", "/usr/share/softmig/slurm/epilog.sh",
		"/usr/share/man/man8/softmig-install.8", "/var/log/softmig",
		"/usr/share/bash-completion/completions/softmig-conf", "/usr/share/bash-completion/completions/softmig-smi",
	}
	configs = []string{"/etc/logrotate.d/softmig", "/etc/softmig/softmig.yaml", "/etc/systemd/system/softmig-guard.service", "/etc/tmpfiles.d/softmig.conf"}
)

// build runs make TARGET with its own build directory, so the packages never
// disturb the build/ other tests use; it returns the packages made.
func build(t *testing.T, target, tool string) []string {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed (apt-get install rpm dpkg-dev): make %s not tried", tool, target)
	}
	testutil.NeedRoot(t, "packages are staged with root-owned files")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	cmd := exec.Command("make", "-C", "..", "BUILD="+filepath.Join(dir, "build"), "PKG_OUT="+out, target)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", target, err, tail(string(b), 3000))
	}
	pkgs, _ := filepath.Glob(filepath.Join(out, "*"))
	return pkgs
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
	return string(b)
}

// checkList checks a package's file list (one absolute path a line).
func checkList(t *testing.T, pkg string, list []string) {
	t.Helper()
	have := map[string]bool{}
	for _, p := range list {
		p = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(p), "."), "/")
		have[p] = true
		if p == "/run" || strings.HasPrefix(p, "/run/") || strings.HasPrefix(p, "/var/run") {
			t.Errorf("%s ships %s: nothing under /run belongs in a package (tmpfiles.d makes it)", pkg, p)
		}
		if p == "/etc/ld.so.preload" || strings.Contains(p, "install.manifest") {
			t.Errorf("%s ships %s", pkg, p)
		}
	}
	for _, p := range mustHave {
		if !have[p] {
			t.Errorf("%s lacks %s", pkg, p)
		}
	}
}

// checkInstalled checks an unpacked package: the prolog runs the packaged
// softmig-conf, and on a root-run test the packaged softmig-install enables
// the node, verifies it and disables it again.
func checkInstalled(t *testing.T, root string) {
	t.Helper()
	prolog, err := os.ReadFile(filepath.Join(root, "usr/share/softmig/slurm/prolog.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`SOFTMIG_CONF:-/usr/bin/softmig-conf}`).Match(prolog) {
		t.Errorf("the packaged prolog does not run /usr/bin/softmig-conf:\n%s", prolog)
	}
	tool := filepath.Join(root, "usr/bin/softmig-install")
	if _, err := os.Stat(filepath.Join(root, "etc/ld.so.preload")); err == nil {
		t.Errorf("installing the package wrote etc/ld.so.preload: it must wait for softmig-install enable")
	}
	run(t, tool, "--root", root, "enable")
	out, err := exec.Command(tool, "--root", root, "verify").CombinedOutput()
	if err != nil {
		t.Errorf("softmig-install verify after enable: %v\n%s", err, out)
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
	if b, _ := os.ReadFile(filepath.Join(root, "etc/ld.so.preload")); strings.Contains(string(b), "libsoftmig") {
		t.Errorf("after disable etc/ld.so.preload still lists the library: %q", b)
	}
}

func TestRPM(t *testing.T) {
	pkgs := build(t, "rpm", "rpmbuild")
	var rpm, srpm string
	for _, p := range pkgs {
		switch {
		case strings.HasSuffix(p, ".src.rpm"):
			srpm = p
		case strings.HasSuffix(p, ".rpm"):
			rpm = p
		}
	}
	if rpm == "" || srpm == "" {
		t.Fatalf("make rpm made %v; want a binary and a source RPM", pkgs)
	}
	if src := run(t, "rpm", "-qpl", srpm); !strings.Contains(src, "softmig.spec") || !strings.Contains(src, ".tar.gz") {
		t.Errorf("the source RPM lacks the spec or the tarball:\n%s", src)
	}
	checkList(t, rpm, strings.Fields(run(t, "rpm", "-qpl", rpm)))
	if got := strings.Fields(run(t, "rpm", "-qpc", rpm)); strings.Join(got, " ") != strings.Join(configs, " ") {
		t.Errorf("rpm -qpc = %v, want %v", got, configs)
	}
	scripts := run(t, "rpm", "-qp", "--scripts", rpm)
	if strings.Contains(scripts, "enable") || !strings.Contains(scripts, "softmig-install disable") {
		t.Errorf("the RPM's scripts must not enable the library and must disable it on removal:\n%s", scripts)
	}
	root := t.TempDir()
	run(t, "rpm", "--root", root, "-i", "--nodeps", "--noscripts", rpm)
	if out, err := exec.Command("rpm", "--root", root, "-V", "--nodeps", "softmig").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("rpm -V right after install: %v\n%s", err, out)
	}
	editConfig(t, root)
	out, _ := exec.Command("rpm", "--root", root, "-V", "--nodeps", "softmig").CombinedOutput()
	if !regexp.MustCompile(`(?m)^S\.5\S*\s+c /etc/softmig/softmig.yaml$`).Match(out) {
		t.Errorf("rpm -V does not flag the edited config as a changed config file:\n%s", out)
	}
	checkInstalled(t, root)
}

func TestDeb(t *testing.T) {
	pkgs := build(t, "deb", "dpkg-deb")
	if len(pkgs) != 1 || !strings.HasSuffix(pkgs[0], ".deb") {
		t.Fatalf("make deb made %v; want one .deb", pkgs)
	}
	deb := pkgs[0]
	var list []string
	for _, l := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(l)
		list = append(list, f[len(f)-1])
	}
	checkList(t, deb, list)
	ctl := t.TempDir()
	run(t, "dpkg-deb", "-e", deb, ctl)
	conff, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if got := strings.Fields(string(conff)); strings.Join(got, " ") != strings.Join(configs, " ") {
		t.Errorf("conffiles = %v, want %v", got, configs)
	}
	// dpkg --root runs the maintainer scripts outside a chroot with DPKG_ROOT
	// set; they act on that tree only.
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "dpkg", "--root", root, "--force-depends", "--force-script-chrootless", "-i", deb)
	if out := run(t, "dpkg", "--root", root, "--verify", "softmig"); out != "" {
		t.Errorf("dpkg --verify right after install:\n%s", out)
	}
	if _, err := exec.LookPath("systemd-tmpfiles"); err != nil {
		t.Log("no systemd-tmpfiles here: postinst's /run/softmig not checked")
	} else if _, err := os.Stat(filepath.Join(root, "run/softmig")); err != nil {
		t.Errorf("postinst did not make /run/softmig through tmpfiles.d: %v", err)
	}
	editConfig(t, root)
	if out := run(t, "dpkg", "--root", root, "--verify", "softmig"); !regexp.MustCompile(`(?m)^\?\?5\S* c /etc/softmig/softmig.yaml$`).MatchString(out) {
		t.Errorf("dpkg --verify does not flag the edited conffile:\n%s", out)
	}
	checkInstalled(t, root)
	run(t, "dpkg", "--root", root, "--force-script-chrootless", "-r", "softmig")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/softmig-conf")); err == nil {
		t.Errorf("dpkg -r left /usr/bin/softmig-conf")
	}
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
