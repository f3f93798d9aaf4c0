// Package siteconf reads the site config /etc/softmig/softmig.yaml: the
// GPU types a node slices (shards per GPU, memory, allowed slices), the
// slice policy and the paths softmig-conf uses. Errors name the file, the
// line and the fix.
package siteconf

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/softmig/softmig/internal/defs"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/softmig/softmig/internal/size"
)

// DefaultPath is where softmig-conf looks for the site config.
const DefaultPath = "/etc/softmig/softmig.yaml"

// Policy values for SMLimit.
const (
	SMFraction = "fraction" // SM limit = the slice's fraction of the GPU x 100
	SMNone     = "none"     // no compute limit, memory only
)

// MaxShards bounds shards per GPU.
const MaxShards = 128

// ErrInvalid is wrapped by every error about the content of a site config.
var ErrInvalid = errors.New("invalid site config")

// Config is a checked site config.
type Config struct {
	GPUs   map[string]GPU
	Policy Policy
	Paths  Paths
}

// GPU describes one GPU type (the Type= of gres.conf).
type GPU struct {
	Shards       int    // shards per GPU: gres.conf Count= of Name=shard for one GPU
	Memory       uint64 // bytes; 0 = ask NVML
	Denominators []int  // allowed <type>.<d> slices, ascending; each divides Shards
}

// Policy is how slices turn into limits.
type Policy struct {
	SMLimit   string // SMFraction or SMNone
	OOMKiller *bool  // ACTIVE_OOM_KILLER for sliced jobs; nil = not written
	LogLevel  *int   // SOFTMIG_LOG_LEVEL; nil = not written
}

// Paths are the host paths softmig-conf uses.
type Paths struct {
	RunDir    string // job configs: <RunDir>/<jobid>.conf
	RegionDir string // shared regions: <RegionDir>/<jobid>.region
	LogDir    string // job logs: <LogDir>/<jobid>.log
	Scontrol  string // scontrol command
}

// Defaults returns the paths used where the site config leaves them out.
func Defaults() Paths {
	return Paths{RunDir: defs.RunDir(), RegionDir: defs.RunDir(), LogDir: defs.LogDir(), Scontrol: "scontrol"}
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

// The file layout, decoded with KnownFields; leaves stay nodes so that
// every check can name its line.
type file struct {
	GPUs   map[string]fileGPU `yaml:"gpus"`
	Policy filePolicy         `yaml:"policy"`
	Paths  filePaths          `yaml:"paths"`
}

type fileGPU struct {
	Shards       yaml.Node `yaml:"shards"`
	Memory       yaml.Node `yaml:"memory"`
	Denominators yaml.Node `yaml:"denominators"`
}

type filePolicy struct {
	SMLimit   yaml.Node `yaml:"sm_limit"`
	OOMKiller yaml.Node `yaml:"oom_killer"`
	LogLevel  yaml.Node `yaml:"log_level"`
}

type filePaths struct {
	RunDir    yaml.Node `yaml:"run_dir"`
	RegionDir yaml.Node `yaml:"region_dir"`
	LogDir    yaml.Node `yaml:"log_dir"`
	Scontrol  yaml.Node `yaml:"scontrol"`
}

var knownKeys = map[string]string{
	"siteconf.file":       "gpus, policy, paths",
	"siteconf.fileGPU":    "shards, memory, denominators",
	"siteconf.filePolicy": "sm_limit, oom_killer, log_level",
	"siteconf.filePaths":  "run_dir, region_dir, log_dir, scontrol",
}

// Load reads and checks the site config at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("site config %q does not exist: create it (see softmig-conf(1), or slurm/softmig.yaml in the SoftMig sources): %w", path, err)
		}
		return nil, err
	}
	return Parse(bytes.NewReader(data), path)
}

// Parse reads and checks a site config; name is used in error messages.
// All problems found are reported, one per line, as "name:line: what; fix".
func Parse(r io.Reader, name string) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	p := &parser{name: name}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, p.yamlError(err)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, p.yamlError(err)
	}
	c := p.check(&f, &root)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

type parser struct {
	name string
	errs []error
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%w: %s:%d: %s", ErrInvalid, p.name, line, fmt.Sprintf(format, args...)))
}

var (
	reUnknown = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	reType    = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
	reLine    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

// yamlError rewrites yaml.v3's messages as "name:line: what; fix".
func (p *parser) yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			if m := reUnknown.FindStringSubmatch(e); m != nil {
				line, _ := strconv.Atoi(m[1])
				p.errorf(line, "unknown key %q; known keys here: %s (check the spelling and the indentation)", m[2], knownKeys[m[3]])
			} else if m := reType.FindStringSubmatch(e); m != nil {
				line, _ := strconv.Atoi(m[1])
				what := "a mapping of keys"
				if strings.HasPrefix(m[4], "map[string]siteconf.fileGPU") {
					what = "a mapping of GPU types, e.g. \"gpus:\\n  l40s:\\n    shards: 4\""
				}
				found := map[string]string{"seq": "a list", "map": "a mapping", "str": "text"}[m[2]]
				if found == "" {
					found = "a value"
				}
				if m[3] != "" {
					found += fmt.Sprintf(" %q", m[3])
				}
				p.errorf(line, "found %s where %s is expected", found, what)
			} else if m := reLine.FindStringSubmatch(e); m != nil {
				line, _ := strconv.Atoi(m[1])
				p.errorf(line, "%s", m[2])
			} else {
				p.errorf(0, "%s", e)
			}
		}
		return errors.Join(p.errs...)
	}
	if m := reLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errorf(line, "YAML syntax: %s (check the indentation: spaces only, no tabs)", m[2])
		return errors.Join(p.errs...)
	}
	return fmt.Errorf("%w: %s: %w", ErrInvalid, p.name, err)
}

