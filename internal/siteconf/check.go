// SPDX-License-Identifier: Apache-2.0

package siteconf

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/fsutil"
	"github.com/softmig/softmig/internal/size"
)

// The file layout, decoded with KnownFields; leaves stay nodes so that
// every check can name its line.
type file struct {
	GPUs       map[string]fileGPU       `yaml:"gpus"`
	Policy     filePolicy               `yaml:"policy"`
	Partitions map[string]filePartition `yaml:"partitions"`
	Paths      filePaths                `yaml:"paths"`
	SMI        fileSMI                  `yaml:"smi"`
	Metrics    fileMetrics              `yaml:"metrics"`
}

type fileSMI struct {
	OutsideJob yaml.Node `yaml:"outside_job"`
}

type fileGPU struct {
	Shards       yaml.Node `yaml:"shards"`
	Memory       yaml.Node `yaml:"memory"`
	Denominators yaml.Node `yaml:"denominators"`
	Time         yaml.Node `yaml:"time"`
}

type filePolicy struct {
	SMLimit   yaml.Node `yaml:"sm_limit"`
	OOMKiller yaml.Node `yaml:"oom_killer"`
	LogLevel  yaml.Node `yaml:"log_level"`
	Time      yaml.Node `yaml:"time"`
}

type filePartition struct {
	Time yaml.Node `yaml:"time"`
}

type filePaths struct {
	Scontrol      yaml.Node `yaml:"scontrol"`
	NvidiaSmiReal yaml.Node `yaml:"nvidia_smi_real"`
	// Fixed at build time: accepted only when they name the built-in
	// directory, refused otherwise (the library would not read there).
	RunDir    yaml.Node `yaml:"run_dir"`
	RegionDir yaml.Node `yaml:"region_dir"`
	LogDir    yaml.Node `yaml:"log_dir"`
}

// sections names each decoded type: its keys and whether a problem in it
// is vital (it decides a job's limits).
var sections = map[string]struct {
	keys  string
	vital bool
}{
	"siteconf.file":          {"gpus, policy, partitions, paths, smi, metrics", false},
	"siteconf.fileGPU":       {"shards, memory, denominators, time", true},
	"siteconf.filePolicy":    {"sm_limit, oom_killer, log_level, time", true},
	"siteconf.filePartition": {"time", true},
	"siteconf.filePaths":     {"scontrol, nvidia_smi_real", false},
	"siteconf.fileSMI":       {"outside_job", false},
	"siteconf.fileMetrics":   {"enabled, listen", false},
}

type parser struct {
	name     string
	errs     []error
	warnings []string
}

// vital records a problem that decides a job's limits.
func (p *parser) vital(line int, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%w: %s:%d: %s", ErrInvalid, p.name, line, fmt.Sprintf(format, args...)))
}

// warn records a problem that leaves every job's limits as they are.
func (p *parser) warn(line int, format string, args ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf("%s:%d: %s", p.name, line, fmt.Sprintf(format, args...)))
}

func (p *parser) problem(vital bool, line int, format string, args ...any) {
	if vital {
		p.vital(line, format, args...)
	} else {
		p.warn(line, format, args...)
	}
}

var reTypeName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (p *parser) check(f *file, root *yaml.Node) *Config {
	c := &Config{GPUs: map[string]GPU{}, Paths: Defaults(), Metrics: DefaultMetrics(), Lines: map[string]int{}}
	gpusLine := 1
	if n := lookup(root, "gpus"); n != nil {
		gpusLine = n.Line
	}
	if len(f.GPUs) == 0 {
		p.vital(gpusLine, "no GPU types: add one under gpus:, e.g. \"gpus:\\n  l40s:\\n    shards: 4\"")
	}
	names := make([]string, 0, len(f.GPUs))
	for name := range f.GPUs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		line := gpusLine
		if k := lookupKey(root, "gpus", name); k != nil {
			line = k.Line
		}
		if !reTypeName.MatchString(name) {
			p.vital(line, "GPU type %q: use the Type= of gres.conf: letters, digits, '_' and '-' only (a '.' separates the slice, as in l40s.4)", name)
			continue
		}
		fg := f.GPUs[name]
		c.GPUs[name] = p.gpu(name, fg, line)
		c.Lines["gpus."+name] = line
		for k, n := range map[string]*yaml.Node{"shards": &fg.Shards, "memory": &fg.Memory} {
			if n.Line > 0 {
				c.Lines["gpus."+name+"."+k] = n.Line
			}
		}
	}
	c.Policy = p.policy(&f.Policy)
	for _, name := range names {
		if g, ok := c.GPUs[name]; ok {
			fg := f.GPUs[name]
			g.Time = p.time(&fg.Time, "gpus."+name+".time")
			c.GPUs[name] = g
		}
	}
	c.Partitions = map[string]Partition{}
	for name, fp := range f.Partitions {
		fp := fp
		c.Partitions[name] = Partition{Time: p.time(&fp.Time, "partitions."+name+".time")}
	}
	p.paths(&f.Paths, &c.Paths)
	c.SMI = p.smi(&f.SMI)
	c.Metrics = p.metrics(&f.Metrics)
	return c
}

