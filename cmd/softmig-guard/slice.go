// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/logrec"
)

// slice is what a job's config says about one GPU.
type slice struct {
	limit  uint64 // memory slice in bytes; valid when memory is true
	memory bool   // the job has a memory limit on this GPU
	sliced bool   // any limit (memory, SM share, time slot): the library must run
}

// jobSlices is a job's config, read once per round.
type jobSlices struct {
	conf *jobconf.Config // nil: no config (a whole-GPU job, or not a SoftMig job)
	err  error           // the config exists but is unsafe or unparsable
}

// loadSlices reads runDir/<job>.conf through jobconf.Load, the one reader,
// with its safety rules. A missing file is no config; an unsafe or broken
// one is an error (the library fails closed on it; the guard leaves it).
func loadSlices(runDir, job string) jobSlices {
	c, err := jobconf.Load(filepath.Join(runDir, job+".conf"))
	if errors.Is(err, fs.ErrNotExist) {
		return jobSlices{}
	}
	if err != nil {
		return jobSlices{err: err}
	}
	return jobSlices{conf: c}
}

// member says whether a process whose cgroup names the job is the job's:
// Slurm runs a job's processes as its user (SOFTMIG_UID), while a cgroup
// named job_<M> can also be made by any user in a subtree delegated to
// them, for a job that is not theirs.
func (s jobSlices) member(f procFacts) bool {
	return s.conf == nil || s.conf.UID == nil || f.uid == *s.conf.UID
}

// onGPU returns the job's slice on NVML device index. Limits are keyed by
// CUDA ordinal i; SOFTMIG_GPU_<i> names the GPU index of ordinal i, which
// is NVML's when gres.conf lists GPUs in PCI order (AutoDetect=nvml). A
// GPU the config does not name (no SOFTMIG_GPU_<i> keys, or another index)
// gets the largest of the job's memory limits: the job is held to a slice it
// has somewhere, never to a smaller one that may belong to another GPU.
// SOFTMIG_DISABLED (the prolog failed) is a slice of 0 bytes: the library
// gives such a job no GPU, so whatever it holds was taken around it.
func (s jobSlices) onGPU(index int) slice {
	c := s.conf
	if c == nil {
		return slice{}
	}
	if c.Disabled != "" {
		return slice{memory: true, sliced: true}
	}
	for i, idx := range c.DeviceGPU {
		if idx == index {
			return ordinalSlice(c, i)
		}
	}
	var sl slice
	for i := 0; i < jobconf.MaxDevices; i++ {
		o := ordinalSlice(c, i)
		if o.memory && (!sl.memory || o.limit > sl.limit) {
			sl.limit, sl.memory = o.limit, true
		}
		sl.sliced = sl.sliced || o.sliced
	}
	return sl
}

// ordinalSlice applies a config's per-ordinal keys over its global ones.
func ordinalSlice(c *jobconf.Config, i int) slice {
	var sl slice
	if n, ok := c.DeviceMemoryLimit[i]; ok {
		sl.limit, sl.memory = n, true
	} else if c.MemoryLimit != 0 {
		sl.limit, sl.memory = c.MemoryLimit, true
	}
	sm := 0
	if c.SMLimit != nil {
		sm = *c.SMLimit
	}
	if n, ok := c.DeviceSMLimit[i]; ok {
		sm = n
	}
	slot := len(c.SMSlot) > 0
	if s, ok := c.DeviceSMSlot[i]; ok {
		slot = len(s) > 0
	}
	sl.sliced = sl.memory || (sm > 0 && sm < 100) || slot
	return sl
}

// ordinal is the job's CUDA ordinal of NVML device index (SOFTMIG_GPU_<i>),
// or logrec.NoDev when the config does not say.
func (s jobSlices) ordinal(index int) int {
	if s.conf != nil {
		for i, idx := range s.conf.DeviceGPU {
			if idx == index {
				return i
			}
		}
	}
	return logrec.NoDev
}