var reTypeName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (p *parser) check(f *file, root *yaml.Node) *Config {
	c := &Config{GPUs: map[string]GPU{}, Paths: Defaults()}
	gpusLine := 1
	if n := lookup(root, "gpus"); n != nil {
		gpusLine = n.Line
	}
	if len(f.GPUs) == 0 {
		p.errorf(gpusLine, "no GPU types: add one under gpus:, e.g. \"gpus:\\n  l40s:\\n    shards: 4\\n    memory: 48g\"")
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
			p.errorf(line, "GPU type %q: use the Type= of gres.conf: letters, digits, '_' and '-' only (a '.' separates the slice, as in l40s.4)", name)
			continue
		}
		c.GPUs[name] = p.gpu(name, f.GPUs[name], line)
	}
	c.Policy = p.policy(&f.Policy)
	p.paths(&f.Paths, &c.Paths)
	return c
}

func (p *parser) gpu(name string, fg fileGPU, line int) GPU {
	var g GPU
	key := "gpus." + name
	if fg.Shards.Kind == 0 {
		p.errorf(line, "%s: shards missing: add \"shards: 4\" (the Count= of Name=shard Type=%s per GPU in gres.conf)", key, name)
	} else if n, ok := p.integer(&fg.Shards, key+".shards", 1, MaxShards); ok {
		g.Shards = n
	}
	if fg.Memory.Kind != 0 {
		n, err := size.Parse(scalar(&fg.Memory))
		switch {
		case fg.Memory.Kind != yaml.ScalarNode || err != nil:
			p.errorf(fg.Memory.Line, "%s.memory: %q is not a size: write it like 48g, 46068M or 51539607552, or leave it out to ask NVML", key, scalar(&fg.Memory))
		case n == 0:
			p.errorf(fg.Memory.Line, "%s.memory: must be greater than 0 (or leave it out to ask NVML)", key)
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
		p.errorf(fg.Denominators.Line, "%s.denominators: want a list such as [2, 4]", key)
		return g
	}
	seen := map[int]bool{}
	for _, dn := range fg.Denominators.Content {
		d, ok := p.integer(dn, key+".denominators", 2, MaxShards)
		switch {
		case !ok:
		case seen[d]:
			p.errorf(dn.Line, "%s.denominators: %d given twice", key, d)
		case g.Shards > 0 && g.Shards%d != 0:
			p.errorf(dn.Line, "%s.denominators: %s.%d cannot be served by %d shards per GPU (1/%d of %d shards is not whole); remove %d or make shards a multiple of it", key, name, d, g.Shards, d, g.Shards, d)
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
			p.errorf(fp.SMLimit.Line, "policy.sm_limit: %q: use %q (SM limit = the slice's share x 100) or %q (memory limit only)", v, SMFraction, SMNone)
		}
	}
	if fp.OOMKiller.Kind != 0 {
		var b bool
		if err := fp.OOMKiller.Decode(&b); err != nil || fp.OOMKiller.Tag != "!!bool" {
			p.errorf(fp.OOMKiller.Line, "policy.oom_killer: %q: use true or false", scalar(&fp.OOMKiller))
		} else {
			pol.OOMKiller = &b
		}
	}
	if fp.LogLevel.Kind != 0 {
		if n, ok := p.integer(&fp.LogLevel, "policy.log_level", 0, 4); ok {
			pol.LogLevel = &n
		}
	}
	return pol
}

func (p *parser) paths(fp *filePaths, out *Paths) {
	for _, e := range []struct {
		n   *yaml.Node
		key string
		dst *string
	}{
		{&fp.RunDir, "paths.run_dir", &out.RunDir},
		{&fp.RegionDir, "paths.region_dir", &out.RegionDir},
		{&fp.LogDir, "paths.log_dir", &out.LogDir},
	} {
		if e.n.Kind == 0 {
			continue
		}
		v := scalar(e.n)
		if !filepath.IsAbs(v) || filepath.Clean(v) != v {
			p.errorf(e.n.Line, "%s: %q is not a clean absolute path, e.g. /var/run/softmig", e.key, v)
			continue
		}
		*e.dst = v
	}
	if fp.RegionDir.Kind == 0 {
		out.RegionDir = out.RunDir
	}
	if fp.Scontrol.Kind != 0 {
		v := scalar(&fp.Scontrol)
		if v == "" || (strings.Contains(v, "/") && !filepath.IsAbs(v)) {
			p.errorf(fp.Scontrol.Line, "paths.scontrol: %q: give a command name (scontrol) or an absolute path", v)
		} else {
			out.Scontrol = v
		}
	}
}

func (p *parser) integer(n *yaml.Node, key string, lo, hi int) (int, bool) {
	v, err := strconv.Atoi(scalar(n))
	if n.Kind != yaml.ScalarNode || err != nil || v < lo || v > hi {
		p.errorf(n.Line, "%s: %q is not a whole number from %d to %d", key, scalar(n), lo, hi)
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
