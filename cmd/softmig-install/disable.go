package main

import (
	"os"

	"github.com/softmig/softmig/internal/preloadcfg"
)

// disableCmd switches SoftMig off: new processes no longer map the library,
// and nvidia-smi is the driver's again. Files, logs and job configs stay;
// enable switches it on again.
type disableCmd struct{}

func (c *disableCmd) Run(e *env, g *cli) error {
	l, err := g.layout()
	if err != nil {
		return err
	}
	if err := e.needRoot(l, "disable"); err != nil {
		return err
	}
	unlock, err := lockRoot(l.root)
	if err != nil {
		return err
	}
	defer unlock()
	if m, _, err := readManifest(l.host(manifestPath)); err == nil {
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
	if err := preloadcfg.Write(p, pf, mode, owner); err != nil {
		return err
	}
	e.say("removed %s from %s: new processes run without SoftMig", l.lib(), preloadPath)
	return nil
}
