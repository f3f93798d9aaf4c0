// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testutil"
)

// containerScript enters a container the way Apptainer does: in a private
// mount namespace, /proc and the binds (pairs "host:container" in $BINDS)
// are mounted into another root file system, then the program runs there,
// chrooted, as nobody.
const containerScript = `set -e
root=$1; shift
mount --make-rprivate /
mount -t proc proc "$root/proc"
for b in $BINDS; do mount --bind "${b%%:*}" "$root${b#*:}"; done
exec chroot --userspec=65534:65534 "$root" "$@"
`

// rootfs builds a minimal root file system holding the test client, its
// libraries at their paths (ldd), and the simulated driver in
// /.singularity.d/libs, where Apptainer's --nv puts the host's driver.
func rootfs(t *testing.T, n *node, prog string) string {
	t.Helper()
	root := filepath.Join(n.dir, "rootfs")
	bin := n.shared.Path("build/test/" + prog)
	copyInto(t, root, bin, "/"+prog)
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bin, err)
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			copyInto(t, root, f, f)
		}
	}
	for _, lib := range []string{"libcuda.so.1", "libnvidia-ml.so.1"} {
		copyInto(t, root, n.shared.Path("build/sim/"+lib), "/.singularity.d/libs/"+lib)
	}
	for _, d := range []string{"proc", "etc", n.dir} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func copyInto(t *testing.T, root, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(root, to)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// bindTarget creates the mount point for a bind of host path src.
func bindTarget(t *testing.T, root, src string) string {
	t.Helper()
	dst := filepath.Join(root, src)
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if fi.IsDir() {
		err = os.MkdirAll(dst, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
		err = os.WriteFile(dst, nil, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	return src + ":" + src
}

// A job in a container is sliced when the site binds SoftMig in
// (docs/containers.md): /etc/ld.so.preload, the library, the run and log
// directories. Without those binds the container runs the driver without
// the library, and the guard kills what takes the GPU.
func TestContainer(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"unshare", "chroot", "mount", "ldd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	n := newNode(t)
	root := rootfs(t, n, "cuclient")
	script := filepath.Join(n.dir, "container.sh")
	if err := os.WriteFile(script, []byte(containerScript), 0o755); err != nil {
		t.Fatal(err)
	}
	// The host's /etc/ld.so.preload, as a site would have it.
	preload := filepath.Join(n.dir, "ld.so.preload")
	if err := os.WriteFile(preload, []byte(n.lib()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dataBind := bindTarget(t, root, n.dir) // the sim's state: /dev/nvidia* on a real node
	softmig := []string{
		preload + ":/etc/ld.so.preload",
		bindTarget(t, root, n.lib()),
		bindTarget(t, root, defs.RunDir()),
		bindTarget(t, root, defs.LogDir()),
	}
	// The image's own, empty list: the mount point of the bind.
	if err := os.WriteFile(filepath.Join(root, "etc/ld.so.preload"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	enter := func(j *sjob, binds []string, args ...string) *client {
		argv := append([]string{"unshare", "-m", "/bin/sh", script, root, "/cuclient"}, args...)
		return n.startArgv(j, []string{"BINDS=" + strings.Join(binds, " "), "LD_LIBRARY_PATH=/.singularity.d/libs"}, argv)
	}
	g := n.guard()

	bound := n.job(slicedConf)
	c := enter(bound, append([]string{dataBind}, softmig...), "init", "dev:0", "meminfo", "alloc:13g", "alloc:11g", "ready", "hold")
	want := []string{"init rc=0", "dev rc=0", "meminfo rc=0", "alloc rc=2", "alloc rc=0"}
	if strings.Join(testutil.ClientResults(c.lines), "|") != strings.Join(want, "|") ||
		c.lines[2] != "meminfo rc=0 free=12570329088 total=12884901888" {
		t.Fatalf("with SoftMig's binds: %q; want %q (the slice, 13 GiB refused, 11 GiB given)", c.lines, want)
	}

	unbound := n.job(slicedConf)
	e := enter(unbound, []string{dataBind}, "init", "dev:0", "meminfo", "alloc:13g", "ready", "hold")
	if len(e.lines) != 4 || !strings.HasSuffix(e.lines[2], " total=51539607552") || !strings.HasPrefix(e.lines[3], "alloc rc=0 ") {
		t.Fatalf("without the binds: %q; want the whole 48 GiB GPU and 13 GiB given", e.lines)
	}
	took := e.killedWithin(t, 3*time.Second)
	t.Logf("container without SoftMig's binds: killed %s after crossing the slice", took.Round(time.Millisecond))
	if took > killLimit {
		t.Errorf("killed %s after crossing; want within %s", took, killLimit)
	}
	wantKillEvent(t, g, unbound, e.pid(), reasonEscape)
	if !strings.Contains(unbound.guardLog(t), "a container without SoftMig's binds") {
		t.Errorf("the kill does not name the likely cause:\n%s", unbound.guardLog(t))
	}
	time.Sleep(time.Second)
	if !c.alive() {
		t.Errorf("the sliced job in a container with the binds was killed:\n%s", bound.guardLog(t))
	}
}
