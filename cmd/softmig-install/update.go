// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/elfcheck"
	"github.com/softmig/softmig/internal/fsutil"
	"github.com/softmig/softmig/internal/libprobe"
)

// Limits for a trial: a library whose load hangs is refused too.
const (
	startTimeout = 20 * time.Second
	trialTimeout = 90 * time.Second
	trialPath    = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

type updateCmd struct {
	Library string `arg:"" optional:"" placeholder:"LIBRARY" help:"The new libsoftmig.so (default: BUILD/libsoftmig.so)."`
	From    string `placeholder:"BUILD" help:"Build directory holding libsoftmig.so (default: the directory above this program's bin/)."`
}

func (c *updateCmd) Run(e *env, g *cli) error {
	l, err := g.layout()
	if err != nil {
		return err
	}
	if err := e.needRoot(l, "update"); err != nil {
		return err
	}
	lib := c.Library
	if lib == "" {
		from := c.From
		if from == "" {
			from = e.defaultFrom()
		}
		lib = filepath.Join(from, libName)
		if _, err := os.Stat(lib); err != nil {
			return fmt.Errorf("no library given and none at %q: name it, as in softmig-install update PATH/libsoftmig.so", lib)
		}
	}
	if err := elfcheck.Check(lib, libprobe.Symbol); err != nil {
		return fmt.Errorf("refusing the new library: %w; nothing was changed", err)
	}
	unlock, err := lockRoot(l.root)
	if err != nil {
		return err
	}
	defer unlock()
	dst := l.host(l.lib())
	fi, err := os.Lstat(dst)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no library at %q to update; install SoftMig first: softmig-install install", dst)
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q is not a regular file (%s); update replaces a file", dst, fi.Mode().Type())
	}
	data, err := os.ReadFile(lib)
	if err != nil {
		return err
	}
	if same, err := fsutil.SameContent(dst, data); err != nil {
		return err
	} else if same {
		e.say("softmig-install: %s is already this library; nothing to change", l.lib())
		return nil
	}
	version, err := e.swapLibrary(dst, lib)
	if err != nil {
		return err
	}
	e.say("updated %s (version %s): running processes keep the old library, new ones load this one", l.lib(), version)
	return nil
}

// swapLibrary replaces dst with the library at src the only safe way on a
// live node: copy to a staged file beside dst (same filesystem), sync,
// check the staged bytes, try them in fresh processes, then rename. A
// process that opens dst sees the old inode or the new one, never a
// partial file; processes that have the old one mapped keep it. On any
// failure the staged file is removed and dst is untouched.
func (e *env) swapLibrary(dst, src string) (version string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	removeStale(dst)
	h := sha256.New()
	tmp, err := fsutil.Stage(dst, io.TeeReader(in, h), 0o644, e.owner())
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
			err = fmt.Errorf("%w; nothing was changed", err)
		}
	}()
	staged, err := os.ReadFile(tmp)
	if err != nil {
		return "", err
	}
	if s := sha256.Sum256(staged); !bytes.Equal(s[:], h.Sum(nil)) {
		return "", fmt.Errorf("the staged copy %q differs from %q (was it changed while copying?)", tmp, src)
	}
	if err := elfcheck.Check(tmp, libprobe.Symbol); err != nil {
		return "", fmt.Errorf("refusing the staged library: %w", err)
	}
	version, err = e.trial(tmp)
	if err != nil {
		return "", fmt.Errorf("refusing %q: %w", src, err)
	}
	if err := fsutil.Commit(tmp, dst); err != nil {
		return "", err
	}
	return version, nil
}

// removeStale deletes staged files a killed run left beside dst. Runs hold
// the root lock, so none of them belongs to a live run.
func removeStale(dst string) {
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".new-*"))
	for _, p := range old {
		os.Remove(p)
	}
}

// trial runs `softmig-install trial` on lib: as root in a private mount
// namespace where the host's preload list is masked, so that the trial's
// processes load the candidate and nothing else.
func (e *env) trial(lib string) (version string, err error) {
	args := append(append([]string{}, e.self[1:]...), "trial", "--shell", e.shell)
	masked := e.euid == 0
	if masked {
		args = append(args, "--mask", e.hostPreload)
	}
	args = append(args, lib)
	ctx, cancel := context.WithTimeout(context.Background(), trialTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.self[0], args...)
	cmd.Env = append([]string{trialPath, "LC_ALL=C"}, e.selfEnv...)
	if masked {
		// Go's fork makes the new namespace's mounts private (MS_REC|MS_PRIVATE)
		// before it execs, so nothing mounted there reaches the host.
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWNS}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("the trial did not finish within %v", trialTimeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		msg = strings.TrimPrefix(msg, "softmig-install: ")
		return "", errors.New(msg)
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "version "); ok {
			version = v
		} else if n, ok := strings.CutPrefix(line, "note "); ok {
			e.say("note: %s", n)
		}
	}
	if !masked {
		e.say("note: not root: the library was tried without masking %s", e.hostPreload)
	}
	return version, nil
}

