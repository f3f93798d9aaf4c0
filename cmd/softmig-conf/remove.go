// SPDX-License-Identifier: Apache-2.0

// remove: the epilog's command, which removes a job's config and region.

package main

import (
	"errors"

	"github.com/softmig/softmig/internal/jobconf"
)

type removeCmd struct {
	JobID string `arg:"" name:"jobid" help:"Job id."`
}

func (a *app) removeFiles(paths hostPaths, id string) error {
	return errors.Join(jobconf.Remove(confPath(paths, id)), jobconf.Remove(regionPath(paths, id)))
}

func (a *app) remove(id string) error {
	if err := checkJobID(id); err != nil {
		return err
	}
	// The directories are built in: remove needs no site config.
	return a.removeFiles(a.dirs(), id)
}
