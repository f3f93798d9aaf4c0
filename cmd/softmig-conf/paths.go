// SPDX-License-Identifier: Apache-2.0

// paths: the directories built in, and where a job's files lie in them.

package main

import (
	"fmt"
	"regexp"

	"github.com/softmig/softmig/internal/jobpath"
	"github.com/softmig/softmig/internal/siteconf"
)

type pathsCmd struct{}

var reJobID = regexp.MustCompile(`^[0-9]+(_[0-9]+)?$`)

func checkJobID(id string) error {
	if !reJobID.MatchString(id) {
		return fmt.Errorf("job id %q: want digits, or <jobid>_<taskid> (is SLURM_JOB_ID set?)", id)
	}
	return nil
}

// hostPaths are where softmig-conf reads and writes.
type hostPaths struct {
	RunDir, RegionDir, LogDir, Scontrol string
}

// paths returns the site config (with the error joining its vital
// problems) and the paths to use: the build-time directories, and
// scontrol from the flag over the site config over the default.
func (a *app) paths() (*siteconf.Config, hostPaths, error) {
	site, err := a.cli.Load()
	p := a.dirs()
	if site != nil && err == nil {
		p.Scontrol = site.Paths.Scontrol
	}
	if a.cli.Scontrol != "" {
		p.Scontrol = a.cli.Scontrol
	}
	return site, p, err
}

// dirs are the paths without the site config: the built-in directories.
func (a *app) dirs() hostPaths {
	return hostPaths{RunDir: a.runDir, RegionDir: a.runDir, LogDir: a.logDir, Scontrol: siteconf.Defaults().Scontrol}
}

func confPath(p hostPaths, id string) string   { return jobpath.Conf(p.RunDir, id) }
func regionPath(p hostPaths, id string) string { return jobpath.Region(p.RegionDir, id) }
func logPath(p hostPaths, id string) string    { return jobpath.Log(p.LogDir, id) }

// printPaths prints the directories the library trusts, built in.
func (a *app) printPaths() error {
	fmt.Fprintf(a.stdout, "run_dir=%s\nlog_dir=%s\n", a.runDir, a.logDir)
	return nil
}
