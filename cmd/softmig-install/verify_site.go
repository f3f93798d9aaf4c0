// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"os"
	"strings"

	"github.com/softmig/softmig/internal/siteconf"
)

// checkSiteConfig reads the site config as every tool does (siteconf.Load):
// a vital problem fails GPU jobs closed, so it fails the check; warnings
// (keys the prolog does not need) are listed, and pass.
func (c *checklist) checkSiteConfig(l layout, path string) {
	p := l.host(path)
	site, err := siteconf.Load(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.fail("copy the example: cp "+c.prefix+"/share/doc/softmig/examples/slurm/4-shards/softmig.yaml "+p+", then edit it: softmig.yaml(5)", "%s: missing: every GPU job would fail closed", path)
		return
	case err != nil:
		for _, e := range strings.Split(err.Error(), "\n") {
			c.fail("edit "+p+", then softmig-conf --config "+p+" check", "%s: GPU jobs fail closed: %s", path, strings.TrimPrefix(e, siteconf.ErrInvalid.Error()+": "))
		}
		return
	}
	c.ok("%s: a site config with %d GPU type(s), jobs get their slices", path, len(site.GPUs))
	for _, w := range site.Warnings {
		c.ok("%s: warning (jobs keep their slices): %s", path, w)
	}
}