// time reads a time policy key: "" when absent.
func (p *parser) time(n *yaml.Node, key string) string {
	if n.Kind == 0 {
		return ""
	}
	switch v := scalar(n); v {
	case TimeCap, TimeLend:
		return v
	default:
		p.vital(n.Line, "%s: %q: use %q (a job never gets more than its share, like MIG) or %q (time idle jobs leave goes to busy ones)", key, v, TimeCap, TimeLend)
		return ""
	}
}

// smi reads what softmig-smi shows outside a job; a mistake only warns.
func (p *parser) smi(fs *fileSMI) SMI {
	s := SMI{OutsideJob: OutsideGPUs}
	if fs.OutsideJob.Kind != 0 {
		switch v := scalar(&fs.OutsideJob); v {
		case OutsideGPUs, OutsideNone:
			s.OutsideJob = v
		default:
			p.warn(fs.OutsideJob.Line, "smi.outside_job: %q: use %q (nvidia-smi's view of the whole GPUs and every slice) or %q (nothing for users outside a job); softmig-smi uses %q", v, OutsideGPUs, OutsideNone, OutsideGPUs)
		}
	}
	return s
}

func (p *parser) gpu(name string, fg fileGPU, line int) GPU {
	var g GPU
	key := "gpus." + name
	if fg.Shards.Kind == 0 {
		p.vital(line, "%s: shards missing: add \"shards: 4\" (the Count= of Name=shard Type=%s per GPU in gres.conf)", key, name)
	} else if n, ok := p.integer(&fg.Shards, key+".shards", 1, MaxShards); ok {
		g.Shards = n
	}
	if fg.Memory.Kind != 0 {
		n, err := size.Parse(scalar(&fg.Memory))
		switch {
		case fg.Memory.Kind != yaml.ScalarNode || err != nil:
			p.vital(fg.Memory.Line, "%s.memory: %q is not a size: write it like 46068M or 45g, or leave it out to use what NVML reports", key, scalar(&fg.Memory))
		case n == 0:
			p.vital(fg.Memory.Line, "%s.memory: must be greater than 0 (or leave it out to use what NVML reports)", key)
		default:
			g.Memory = n
		}
	}
	if fg.Denominators.Kind == 0 {
		for d := 2; d <= g.Shards; d++ {
			if g.Shards%d == 0 {
				g.Denominators = append(g.Denominators, d)
			}
		}
		return g
	}
	if fg.Denominators.Kind != yaml.SequenceNode {
		p.vital(fg.Denominators.Line, "%s.denominators: want a list such as [2, 4]", key)
		return g
	}
	seen := map[int]bool{}
	for _, dn := range fg.Denominators.Content {
		d, ok := p.integer(dn, key+".denominators", 2, MaxShards)
		switch {
		case !ok:
		case seen[d]:
			p.vital(dn.Line, "%s.denominators: %d given twice", key, d)
		case g.Shards > 0 && g.Shards%d != 0:
			p.vital(dn.Line, "%s.denominators: %s.%d cannot be served by %d shards per GPU (1/%d of %d shards is not whole); remove %d or make shards a multiple of it", key, name, d, g.Shards, d, g.Shards, d)
		default:
			seen[d] = true
			g.Denominators = append(g.Denominators, d)
		}
	}
	sort.Ints(g.Denominators)
	return g
}

