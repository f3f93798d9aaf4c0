// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"

	"github.com/softmig/softmig/internal/preloadcfg"
)

// disableCmd switches SoftMig off: new processes no longer map the library,
// and nvidia-smi is the driver's again. Files, logs and job configs stay;
// enable switches it on again. A package's removal step runs it with
// --for-removal, which first refuses while Slurm runs SoftMig's scripts.
type disableCmd struct {
	ForRemoval bool   `name:"for-removal" help:"The package's removal step: refuse (exit 1, nothing changed) while this node's slurm.conf runs SoftMig's scripts, then disable."`
	Prefix     string `placeholder:"DIR" help:"With --for-removal: the prefix of the Slurm scripts to look for (default: the one this program runs from)."`
}

func (c *disableCmd) Run(e *env, g *cli) error {
	l, err := g.layout()
	if err != nil {
		return err
	}
	if err := e.needRoot(l, "disable"); err != nil {
		return err
	}
	if c.ForRemoval {
		if err := e.checkRemovable(l, e.prefixOr(c.Prefix, l)); err != nil {
			return err
		}
	}
	unlock, err := lockRoot(l.root)
	if err != nil {
		return err
	}
	defer unlock()
	createdList := false // enable created the preload list
	if m, _, err := readManifest(l.host(manifestPath)); err == nil {
		if en := m.find("preload", preloadPath); en != nil {
			createdList = en.created
		}
		if en := m.find("link", smiLink); en != nil {
			if removed, err := unlinkSmi(l, en.sum); err != nil {
				return err
			} else if removed {
				e.say("removed %s: nvidia-smi is the driver's again", smiLink)
			}
		}
	}
	p := l.host(preloadPath)
	pf, exists, err := preloadcfg.Read(p)
	if err != nil {
		return err
	}
	if !exists || !pf.Remove(l.lib()) {
		e.say("softmig-install: %s does not list %s: already disabled", preloadPath, l.lib())
		return nil
	}
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	mode, uid, gid := statMode(fi)
	owner := e.owner()
	if owner != nil {
		owner.UID, owner.GID = uid, gid
	}
	// A list enable created and that is empty now goes: the node is as
	// it was before enable.
	if createdList && pf.Empty() {
		if err := os.Remove(p); err != nil {
			return err
		}
		e.say("removed %s (enable created it; it lists nothing else): new processes run without SoftMig", preloadPath)
		return nil
	}
	if err := preloadcfg.Write(p, pf, mode, owner); err != nil {
		return err
	}
	e.say("removed %s from %s: new processes run without SoftMig", l.lib(), preloadPath)
	return nil
}
