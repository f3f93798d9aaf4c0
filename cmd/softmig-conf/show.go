// SPDX-License-Identifier: Apache-2.0

// show: check and print one job's config and its time slots.

package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/softmig/softmig/internal/jobconf"
)

type showCmd struct {
	JSON  bool   `name:"json" help:"Print the config as the library reads it, as one JSON object."`
	JobID string `arg:"" name:"jobid" help:"Job id."`
}

func (a *app) show(id string) error {
	if err := checkJobID(id); err != nil {
		return err
	}
	paths := a.dirs()
	path := confPath(paths, id)
	c, err := jobconf.Load(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no config for job %s at %s: its processes run without SoftMig limits (unless set in their environment)", id, path)
	}
	if err != nil {
		return fmt.Errorf("%w: the library refuses the GPU to this job", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "# %s (root-owned, safe)\n", path)
	a.stdout.Write(raw)
	if c.Disabled != "" {
		fmt.Fprintf(a.stdout, "# status: GPU disabled for this job: %s\n", c.Disabled)
	}
	a.showSlots(c, paths.RunDir, id)
	if c.Region != "" {
		if fi, err := os.Lstat(c.Region); err != nil {
			fmt.Fprintf(a.stdout, "# region: %v\n", err)
		} else {
			fmt.Fprintf(a.stdout, "# region: %s, %d bytes, %v\n", c.Region, fi.Size(), fi.Mode())
		}
	}
	return nil
}

// showSlots prints the time slots of job id's config c and warns of a slot
// that strays from the SM limit or overlaps another job's on its GPU.
func (a *app) showSlots(c *jobconf.Config, runDir, id string) {
	var warnings []string
	held := heldSlots(runDir, id, io.Discard)
	for _, o := range sortedOrds(c.DeviceGPU) {
		gpu := c.DeviceGPU[o]
		s := c.SlotFor(o)
		if len(s) == 0 {
			fmt.Fprintf(a.stdout, "# CUDA device %d = GPU %d: no time slot\n", o, gpu)
			continue
		}
		fmt.Fprintf(a.stdout, "# CUDA device %d = GPU %d: time slot %s (%d%% of the period)\n", o, gpu, s, s.Len())
		for _, h := range held[gpu] {
			if overlap(s, h.slot) {
				warnings = append(warnings, fmt.Sprintf("GPU %d: overlaps job %s's time slot %s", gpu, h.job, h.slot))
			}
		}
	}
	for _, w := range append(slotWarnings(c), warnings...) {
		fmt.Fprintf(a.stdout, "# warning: %s\n", w)
	}
}

// checkSlots prints the time slots the configs in runDir hold and warns,
// on stderr, of overlapping slots and of slots that stray from their SM

func sortedOrds[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
