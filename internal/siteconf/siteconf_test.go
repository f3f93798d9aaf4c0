// SPDX-License-Identifier: Apache-2.0

package siteconf

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/defs"
)

func TestParse(t *testing.T) {
	in := `# comment
gpus:
  l40s:
    shards: 4
    memory: 48g
  h100:
    shards: 8
    denominators: [8, 2]
  a100:
    shards: 6
    memory: 85899345920
    time: cap
policy:
  sm_limit: none
  oom_killer: true
  log_level: 2
partitions:
  bench:
    time: cap
paths:
  scontrol: /opt/slurm/bin/scontrol
  nvidia_smi_real: /usr/bin/nvidia-smi.real
`
	c, err := Parse(strings.NewReader(in), "softmig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr, two := true, 2
	want := &Config{
		GPUs: map[string]GPU{
			"l40s": {Shards: 4, Memory: 48 << 30, Denominators: []int{2, 4}},
			"h100": {Shards: 8, Denominators: []int{2, 8}},
			"a100": {Shards: 6, Memory: 80 << 30, Denominators: []int{2, 3, 6}, Time: TimeCap},
		},
		Policy:     Policy{SMLimit: SMNone, OOMKiller: &tr, LogLevel: &two, Time: TimeLend},
		Partitions: map[string]Partition{"bench": {Time: TimeCap}},
		Paths:      Paths{Scontrol: "/opt/slurm/bin/scontrol", NvidiaSmiReal: "/usr/bin/nvidia-smi.real"},
		SMI:        SMI{OutsideJob: OutsideGPUs},
		Metrics:    DefaultMetrics(),
		Lines: map[string]int{"gpus.l40s": 3, "gpus.l40s.shards": 4, "gpus.l40s.memory": 5, "gpus.h100": 6, "gpus.h100.shards": 7,
			"gpus.a100": 9, "gpus.a100.shards": 10, "gpus.a100.memory": 11},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", c, want)
	}
	// The partition's policy first, then cap from any GPU type, then the
	// types', then policy.time (lend unless the site says otherwise).
	for _, tt := range []struct {
		part  string
		types []string
		want  string
	}{
		{"bench", []string{"l40s"}, TimeCap},
		{"gpu", []string{"a100"}, TimeCap},
		{"gpu", []string{"l40s", "a100"}, TimeCap},
		{"gpu", []string{"l40s"}, TimeLend},
	} {
		if got := c.TimeFor(tt.part, tt.types); got != tt.want {
			t.Errorf("TimeFor(%q, %v) = %q; want %q", tt.part, tt.types, got, tt.want)
		}
	}
	if _, err := Parse(strings.NewReader("gpus:\n  l40s:\n    shards: 4\npolicy:\n  time: share\n"), "x.yaml"); err == nil || !strings.Contains(err.Error(), "x.yaml:5: policy.time") {
		t.Errorf("policy.time: share: %v; want a vital error naming the line", err)
	}
	if !c.GPUs["h100"].Allowed(8) || c.GPUs["h100"].Allowed(4) {
		t.Fatal("Allowed does not follow denominators")
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse(strings.NewReader("gpus:\n  l40s:\n    shards: 1\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.SMLimit != SMFraction || c.Policy.OOMKiller != nil || c.Policy.LogLevel != nil {
		t.Errorf("policy defaults = %+v", c.Policy)
	}
	if c.Paths != Defaults() || len(c.Warnings) != 0 {
		t.Errorf("paths = %+v, warnings %q; want %+v and none", c.Paths, c.Warnings, Defaults())
	}
	if g := c.GPUs["l40s"]; g.Memory != 0 || len(g.Denominators) != 0 {
		t.Errorf("gpu = %+v, want no memory and no slices", g)
	}
}

// The directories the library trusts are fixed at build time: a site
// config naming another one is refused (vital), naming the same one is
// only redundant (a warning).
func TestBuiltInDirectories(t *testing.T) {
	const ok = "gpus:\n  l40s:\n    shards: 4\n"
	for _, tc := range []struct{ key, dir, make string }{
		{"run_dir", defs.RunDir(), "RUNDIR"},
		{"region_dir", defs.RunDir(), "RUNDIR"},
		{"log_dir", defs.LogDir(), "LOGDIR"},
	} {
		_, err := Parse(strings.NewReader(ok+"paths:\n  "+tc.key+": /srv/softmig\n"), "x.yaml")
		want := "x.yaml:5: paths." + tc.key + ": \"/srv/softmig\": this directory is set at build time (" + tc.dir + " here)"
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "make "+tc.make+"=/srv/softmig") {
			t.Errorf("paths.%s moved: %v; want an error containing %q", tc.key, err, want)
		}
		c, err := Parse(strings.NewReader(ok+"paths:\n  "+tc.key+": "+tc.dir+"\n"), "x.yaml")
		if err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "x.yaml:5: paths."+tc.key+": "+tc.dir+" is the built-in directory") {
			t.Errorf("paths.%s at the built-in directory: %v, warnings %q; want one warning", tc.key, err, c.Warnings)
		}
		// Spelled through a symbolic link (as /var/run/softmig for
		// /run/softmig), it is still the built-in directory.
		link := filepath.Join(t.TempDir(), "link")
		if err := os.Symlink(filepath.Dir(tc.dir), link); err != nil {
			t.Fatal(err)
		}
		other := filepath.Join(link, filepath.Base(tc.dir))
		c, err = Parse(strings.NewReader(ok+"paths:\n  "+tc.key+": "+other+"\n"), "x.yaml")
		if err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "x.yaml:5: paths."+tc.key+": "+other+" is the built-in directory ("+tc.dir+")") {
			t.Errorf("paths.%s at the built-in directory through a link: %v, warnings %q; want one warning", tc.key, err, c.Warnings)
		}
	}
}