// trialCmd is the child side of a trial.
type trialCmd struct {
	Mask    string `placeholder:"FILE" help:"Bind /dev/null over FILE first (only in a private mount namespace)."`
	Shell   string `default:"/bin/sh" help:"Shell used for the start and passivity checks."`
	Library string `arg:"" help:"Library to try."`
}

// passiveScript prints what a library loaded into a process that never
// touches a GPU must leave alone: umask, threads, signal dispositions and
// mask, open descriptors, the environment. Only builtins, so the shell is
// never caught in the middle of spawning a child (when glibc blocks every
// signal).
const passiveScript = `umask
while IFS= read -r l; do
	case $l in Threads:*|SigBlk:*|SigIgn:*|SigCgt:*|NoNewPrivs:*|Seccomp:*) echo "$l";; esac
done < /proc/$$/status
for f in /proc/$$/fd/*; do echo "fd ${f##*/}"; done
export -p
`

// dropPreloadVar removes the LD_PRELOAD line from export -p's output.
func dropPreloadVar(s string) string {
	var kept []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, "LD_PRELOAD=") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

func (c *trialCmd) Run(e *env) error {
	if c.Mask != "" {
		if err := maskFile(c.Mask); err != nil {
			return err
		}
	}
	base := []string{trialPath, "LC_ALL=C"}
	pre := "LD_PRELOAD=" + c.Library

	// 1. A plain process starts with the library preloaded, and the
	// library changes nothing in it.
	without, err := start(append([]string(nil), base...), c.Shell, "-c", passiveScript)
	if err != nil {
		return fmt.Errorf("the shell %s does not run even without the library: %w", c.Shell, err)
	}
	with, err := start(append(append([]string(nil), base...), pre), c.Shell, "-c", passiveScript)
	if err != nil {
		return fmt.Errorf("a process started with it preloaded failed: %w", err)
	}
	if d := firstDiff(dropPreloadVar(without), dropPreloadVar(with)); d != "" {
		return fmt.Errorf("it is not passive: a shell started with it preloaded differs from one without (%s)", d)
	}

	// 2. The library answers: a process with it preloaded finds it loaded
	// (the loader did not skip it) and calls softmig_version().
	if !libprobe.Supported {
		fmt.Fprintf(e.stdout, "note %s\n", "built without cgo: softmig_version() was not called, only checked to be exported")
		fmt.Fprintf(e.stdout, "version unknown\n")
		return nil
	}
	probeEnv := append(append(append([]string(nil), base...), e.selfEnv...), pre)
	args := append(append([]string(nil), e.self[1:]...), "probe", c.Library)
	out, err := start(probeEnv, e.self[0], args...)
	if err != nil {
		return fmt.Errorf("it does not answer: %w", err)
	}
	fmt.Fprintf(e.stdout, "version %s\n", strings.TrimSpace(out))
	return nil
}

// maskFile binds /dev/null over path, hiding the host's preload list from
// the processes of this trial. It refuses unless this process is in a mount
// namespace of its own, so the host never sees the mask.
func maskFile(path string) error {
	self, err1 := os.Readlink("/proc/self/ns/mnt")
	parent, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", os.Getppid()))
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("cannot tell whether this trial has a private mount namespace: %w", err)
	}
	if self == parent {
		return fmt.Errorf("refusing to mask %q: this trial is not in a private mount namespace", path)
	}
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil // nothing to mask
	}
	if err := unix.Mount("/dev/null", path, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mask %q with /dev/null in the trial's mount namespace: %w", path, err)
	}
	if b, err := os.ReadFile(path); err != nil || len(b) != 0 {
		return fmt.Errorf("mask %q: still readable after the bind mount (%w)", path, err)
	}
	return nil
}

// start runs one process with environment env and returns its stdout. It
// fails on a non-zero exit, a signal, a timeout, or anything on stderr (the
// dynamic loader reports a library it could not preload there, and goes on).
func start(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	msg := firstLines(stderr.String(), 4)
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("%s did not finish within %v (does loading the library hang?)", filepath.Base(name), startTimeout)
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				err = fmt.Errorf("killed by %s", unix.SignalName(ws.Signal()))
			}
		}
		if msg != "" {
			return "", fmt.Errorf("%s: %w: %s", filepath.Base(name), err, msg)
		}
		return "", fmt.Errorf("%s: %w", filepath.Base(name), err)
	case msg != "":
		return "", fmt.Errorf("%s wrote to stderr: %s", filepath.Base(name), msg)
	}
	return stdout.String(), nil
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}

// firstDiff describes the first line where a and b differ, or returns "".
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("without: %q, with: %q", x, y)
		}
	}
	return ""
}

// probeCmd runs in a process that has the candidate preloaded.
type probeCmd struct {
	Library string `arg:"" help:"The preloaded library."`
}

func (c *probeCmd) Run(e *env) error {
	v, err := libprobe.Version(c.Library, true)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, v)
	return nil
}
