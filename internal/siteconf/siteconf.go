// SPDX-License-Identifier: Apache-2.0

// Package siteconf reads the site config /etc/softmig/softmig.yaml
// (softmig.yaml(5)): the GPU types a node slices (shards per GPU, memory,
// allowed slices), the slice policy and the few paths the tools run. Every
// SoftMig tool reads it through Load, named by the same --config flag (Flag).
//
// Problems are of two kinds. A problem in a vital key (gpus, policy,
// paths.scontrol, a moved run or log directory) changes the limits a job
// gets, so it is an error: the prolog fails GPU jobs closed. A problem in
// any other key (an unknown top-level section, an unknown or bad key under
// paths: such as paths.nvidia_smi_real) is a warning: jobs keep their
// slices, `softmig-conf check` still exits non-zero. Each problem names the
// file, the line and the fix.
package siteconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// DefaultPath is where every tool looks for the site config.
const DefaultPath = "/etc/softmig/softmig.yaml"

// Flag is the --config flag of every SoftMig tool (embed it in the kong CLI).
type Flag struct {
	Config string `name:"config" default:"/etc/softmig/softmig.yaml" placeholder:"FILE" help:"Site config (see softmig.yaml(5))."`
}

// Load reads the site config named by the flag; see Load.
func (f Flag) Load() (*Config, error) { return Load(f.Config) }

// Policy values for SMLimit.
const (
	SMFraction = "fraction" // SM limit = the slice's fraction of the GPU x 100
	SMNone     = "none"     // no compute limit, memory only
)

// MaxShards bounds shards per GPU.
const MaxShards = 128

// ErrInvalid is wrapped by every error about the content of a site config.
var ErrInvalid = errors.New("invalid site config")

// Config is a site config.
type Config struct {
	GPUs       map[string]GPU
	Policy     Policy
	Partitions map[string]Partition // by Slurm partition name
	Paths      Paths
	SMI        SMI
	// Metrics is softmig-guard's Prometheus endpoint (metrics.go).
	Metrics Metrics
	// Warnings are the problems in keys that do not decide a job's limits,
	// one "file:line: what; fix" each. They never disable a GPU job.
	Warnings []string
	// Lines gives the line of the GPU keys ("gpus.l40s", "gpus.l40s.shards",
	// "gpus.l40s.memory"), for messages that point back into the file.
	Lines map[string]int
}

// GPU describes one GPU type (the Type= of gres.conf).
type GPU struct {
	Shards       int    // shards per GPU: gres.conf Count= of Name=shard for one GPU
	Memory       uint64 // bytes; 0 = ask NVML
	Denominators []int  // allowed <type>.<d> slices, ascending; each divides Shards
	Time         string // time policy of this type; "" = the policy's
}

// Partition is what the site config says of one Slurm partition.
type Partition struct {
	Time string // time policy of jobs in it; "" = the GPU type's or the policy's
}

// Policy is how slices turn into limits.
type Policy struct {
	SMLimit   string // SMFraction or SMNone
	OOMKiller *bool  // ACTIVE_OOM_KILLER for sliced jobs; nil = not written
	LogLevel  *int   // SOFTMIG_LOG_LEVEL; nil = not written
	Time      string // TimeCap or TimeLend (default)
}

// Time policies (policy.time, gpus.<type>.time, partitions.<name>.time):
// what softmig-guard does with the GPU time a job's share leaves.
const (
	TimeCap  = "cap"  // a job never gets more than its share, like a MIG instance
	TimeLend = "lend" // a busy job gets at least its share, and idle jobs' time
)

// TimeFor is the time policy of a job in partition on GPUs of types: the
// partition's, else cap if any type says cap, else the types' own, else
// policy.time. A job on several GPUs gets one policy.
func (c *Config) TimeFor(partition string, types []string) string {
	if p, ok := c.Partitions[partition]; ok && p.Time != "" {
		return p.Time
	}
	t := ""
	for _, typ := range types {
		switch c.GPUs[typ].Time {
		case TimeCap:
			return TimeCap
		case TimeLend:
			t = TimeLend
		}
	}
	if t != "" {
		return t
	}
	if c.Policy.Time == "" {
		return TimeLend
	}
	return c.Policy.Time
}

// Paths are the programs the tools run. The directories the library
// trusts are not here: they are fixed at build time (internal/defs).
type Paths struct {
	Scontrol      string // scontrol command (softmig-conf write)
	NvidiaSmiReal string // the real nvidia-smi (softmig-smi); "" = its default
}

// SMI is what softmig-smi shows outside a job (smi.outside_job): the whole
// GPUs as nvidia-smi does, with every job's slice, or, for users other than
// root, nothing but what it is.
type SMI struct {
	OutsideJob string // OutsideGPUs or OutsideNone
}

// Values of SMI.OutsideJob.
const (
	OutsideGPUs = "gpus"
	OutsideNone = "none"
)

// Defaults returns the paths used where the site config leaves them out.
func Defaults() Paths {
	return Paths{Scontrol: "scontrol"}
}

// Allowed reports whether <type>.<d> is an allowed slice of this GPU type.
func (g GPU) Allowed(d int) bool {
	for _, a := range g.Denominators {
		if a == d {
			return true
		}
	}
	return false
}

// Load reads the site config at path. The error joins the vital problems
// (each wrapping ErrInvalid); warnings are in Config.Warnings. The Config
// is returned whenever the file is YAML, even with vital problems, so that
// a tool that needs only a sound key (softmig-smi) can go on; a tool that
// sets limits must not use it when the error is not nil.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("site config %q does not exist: create it (see softmig.yaml(5), or slurm/softmig.yaml in the SoftMig sources): %w", path, err)
		}
		return nil, err
	}
	return Parse(bytes.NewReader(data), path)
}

// Parse reads a site config; name is used in messages. See Load.
func Parse(r io.Reader, name string) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	p := &parser{name: name}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		p.syntax(err)
		return nil, errors.Join(p.errs...)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		p.decodeErrors(err)
	}
	c := p.check(&f, &root)
	c.Warnings = p.warnings
	return c, errors.Join(p.errs...)
}
