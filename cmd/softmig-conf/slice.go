// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"math/bits"
	"sort"
	"strconv"
	"strings"

	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/siteconf"
	"github.com/softmig/softmig/internal/size"
	"github.com/softmig/softmig/internal/slurm"
)

// device is one GPU of the job on this node.
type device struct {
	Index  int    // Slurm's GPU index (IDX)
	Type   string // GRES type
	Whole  bool   // a whole GPU: no limit
	Shards uint64 // shards held on this GPU when not whole
	PerGPU int    // shards per GPU of its type; set by limits for a sliced GPU
}

// memoryFunc returns the total memory of GPU index (Slurm's IDX).
type memoryFunc func(index int) (uint64, error)

// devices turns the job's GRES on this node into its GPUs, in the order of
// order (SLURM_JOB_GPUS, which is how CUDA_VISIBLE_DEVICES lists them), or
// ascending when order is empty. A shard allocation that Slurm spread over
// several GPUs cannot be attributed and is an error.
func devices(gres []slurm.Gres, order []int) ([]device, error) {
	byIndex := map[int]*device{}
	get := func(i int, typ string) *device {
		d := byIndex[i]
		if d == nil {
			d = &device{Index: i, Type: typ}
			byIndex[i] = d
		}
		if d.Type == "" {
			d.Type = typ
		}
		return d
	}
	for _, g := range gres {
		switch g.Name {
		case "gpu":
			if g.Indices == nil && g.Count > 0 {
				return nil, fmt.Errorf("the allocation %s from Slurm has no GPU indices", gresString(g))
			}
			for _, i := range g.Indices {
				get(i, g.Type).Whole = true
			}
		case "shard":
			if g.Count == 0 {
				continue
			}
			if len(g.Indices) != 1 {
				return nil, fmt.Errorf("the allocation %s from Slurm: shards spread over GPUs %v cannot be attributed to one GPU (keep Slurm's default of one GPU per job's shards)", gresString(g), g.Indices)
			}
			d := get(g.Indices[0], g.Type)
			if d.Type != g.Type && g.Type != "" {
				return nil, fmt.Errorf("GPU %d holds shards of two types (%s and %s)", d.Index, d.Type, g.Type)
			}
			d.Shards += g.Count
		}
	}
	var out []device
	if len(order) == 0 {
		for _, d := range byIndex {
			out = append(out, *d)
		}
		sort.Slice(out, func(a, b int) bool { return out[a].Index < out[b].Index })
		return out, nil
	}
	for _, i := range order {
		d := byIndex[i]
		if d == nil {
			return nil, fmt.Errorf("SLURM_JOB_GPUS lists GPU %d, which is not in the job's allocation %s", i, gresList(gres))
		}
		out = append(out, *d)
	}
	if len(out) != len(byIndex) {
		return nil, fmt.Errorf("SLURM_JOB_GPUS %v does not list every GPU of the allocation %s", order, gresList(gres))
	}
	return out, nil
}

func gresString(g slurm.Gres) string {
	s := g.Name
	if g.Type != "" {
		s += ":" + g.Type
	}
	s += ":" + strconv.FormatUint(g.Count, 10)
	if g.Indices != nil {
		var idx []string
		for _, i := range g.Indices {
			idx = append(idx, strconv.Itoa(i))
		}
		s += "(IDX:" + strings.Join(idx, ",") + ")"
	}
	return s
}

func gresList(gres []slurm.Gres) string {
	var s []string
	for _, g := range gres {
		s = append(s, gresString(g))
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ",")
}

