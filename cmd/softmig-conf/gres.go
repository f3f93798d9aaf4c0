package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/softmig/softmig/internal/siteconf"
)

// gresLine is one line of gres.conf that names GPUs or shards.
type gresLine struct {
	N     int // line number
	Name  string
	Type  string
	Count uint64 // 0: not given
	Files []int  // minors of File=/dev/nvidia<N>; nil: no File=
}

var reDevFile = regexp.MustCompile(`^/dev/nvidia(?:(\d+)|\[([0-9,-]+)\])$`)

// parseGresConf reads the gpu and shard lines of gres.conf. Keys are case
// insensitive, as Slurm reads them; other lines are left out.
func parseGresConf(data string) []gresLine {
	var out []gresLine
	for i, text := range strings.Split(data, "\n") {
		if k := strings.IndexByte(text, '#'); k >= 0 {
			text = text[:k]
		}
		l := gresLine{N: i + 1}
		for _, f := range strings.Fields(text) {
			k, v, _ := strings.Cut(f, "=")
			switch strings.ToLower(k) {
			case "name":
				l.Name = strings.ToLower(v)
			case "type":
				l.Type = v
			case "count":
				l.Count, _ = strconv.ParseUint(v, 10, 64)
			case "file":
				l.Files = devMinors(v)
			}
		}
		if l.Name == "gpu" || l.Name == "shard" {
			out = append(out, l)
		}
	}
	return out
}

// devMinors expands /dev/nvidia0 and /dev/nvidia[0-3,5]; nil when it cannot.
func devMinors(v string) []int {
	m := reDevFile.FindStringSubmatch(v)
	if m == nil {
		return nil
	}
	if m[1] != "" {
		n, _ := strconv.Atoi(m[1])
		return []int{n}
	}
	var out []int
	for _, r := range strings.Split(m[2], ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || b < a || b-a > 256 {
			return nil
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	return out
}

// soleType is the site's GPU type when it has exactly one, else "".
func soleType(site *siteconf.Config) string {
	if len(site.GPUs) != 1 {
		return ""
	}
	for t := range site.GPUs {
		return t
	}
	return ""
}

// compareGres returns one problem per gres.conf line whose shards per GPU
// differ from the site config, and one per sliced GPU type gres.conf does
// not split into shards; yamlName names the site config in messages.
func compareGres(site *siteconf.Config, lines []gresLine, gresName, yamlName string) []string {
	var problems []string
	gpus := map[string]int{} // GPU type -> GPUs named by File= on gpu lines
	sharded := map[string]bool{}
	for _, l := range lines {
		if l.Name == "gpu" {
			gpus[l.Type] += len(l.Files)
		}
	}
	for _, l := range lines {
		if l.Name != "shard" {
			continue
		}
		typ := l.Type
		if typ == "" {
			typ = soleType(site)
		}
		g, ok := site.GPUs[typ]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s:%d: shards of GPU type %q, which %s does not list: add gpus.%s with shards per GPU, or give the line the Type= of a listed GPU type", gresName, l.N, l.Type, yamlName, orDash(l.Type)))
			continue
		}
		sharded[typ] = true
		n := len(l.Files)
		if n == 0 {
			n = gpus[l.Type]
		}
		if n == 0 || l.Count == 0 {
			problems = append(problems, fmt.Sprintf("%s:%d: cannot tell the shards per GPU of this line (give Count= and File=/dev/nvidia<N>, one line per GPU)", gresName, l.N))
			continue
		}
		if l.Count%uint64(n) != 0 || l.Count/uint64(n) != uint64(g.Shards) {
			problems = append(problems, fmt.Sprintf("%s:%d: Name=shard Type=%s Count=%d on %d GPU(s) is %s shards per GPU, but %s:%d says gpus.%s.shards: %d; make them equal (expected Count=%d), then regenerate softmig_types.lua (softmig-conf gres-lua)",
				gresName, l.N, typ, l.Count, n, perGPUString(l.Count, n), yamlName, site.Lines["gpus."+typ+".shards"], typ, g.Shards, uint64(g.Shards)*uint64(n)))
		}
	}
	for _, t := range sortedTypes(site) {
		if !sharded[t] {
			problems = append(problems, fmt.Sprintf("%s: no Name=shard line of Type=%s: jobs cannot get slices of a %s (%s:%d); add \"Name=shard Type=%s Count=%d File=/dev/nvidia0\" per GPU", gresName, t, t, yamlName, site.Lines["gpus."+t], t, site.GPUs[t].Shards))
		}
	}
	return problems
}

func perGPUString(count uint64, n int) string {
	if count%uint64(n) == 0 {
		return strconv.FormatUint(count/uint64(n), 10)
	}
	return fmt.Sprintf("%d/%d", count, n)
}
