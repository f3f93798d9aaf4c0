// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/softmig/softmig/internal/preloadcfg"
)

type uninstallCmd struct{}

func (c *uninstallCmd) Run(e *env, g *cli) error {
	l, err := g.layout()
	if err != nil {
		return err
	}
	if err := e.needRoot(l, "uninstall"); err != nil {
		return err
	}
	unlock, err := lockRoot(l.root)
	if err != nil {
		return err
	}
	defer unlock()
	mp := l.host(manifestPath)
	m, exists, err := readManifest(mp)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("no manifest at %q: nothing recorded to uninstall (install with softmig-install, or follow docs/install-manual.md backwards)", mp)
	}
	// Undo in reverse: the preload line goes first, so no new process looks
	// for the library once it is gone.
	for i := len(m.entries) - 1; i >= 0; i-- {
		if err := e.undo(l, m.entries[i], mp); err != nil {
			// Keep what is left to undo, so that a second run finishes the job.
			m.entries, m.dirty = m.entries[:i+1], true
			if _, serr := os.Stat(filepath.Dir(mp)); serr == nil {
				if serr := m.save(mp, e.owner()); serr != nil {
					err = errors.Join(err, serr)
				}
			}
			return err
		}
	}
	if err := os.Remove(mp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	e.say("softmig-install: uninstalled from %s", l.root)
	return nil
}

func (e *env) undo(l layout, en entry, manifest string) error {
	p := l.host(en.path)
	switch en.op {
	case "preload":
		pf, exists, err := preloadcfg.Read(p)
		if err != nil || !exists {
			return err
		}
		if pf.Remove(en.sum) {
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			mode, uid, gid := statMode(fi)
			owner := e.owner()
			if owner != nil {
				owner.UID, owner.GID = uid, gid
			}
			if err := preloadcfg.Write(p, pf, mode, owner); err != nil {
				return err
			}
			e.say("removed %s from %s", en.sum, en.path)
		}
		if en.created && pf.Empty() {
			if err := os.Remove(p); err != nil {
				return err
			}
			e.say("removed %s", en.path)
		}
	case "conf":
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if sha(data) != en.sum {
			e.say("kept %s (edited since install)", en.path)
			return nil
		}
		return e.remove(p, en.path)
	case "file":
		return e.remove(p, en.path)
	case "link":
		if removed, err := unlinkSmi(l, en.sum); err != nil || !removed {
			return err
		}
		e.say("removed %s", en.path)
	case "chmod":
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if e.euid == 0 {
			if err := os.Lchown(p, en.uid, en.gid); err != nil {
				return fmt.Errorf("chown %q: %w", p, err)
			}
		}
		if err := os.Chmod(p, fileMode(en.mode)); err != nil {
			return fmt.Errorf("chmod %q: %w", p, err)
		}
		e.say("restored %s to %s", en.path, describe(l.root, en.mode, en.uid, en.gid))
	case "mkdir":
		if filepath.Dir(manifest) == p {
			if err := os.Remove(manifest); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		err := syscall.Rmdir(p)
		switch {
		case err == nil:
			e.say("removed %s/", en.path)
		case errors.Is(err, syscall.ENOENT):
		case errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST):
			e.say("kept %s/ (not empty)", en.path)
		default:
			return fmt.Errorf("remove %q: %w", p, err)
		}
	}
	return nil
}

func (e *env) remove(p, nodePath string) error {
	err := os.Remove(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	e.say("removed %s", nodePath)
	return nil
}
