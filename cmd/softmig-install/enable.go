// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"

	"github.com/softmig/softmig/internal/elfcheck"
	"github.com/softmig/softmig/internal/libprobe"
)

// enableCmd switches SoftMig on where a package (or install --no-preload)
// put the files: the directories the library needs, then the preload line.
// A package never does this by itself; the admin runs it once per node.
type enableCmd struct {
	Smi string `placeholder:"PATH" help:"softmig-smi on the node, linked as /usr/local/bin/nvidia-smi (default: the one beside this program)."`
}

func (c *enableCmd) Run(e *env, g *cli) (err error) {
	l, err := g.layout()
	if err != nil {
		return err
	}
	if err := e.needRoot(l, "enable"); err != nil {
		return err
	}
	lib := l.host(l.lib())
	if err := elfcheck.Check(lib, libprobe.Symbol); err != nil {
		return fmt.Errorf("refusing %s: %w; install the package (or softmig-install install) first; nothing was changed", l.lib(), err)
	}
	if _, err := e.trial(lib); err != nil {
		return fmt.Errorf("refusing %q: %w; nothing was changed", lib, err)
	}
	unlock, err := lockRoot(l.root)
	if err != nil {
		return err
	}
	defer unlock()
	in, save, err := openInstaller(e, l)
	if err != nil {
		return err
	}
	defer save(&err)
	dirs, err := coreDirs(l)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := in.ensureDir(d); err != nil {
			return err
		}
	}
	smi := c.Smi
	if smi == "" {
		smi = e.besideSelf(l)
	}
	if smi != "" {
		if err := in.linkSmi(smi); err != nil {
			return err
		}
	}
	if err := in.addPreload(); err != nil {
		return err
	}
	if in.changed == 0 {
		e.say("softmig-install: already enabled below %s", l.root)
	}
	return nil
}
