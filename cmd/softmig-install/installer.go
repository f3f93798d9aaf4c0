// SPDX-License-Identifier: Apache-2.0

// installer.go: applying a plan (directories, files, the preload line) to
// one tree and recording it in the manifest; install, enable and the
// nvidia-smi link use it.

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/softmig/softmig/internal/fsutil"
	"github.com/softmig/softmig/internal/preloadcfg"
)

// installer applies a plan to one tree and records it in the manifest.
type installer struct {
	e       *env
	l       layout
	m       *manifest
	changed int
}

func (in *installer) note(format string, a ...any) {
	in.changed++
	in.e.say(format, a...)
}

// ensureDir creates d (and any missing parent, 0755 root:root) or, for an
// enforced directory, sets its mode and owner, recording the old ones.
func (in *installer) ensureDir(d dirSpec) error {
	p := in.l.host(d.path)
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		if parent := filepath.Dir(d.path); parent != d.path {
			if err := in.ensureDir(dirSpec{path: parent, mode: 0o755}); err != nil {
				return err
			}
		}
		if err := os.Mkdir(p, 0o700); err != nil {
			return fmt.Errorf("create %q: %w", p, err)
		}
		if err := in.setModeOwner(p, d.mode, d.uid, d.gid); err != nil {
			return err
		}
		in.m.add(entry{op: "mkdir", path: d.path, mode: d.mode, uid: d.uid, gid: d.gid})
		in.note("created %s (%s)", d.path, describe(in.l.root, d.mode, d.uid, d.gid))
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%q exists and is not a directory; move it away and run install again", p)
	}
	if d.enforce {
		return in.enforce(d.path, fi, d.mode, d.uid, d.gid)
	}
	return nil
}

// enforce sets the mode and owner of an existing path, recording the old
// values the first time install changes a path it did not create.
func (in *installer) enforce(path string, fi os.FileInfo, mode uint32, uid, gid int) error {
	om, ou, og := statMode(fi)
	if om == mode && (in.e.euid != 0 || ou == uid && og == gid) {
		return nil
	}
	if !in.m.owns(path) {
		in.m.add(entry{op: "chmod", path: path, mode: om, uid: ou, gid: og})
	}
	if err := in.setModeOwner(in.l.host(path), mode, uid, gid); err != nil {
		return err
	}
	in.note("changed %s: %s, was %s", path, describe(in.l.root, mode, uid, gid), describe(in.l.root, om, ou, og))
	return nil
}

func (in *installer) setModeOwner(p string, mode uint32, uid, gid int) error {
	if in.e.euid == 0 {
		if err := os.Chown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %q: %w", p, err)
		}
	}
	if err := os.Chmod(p, fileMode(mode)); err != nil {
		return fmt.Errorf("chmod %q: %w", p, err)
	}
	return nil
}

// fileMode converts permission bits (07777) to an os.FileMode.
func fileMode(m uint32) os.FileMode {
	fm := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

func describe(root string, mode uint32, uid, gid int) string {
	u := "root"
	if uid != 0 {
		u = fmt.Sprint(uid)
	}
	return fmt.Sprintf("%04o %s:%s", mode, u, groupName(root, gid))
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// installFile puts one file in place unless it is already there, byte for
// byte. A site config that exists is never touched.
func (in *installer) installFile(f fileSpec) error {
	p := in.l.host(f.path)
	if err := in.ensureDir(dirSpec{path: filepath.Dir(f.path), mode: 0o755}); err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if exists && f.conf {
		if !in.m.owns(f.path) {
			in.e.say("kept %s (it exists; compare with the new example by hand)", f.path)
		}
		return nil
	}
	if exists && !fi.Mode().IsRegular() {
		return fmt.Errorf("%q exists and is not a regular file; move it away and run install again", p)
	}
	data := f.data
	if f.src != "" {
		if data, err = os.ReadFile(f.src); err != nil {
			return err
		}
	}
	same, err := fsutil.SameContent(p, data)
	if err != nil {
		return err
	}
	if same {
		return in.enforce(f.path, fi, f.mode, 0, 0)
	}
	if exists && !in.m.owns(f.path) {
		// Replaced, not created: uninstall leaves it (with our content).
		om, ou, og := statMode(fi)
		if om != f.mode || ou != 0 || og != 0 {
			in.m.add(entry{op: "chmod", path: f.path, mode: om, uid: ou, gid: og})
		}
	}
	verb, suffix := "installed", ""
	if exists {
		verb = "updated"
	}
	if f.lib {
		version, err := in.e.swapLibrary(p, f.src)
		if err != nil {
			return err
		}
		suffix = " (version " + version + ")"
	} else if err := fsutil.WriteFile(p, data, f.mode, in.e.owner()); err != nil {
		return err
	}
	if !exists && !in.m.owns(f.path) {
		e := entry{op: "file", path: f.path, mode: f.mode}
		if f.conf {
			e.op, e.sum = "conf", sha(data)
		}
		in.m.add(e)
	}
	in.note("%s %s%s", verb, f.path, suffix)
	return nil
}

// addPreload adds the library to the preload list (the last step: the
// library is in place and tried by now) and keeps the list 0644 root:root.
func (in *installer) addPreload() error {
	p := in.l.host(preloadPath)
	pf, exists, err := preloadcfg.Read(p)
	if err != nil {
		return err
	}
	lib := in.l.lib()
	if exists {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if pf.Has(lib) {
			return in.enforce(preloadPath, fi, 0o644, 0, 0)
		}
		if om, ou, og := statMode(fi); (om != 0o644 || ou != 0 || og != 0) && !in.m.owns(preloadPath) {
			in.m.add(entry{op: "chmod", path: preloadPath, mode: om, uid: ou, gid: og})
		}
	}
	if err := in.ensureDir(dirSpec{path: filepath.Dir(preloadPath), mode: 0o755}); err != nil {
		return err
	}
	pf.Add(lib)
	if err := preloadcfg.Write(p, pf, 0o644, in.e.owner()); err != nil {
		return err
	}
	if in.m.find("preload", preloadPath) == nil {
		in.m.add(entry{op: "preload", path: preloadPath, sum: lib, created: !exists})
	}
	in.note("added %s to %s", lib, preloadPath)
	return nil
}

// openInstaller reads the node's install manifest for an installer. Defer
// the returned save with the command's named error: what was created is
// recorded whatever happened (uninstall undoes it), and a manifest that
// cannot be saved is the command's error when it had none.
func openInstaller(e *env, l layout) (*installer, func(*error), error) {
	m, _, err := readManifest(l.host(manifestPath))
	if err != nil {
		return nil, nil, fmt.Errorf("%w (fix or remove it)", err)
	}
	save := func(err *error) {
		if serr := m.save(l.host(manifestPath), e.owner()); serr != nil && *err == nil {
			*err = serr
		}
	}
	return &installer{e: e, l: l, m: m}, save, nil
}