func (p *parser) policy(fp *filePolicy) Policy {
	pol := Policy{SMLimit: SMFraction}
	if fp.SMLimit.Kind != 0 {
		switch v := scalar(&fp.SMLimit); v {
		case SMFraction, SMNone:
			pol.SMLimit = v
		default:
			p.vital(fp.SMLimit.Line, "policy.sm_limit: %q: use %q (SM limit = the slice's share x 100) or %q (memory limit only)", v, SMFraction, SMNone)
		}
	}
	if fp.OOMKiller.Kind != 0 {
		var b bool
		if err := fp.OOMKiller.Decode(&b); err != nil || fp.OOMKiller.Tag != "!!bool" {
			p.vital(fp.OOMKiller.Line, "policy.oom_killer: %q: use true or false", scalar(&fp.OOMKiller))
		} else {
			pol.OOMKiller = &b
		}
	}
	if fp.LogLevel.Kind != 0 {
		if n, ok := p.integer(&fp.LogLevel, "policy.log_level", 0, 4); ok {
			pol.LogLevel = &n
		}
	}
	pol.Time = TimeLend
	if t := p.time(&fp.Time, "policy.time"); t != "" {
		pol.Time = t
	}
	return pol
}

func (p *parser) paths(fp *filePaths, out *Paths) {
	// The directories the library trusts are compiled into it. A site
	// config that names another one would have the prolog write where the
	// library never reads, and jobs run without their slice: vital.
	for _, e := range []struct {
		n        *yaml.Node
		key, dir string
		make     string
	}{
		{&fp.RunDir, "paths.run_dir", defs.RunDir(), "RUNDIR"},
		{&fp.RegionDir, "paths.region_dir", defs.RunDir(), "RUNDIR"},
		{&fp.LogDir, "paths.log_dir", defs.LogDir(), "LOGDIR"},
	} {
		if e.n.Kind == 0 {
			continue
		}
		// Judged by what it is: /var/run/softmig is /run/softmig.
		if v := scalar(e.n); filepath.Clean(v) == e.dir {
			p.warn(e.n.Line, "%s: %s is the built-in directory, this key is not needed: remove it", e.key, v)
		} else if fsutil.SamePath(v, e.dir) {
			p.warn(e.n.Line, "%s: %s is the built-in directory (%s), this key is not needed: remove it", e.key, v, e.dir)
		} else {
			p.vital(e.n.Line, "%s: %q: this directory is set at build time (%s here), where the library looks; remove the key, or rebuild SoftMig with make %s=%s and reinstall", e.key, v, e.dir, e.make, v)
		}
	}
	if fp.Scontrol.Kind != 0 {
		v := scalar(&fp.Scontrol)
		if fp.Scontrol.Kind != yaml.ScalarNode || v == "" || (strings.Contains(v, "/") && !filepath.IsAbs(v)) {
			p.vital(fp.Scontrol.Line, "paths.scontrol: %q: give a command name (scontrol) or an absolute path", v)
		} else {
			out.Scontrol = v
		}
	}
	if fp.NvidiaSmiReal.Kind != 0 {
		v := scalar(&fp.NvidiaSmiReal)
		if fp.NvidiaSmiReal.Kind != yaml.ScalarNode || !filepath.IsAbs(v) || filepath.Clean(v) != v {
			p.warn(fp.NvidiaSmiReal.Line, "paths.nvidia_smi_real: %q is not a clean absolute path, e.g. /usr/bin/nvidia-smi.real; softmig-smi uses its default", v)
		} else {
			out.NvidiaSmiReal = v
		}
	}
}

func (p *parser) integer(n *yaml.Node, key string, lo, hi int) (int, bool) {
	v, err := strconv.Atoi(scalar(n))
	if n.Kind != yaml.ScalarNode || err != nil || v < lo || v > hi {
		p.vital(n.Line, "%s: %q is not a whole number from %d to %d", key, scalar(n), lo, hi)
		return 0, false
	}
	return v, true
}

func scalar(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return fmt.Sprintf("<%s>", kindName(n.Kind))
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// lookup returns the value node at a path of mapping keys below the document.
func lookup(root *yaml.Node, keys ...string) *yaml.Node {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// lookupKey returns the key node named key in the mapping at parent.
func lookupKey(root *yaml.Node, parent, key string) *yaml.Node {
	m := lookup(root, parent)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}
