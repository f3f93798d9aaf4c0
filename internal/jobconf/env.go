// SPDX-License-Identifier: Apache-2.0

package jobconf

import (
	"fmt"
	"strconv"
)

// AllDevices is the device ordinal of the limits that hold for every
// device, and of a device the job's CUDA cannot see.
const AllDevices = -1

// MemoryFor is the memory limit of CUDA device ord in bytes: its own key,
// else the all-device one; 0 means none.
func (c *Config) MemoryFor(ord int) uint64 {
	if v, ok := c.DeviceMemoryLimit[ord]; ok && ord >= 0 {
		return v
	}
	return c.MemoryLimit
}

// SMFor is the SM limit of CUDA device ord in percent: its own key, else
// the all-device one; 0 means none (unset, 0 and 100 all mean none).
func (c *Config) SMFor(ord int) int {
	v := 0
	if c.SMLimit != nil {
		v = *c.SMLimit
	}
	if d, ok := c.DeviceSMLimit[ord]; ok && ord >= 0 {
		v = d
	}
	if v >= 100 {
		return 0
	}
	return v
}

// FromEnv reads the limits a process's environment sets (contract 2):
// CUDA_DEVICE_MEMORY_LIMIT[_<i>] and CUDA_DEVICE_SM_LIMIT[_<i>]. set tells
// whether any is present; a bad value is an error naming the variable.
func FromEnv(getenv func(string) string) (c *Config, set bool, err error) {
	c = &Config{}
	keys := []string{KeyMemoryLimit, KeySMLimit}
	for i := 0; i < MaxDevices; i++ {
		keys = append(keys, KeyMemoryLimit+"_"+strconv.Itoa(i), KeySMLimit+"_"+strconv.Itoa(i))
	}
	for _, k := range keys {
		v := getenv(k)
		if v == "" {
			continue
		}
		set = true
		if e := c.set(k, v); e != nil && err == nil {
			err = fmt.Errorf("environment variable %s=%q: %w", k, v, e)
		}
	}
	return c, set, err
}

// Tighten returns cfg with the limits of env applied where they are
// tighter: inside a job the environment may only lower a limit, never
// raise or remove one (contract 2). This is the Go side of that rule;
// preload/config.c is the C side.
func Tighten(cfg, env *Config) *Config {
	out := *cfg
	out.DeviceMemoryLimit = map[int]uint64{}
	out.DeviceSMLimit = map[int]int{}
	for k, v := range cfg.DeviceMemoryLimit {
		out.DeviceMemoryLimit[k] = v
	}
	for k, v := range cfg.DeviceSMLimit {
		out.DeviceSMLimit[k] = v
	}
	out.MemoryLimit = lowerMemory(cfg.MemoryLimit, env.MemoryLimit)
	sm := lowerSM(cfg.SMFor(AllDevices), env.SMFor(AllDevices))
	out.SMLimit = nil
	if sm > 0 {
		out.SMLimit = &sm
	}
	for ord := 0; ord < MaxDevices; ord++ {
		if m := lowerMemory(cfg.MemoryFor(ord), env.MemoryFor(ord)); m != out.MemoryLimit {
			out.DeviceMemoryLimit[ord] = m
		}
		if s := lowerSM(cfg.SMFor(ord), env.SMFor(ord)); s != sm {
			out.DeviceSMLimit[ord] = s
		}
	}
	return &out
}

// lowerMemory: a memory limit of v bytes (0: none) tightens cur (0: none).
func lowerMemory(cur, v uint64) uint64 {
	if v > 0 && (cur == 0 || v < cur) {
		return v
	}
	return cur
}

// lowerSM: an SM limit of v percent (0: none) tightens cur (0: none).
func lowerSM(cur, v int) int {
	if v > 0 && (cur == 0 || v < cur) {
		return v
	}
	return cur
}