// parseOrder parses SLURM_JOB_GPUS ("0,1,3"); "" gives nil.
func parseOrder(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 || seen[n] {
			return nil, fmt.Errorf("SLURM_JOB_GPUS=%q is not a list of distinct GPU indices", s)
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

// fraction returns total*num/den without overflow, rounded down.
func fraction(total, num, den uint64) uint64 {
	hi, lo := bits.Mul64(total, num)
	if hi >= den {
		return ^uint64(0)
	}
	q, _ := bits.Div64(hi, lo, den)
	return q
}

// limits computes the job config's limits for devs: a sliced GPU gets
// shards/shards-per-GPU of its memory and, by policy, the same share of
// SM time; a whole GPU gets no limit. Notes describe each GPU for the
// config's header. limits also records each sliced GPU's shards per GPU
// in devs[i].PerGPU, for its time slot.
func limits(site *siteconf.Config, devs []device, mem memoryFunc) (*jobconf.Config, []string, error) {
	c := &jobconf.Config{}
	var notes []string
	sliced := 0
	for ord, d := range devs {
		if d.Whole {
			notes = append(notes, fmt.Sprintf("CUDA device %d = GPU %d (%s): whole GPU, no limit", ord, d.Index, orDash(d.Type)))
			continue
		}
		typ := d.Type
		if typ == "" {
			if len(site.GPUs) != 1 {
				return nil, nil, fmt.Errorf("GPU %d has untyped shards and the site config has %d GPU types: give the shards a Type= in gres.conf and slurm.conf", d.Index, len(site.GPUs))
			}
			for t := range site.GPUs {
				typ = t
			}
		}
		g, ok := site.GPUs[typ]
		if !ok {
			return nil, nil, fmt.Errorf("GPU type %q (GPU %d) is not in the site config: add gpus.%s with its shards per GPU", typ, d.Index, typ)
		}
		if d.Shards > uint64(g.Shards) {
			return nil, nil, fmt.Errorf("the job holds %d shards of GPU %d but the site config says a %s has %d: make gpus.%s.shards match the Count= of gres.conf", d.Shards, d.Index, typ, g.Shards, typ)
		}
		total := g.Memory
		if total == 0 {
			m, err := mem(d.Index)
			if err != nil {
				return nil, nil, fmt.Errorf("memory of GPU %d (%s) is not in the site config and NVML cannot tell it (%w): set gpus.%s.memory", d.Index, typ, err, typ)
			}
			total = m
		}
		devs[ord].PerGPU = g.Shards
		lim := fraction(total, d.Shards, uint64(g.Shards))
		if c.DeviceMemoryLimit == nil {
			c.DeviceMemoryLimit = map[int]uint64{}
		}
		c.DeviceMemoryLimit[ord] = lim
		if c.DeviceSlice == nil {
			c.DeviceSlice = map[int]string{}
		}
		c.DeviceSlice[ord] = sliceName(typ, d.Shards, uint64(g.Shards))
		sm := ""
		if site.Policy.SMLimit == siteconf.SMFraction {
			pct := smPercent(d.Shards, uint64(g.Shards))
			if c.DeviceSMLimit == nil {
				c.DeviceSMLimit = map[int]int{}
			}
			c.DeviceSMLimit[ord] = pct
			sm = fmt.Sprintf(", SM %d%%", pct)
		}
		sliced++
		notes = append(notes, fmt.Sprintf("CUDA device %d = GPU %d (%s): %d of %d shards = %s of %s%s",
			ord, d.Index, typ, d.Shards, g.Shards, size.Format(lim), size.Format(total), sm))
	}
	// One value for every GPU: say it once for all devices too, so that it
	// holds whatever the job does with CUDA_VISIBLE_DEVICES.
	if sliced > 0 && sliced == len(devs) {
		if v, ok := same(c.DeviceMemoryLimit); ok {
			c.MemoryLimit = v
		}
		if v, ok := same(c.DeviceSMLimit); ok {
			c.SMLimit = &v
		}
	}
	if sliced > 0 && site.Policy.OOMKiller != nil {
		b := *site.Policy.OOMKiller
		c.ActiveOOMKiller = &b
	}
	if site.Policy.LogLevel != nil {
		n := *site.Policy.LogLevel
		c.LogLevel = &n
	}
	return c, notes, nil
}

// sliceName names a slice as users ask for it, <type>.<d> for 1/d of the
// GPU (l40s.4), or <type>:<shards>/<per GPU> when no d gives it.
func sliceName(typ string, shards, perGPU uint64) string {
	if shards > 0 && perGPU%shards == 0 {
		return fmt.Sprintf("%s.%d", typ, perGPU/shards)
	}
	return fmt.Sprintf("%s:%d/%d", typ, shards, perGPU)
}

// smPercent is the SM limit of shards of a GPU of perGPU shards: their
// share x 100, rounded down, at least 1.
func smPercent(shards, perGPU uint64) int {
	return max(1, int(100*shards/perGPU))
}

func same[V comparable](m map[int]V) (V, bool) {
	var first V
	n := 0
	for _, v := range m {
		if n > 0 && v != first {
			return first, false
		}
		first = v
		n++
	}
	return first, n > 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
