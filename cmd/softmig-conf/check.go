// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/jobpath"
	"github.com/softmig/softmig/internal/siteconf"
	"github.com/softmig/softmig/internal/size"
)

// errProblems makes check exit 1 after printing its problems.
var errProblems = errors.New("fix them and run softmig-conf check again")

// check validates the site config, compares it with gres.conf and NVML and
// prints the slices it offers. Every problem goes to stderr with its line
// and fix, marked "error" (GPU jobs fail closed until it is fixed) or
// "warning" (jobs keep their slices); any problem makes check exit 1.
func (a *app) check(c *checkCmd) error {
	site, paths, err := a.paths()
	var problems []string
	if err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			problems = append(problems, "error: "+strings.TrimPrefix(e, siteconf.ErrInvalid.Error()+": ")+" (GPU jobs fail closed until this is fixed)")
		}
	}
	if site != nil {
		for _, w := range site.Warnings {
			problems = append(problems, "warning: "+w+" (jobs keep their slices)")
		}
	}
	if site != nil && err == nil {
		var gres []gresLine
		if data, rerr := os.ReadFile(c.GresConf); rerr == nil {
			gres = forNode(parseGresConf(string(data)), a.nodeName(c.Node))
			for _, p := range compareGres(site, gres, c.GresConf, a.cli.Config) {
				problems = append(problems, "error: "+p)
			}
		} else {
			fmt.Fprintf(a.stdout, "%s not compared: %v\n", c.GresConf, rerr)
		}
		problems = append(problems, a.checkMemory(site, gres)...)
		a.printSlices(site)
	}
	fmt.Fprintf(a.stdout, "configs and regions in %s, logs in %s (built in), scontrol %s\n", paths.RunDir, paths.LogDir, paths.Scontrol)
	a.checkSlots(paths.RunDir)
	for _, p := range problems {
		fmt.Fprintf(a.stderr, "softmig-conf: %s\n", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %d %s: %w", a.cli.Config, len(problems), plural(len(problems), "problem"), errProblems)
	}
	fmt.Fprintf(a.stdout, "%s: OK\n", a.cli.Config)
	return nil
}