// A mistake in a key that does not decide limits is a warning: the config
// is usable and the other keys are read.
func TestWarnings(t *testing.T) {
	const ok = "gpus:\n  l40s:\n    shards: 4\n"
	for _, tc := range []struct{ name, in, want string }{
		{"unknown section", ok + "monitoring:\n  port: 9\n", `x.yaml:4: unknown key "monitoring", ignored; known keys here: gpus, policy, partitions, paths, smi, metrics`},
		{"unknown path", ok + "paths:\n  nvidia_smi: /usr/bin/nvidia-smi.real\n", `x.yaml:5: unknown key "nvidia_smi", ignored; known keys here: scontrol, nvidia_smi_real`},
		{"old smi key", ok + "paths:\n  config_dir: /run/softmig\n", `x.yaml:5: unknown key "config_dir"`},
		{"relative nvidia_smi_real", ok + "paths:\n  nvidia_smi_real: nvidia-smi.real\n", `x.yaml:5: paths.nvidia_smi_real: "nvidia-smi.real" is not a clean absolute path`},
		{"paths scalar", ok + "paths: /x\n", `x.yaml:4: found text "/x" where a mapping of keys is expected`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tc.in), "x.yaml")
			if err != nil || c == nil || c.GPUs["l40s"].Shards != 4 {
				t.Fatalf("Parse(%q) = %+v, %v; want a usable config", tc.in, c, err)
			}
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], tc.want) {
				t.Fatalf("warnings %q; want one containing %q", c.Warnings, tc.want)
			}
		})
	}
}