// nodeName is this node's Slurm name: flag, $SLURMD_NODENAME, short host name.
func (a *app) nodeName(flag string) string {
	if flag != "" {
		return flag
	}
	if v := a.env("SLURMD_NODENAME"); v != "" {
		return v
	}
	h, _ := os.Hostname()
	short, _, _ := strings.Cut(h, ".")
	return short
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// checkMemory refuses a configured memory larger than NVML's total for a
// GPU of that type, and warns when it is larger than what the driver
// leaves. A GPU's type is the site's only type, or gres.conf's Type= of
// its File=/dev/nvidia<minor>. Without NVML nothing is compared.
func (a *app) checkMemory(site *siteconf.Config, gres []gresLine) []string {
	gpus, err := a.gpus()
	if err != nil {
		fmt.Fprintf(a.stdout, "memory not compared with NVML: %v\n", err)
		return nil
	}
	typeOf := map[int]string{} // minor -> type
	for _, l := range gres {
		if l.Name == "gpu" && l.Type != "" {
			for _, m := range l.Files {
				typeOf[m] = l.Type
			}
		}
	}
	var problems []string
	for _, g := range gpus {
		typ := soleType(site)
		if t, ok := typeOf[g.Minor]; ok {
			typ = t
		}
		st, ok := site.GPUs[typ]
		fmt.Fprintf(a.stdout, "GPU %d (/dev/nvidia%d): NVML reports %s, the driver keeps %s", g.Index, g.Minor, size.Format(g.Total), size.Format(g.Reserved))
		if !ok {
			fmt.Fprintf(a.stdout, "; type unknown (no gres.conf line names it): not compared\n")
			continue
		}
		fmt.Fprintf(a.stdout, "; a %s\n", typ)
		line := site.Lines["gpus."+typ+".memory"]
		switch {
		case st.Memory == 0:
		case st.Memory > g.Total:
			problems = append(problems, fmt.Sprintf("error: %s:%d: gpus.%s.memory: %s is more than GPU %d has (NVML: %s): slices would promise memory the card does not have; remove the key to use what NVML reports, or set at most %s",
				a.cli.Config, line, typ, size.Format(st.Memory), g.Index, size.Format(g.Total), size.Format(g.Usable())))
		case st.Memory > g.Usable():
			problems = append(problems, fmt.Sprintf("warning: %s:%d: gpus.%s.memory: %s is more than GPU %d leaves to programs (NVML: %s, of which the driver keeps %s); remove the key, or set at most %s",
				a.cli.Config, line, typ, size.Format(st.Memory), g.Index, size.Format(g.Total), size.Format(g.Reserved), size.Format(g.Usable())))
		}
	}
	return problems
}

func sortedTypes(site *siteconf.Config) []string {
	names := make([]string, 0, len(site.GPUs))
	for n := range site.GPUs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// printSlices prints the slices each GPU type offers.
func (a *app) printSlices(site *siteconf.Config) {
	for _, n := range sortedTypes(site) {
		g := site.GPUs[n]
		mem := "memory from NVML"
		if g.Memory > 0 {
			mem = size.Format(g.Memory)
		}
		fmt.Fprintf(a.stdout, "%s: %d shards per GPU, %s; --gres=gpu:%s:1 is a whole GPU\n", n, g.Shards, mem, n)
		for _, d := range g.Denominators {
			s := uint64(g.Shards / d)
			line := fmt.Sprintf("  --gres=gpu:%s.%d:1 -> shard:%s:%d", n, d, n, s)
			if g.Memory > 0 {
				line += fmt.Sprintf(", memory %s", size.Format(fraction(g.Memory, s, uint64(g.Shards))))
			}
			if site.Policy.SMLimit == siteconf.SMFraction {
				line += fmt.Sprintf(", SM %d%%", smPercent(s, uint64(g.Shards)))
			}
			fmt.Fprintln(a.stdout, line)
		}
		if site.Policy.SMLimit == siteconf.SMFraction && g.Shards <= 16 {
			units := make([]string, g.Shards)
			for k := range units {
				units[k] = jobconf.Slot{jobconf.Unit(k, g.Shards)}.String()
			}
			fmt.Fprintf(a.stdout, "  time slot units (%% of the period): %s\n", strings.Join(units, " "))
		} else if site.Policy.SMLimit == siteconf.SMFraction && g.Shards > 100 {
			fmt.Fprintf(a.stdout, "  no time slots: over 100 shards per GPU\n")
		}
	}
}

type checkCmd struct {
	JSON     bool   `name:"json" help:"Print the verdict (ok, errors, warnings) and the slices offered as one JSON object."`
	GresConf string `name:"gres-conf" default:"/etc/slurm/gres.conf" placeholder:"FILE" help:"Slurm's gres.conf, compared with the site config when readable."`
	Node     string `help:"This node's Slurm name, to pick its gres.conf lines (default: $SLURMD_NODENAME, else the short host name)." placeholder:"NAME"`
}

func (a *app) checkSlots(runDir string) {
	paths, _ := filepath.Glob(jobpath.Conf(runDir, "*"))
	if len(paths) == 0 {
		return
	}
	lines, warnings := slotOverlaps(runDir, a.stderr)
	for _, p := range paths {
		c, err := jobconf.Load(p)
		if err != nil {
			continue // noted by slotOverlaps
		}
		for _, w := range slotWarnings(c) {
			warnings = append(warnings, p+": "+w)
		}
	}
	fmt.Fprintf(a.stdout, "time slots in %s: %d held\n", runDir, len(lines))
	for _, l := range lines {
		fmt.Fprintf(a.stdout, "  %s\n", l)
	}
	for _, w := range warnings {
		fmt.Fprintf(a.stderr, "softmig-conf: warning: %s\n", w)
	}
}