// Every bad site config names its line and what to do.
func TestParseErrors(t *testing.T) {
	const ok = "gpus:\n  l40s:\n    shards: 4\n"
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "x.yaml:1: no GPU types"},
		{"no gpus", "policy:\n  sm_limit: none\n", "no GPU types"},
		{"gpus empty", "gpus: {}\n", "x.yaml:1: no GPU types"},
		{"gpus list", "gpus:\n  - l40s\n", "x.yaml:2: found a list where a mapping of GPU types"},
		{"gpu typo", "gpus:\n  l40s:\n    shard: 4\n", `x.yaml:3: unknown key "shard"; known keys here: shards, memory, denominators, time`},
		{"policy typo", ok + "policy:\n  smlimit: none\n", `x.yaml:5: unknown key "smlimit"`},
		{"tab", "gpus:\n\tl40s:\n", "x.yaml:2: YAML syntax"},
		{"shards missing", "gpus:\n  l40s:\n    memory: 48g\n", "x.yaml:2: gpus.l40s: shards missing"},
		{"shards zero", "gpus:\n  l40s:\n    shards: 0\n", "x.yaml:3: gpus.l40s.shards: \"0\" is not a whole number from 1 to 128"},
		{"shards word", "gpus:\n  l40s:\n    shards: four\n", "x.yaml:3: gpus.l40s.shards: \"four\""},
		{"shards big", "gpus:\n  l40s:\n    shards: 129\n", "from 1 to 128"},
		{"shards fraction", "gpus:\n  l40s:\n    shards: 2.5\n", "gpus.l40s.shards: \"2.5\""},
		{"memory bad", ok + "    memory: 48 GB\n", "x.yaml:4: gpus.l40s.memory: \"48 GB\" is not a size"},
		{"memory zero", ok + "    memory: 0\n", "x.yaml:4: gpus.l40s.memory: must be greater than 0"},
		{"memory list", ok + "    memory: [1]\n", "x.yaml:4: gpus.l40s.memory: \"<list>\" is not a size"},
		{"denominator not dividing", ok + "    denominators: [2, 3]\n", "x.yaml:4: gpus.l40s.denominators: l40s.3 cannot be served by 4 shards per GPU"},
		{"denominator one", ok + "    denominators: [1]\n", "gpus.l40s.denominators: \"1\" is not a whole number from 2 to 128"},
		{"denominator twice", ok + "    denominators:\n      - 2\n      - 2\n", "x.yaml:6: gpus.l40s.denominators: 2 given twice"},
		{"denominators scalar", ok + "    denominators: 2\n", "x.yaml:4: gpus.l40s.denominators: want a list"},
		{"type with dot", "gpus:\n  l40s.2:\n    shards: 4\n", "x.yaml:2: GPU type \"l40s.2\""},
		{"type with colon", "gpus:\n  \"a:b\":\n    shards: 4\n", "x.yaml:2: GPU type \"a:b\""},
		{"sm_limit", ok + "policy:\n  sm_limit: half\n", "x.yaml:5: policy.sm_limit: \"half\": use \"fraction\""},
		{"oom_killer", ok + "policy:\n  oom_killer: yes\n", "x.yaml:5: policy.oom_killer: \"yes\": use true or false"},
		{"log_level", ok + "policy:\n  log_level: 9\n", "x.yaml:5: policy.log_level: \"9\" is not a whole number from 0 to 4"},
		{"run_dir relative", ok + "paths:\n  run_dir: run/softmig\n", "x.yaml:5: paths.run_dir: \"run/softmig\": this directory is set at build time"},
		{"log_dir unclean", ok + "paths:\n  log_dir: /var/log/../x\n", "x.yaml:5: paths.log_dir"},
		{"scontrol relative", ok + "paths:\n  scontrol: bin/scontrol\n", "x.yaml:5: paths.scontrol"},
		{"policy scalar", ok + "policy: none\n", "x.yaml:4: found text \"none\" where a mapping of keys is expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tc.in), "x.yaml")
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) = %+v, %v\nwant ErrInvalid containing %q", tc.in, c, err, tc.want)
			}
		})
	}
}

func TestParseReportsAll(t *testing.T) {
	_, err := Parse(strings.NewReader("gpus:\n  a:\n    shards: 0\n  b:\n    shards: 4\n    memory: x\n"), "x.yaml")
	if err == nil || !strings.Contains(err.Error(), "x.yaml:3:") || !strings.Contains(err.Error(), "x.yaml:6:") {
		t.Fatalf("want both errors, got %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "none.yaml")); err == nil || !strings.Contains(err.Error(), "does not exist: create it") {
		t.Fatalf("Load of a missing file: %v", err)
	}
	p := filepath.Join(dir, "softmig.yaml")
	if err := os.WriteFile(p, []byte("gpus:\n  l40s:\n    shards: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(p); err != nil || c.GPUs["l40s"].Shards != 4 || len(c.Warnings) != 0 {
		t.Fatalf("Load = %+v, %v", c, err)
	}
	// The examples shipped in slurm/ are valid.
	examples, _ := filepath.Glob("../../slurm/*softmig*.yaml")
	more, _ := filepath.Glob("../../slurm/examples/*/softmig.yaml")
	if len(examples) == 0 || len(more) == 0 {
		t.Fatalf("found %d examples in slurm/ and %d in slurm/examples/*/: the globs no longer match the examples", len(examples), len(more))
	}
	for _, ex := range append(examples, more...) {
		if c, err := Load(ex); err != nil || len(c.Warnings) != 0 {
			t.Errorf("example %s: %v, warnings %q", ex, err, c.Warnings)
		}
	}
}

// smi.outside_job says what softmig-smi shows outside a job; a mistake
// there is a warning, never a job's problem.
func TestSMIOutsideJob(t *testing.T) {
	for _, tc := range []struct {
		value, want string
		warn        bool
	}{{"none", OutsideNone, false}, {"gpus", OutsideGPUs, false}, {"all", OutsideGPUs, true}} {
		c, err := Parse(strings.NewReader("gpus:\n  l40s:\n    shards: 4\nsmi:\n  outside_job: "+tc.value+"\n"), "x.yaml")
		if err != nil || c.SMI.OutsideJob != tc.want || (len(c.Warnings) == 1) != tc.warn {
			t.Errorf("smi.outside_job: %s = %v, %q, warnings %q; want %q, a warning: %v", tc.value, err, c.SMI.OutsideJob, c.Warnings, tc.want, tc.warn)
		}
		if tc.warn && !strings.Contains(c.Warnings[0], "x.yaml:5: smi.outside_job: \"all\": use \"gpus\"") {
			t.Errorf("warning %q does not name the line and the values", c.Warnings[0])
		}
	}
}
