// SPDX-License-Identifier: Apache-2.0

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
	N     int    // line number
	Nodes string // NodeName=, "" for every node
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
			case "nodename":
				l.Nodes = v
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

// forNode keeps the lines that apply to node: those without NodeName= and
// those whose host list names it (a list it cannot expand is kept).
func forNode(lines []gresLine, node string) []gresLine {
	var out []gresLine
	for _, l := range lines {
		if l.Nodes == "" || node == "" || inHostList(l.Nodes, node) {
			out = append(out, l)
		}
	}
	return out
}

var reHostRange = regexp.MustCompile(`^([^\[\],]*)\[([0-9,-]+)\]([^\[\],]*)$`)

// inHostList reports whether Slurm's host list (gpu[01-04,07],login1)
// names host. A pattern it cannot read counts as naming it.
func inHostList(list, host string) bool {
	depth, start := 0, 0
	var items []string
	for i, c := range list + "," {
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == ',' && depth == 0:
			items = append(items, list[start:i])
			start = i + 1
		}
	}
	if depth != 0 {
		return true // unbalanced brackets: cannot tell
	}
	for _, it := range items {
		if it == host || it == "ALL" {
			return true
		}
		if !strings.Contains(it, "[") {
			continue
		}
		m := reHostRange.FindStringSubmatch(it)
		if m == nil {
			return true
		}
		if !strings.HasPrefix(host, m[1]) || !strings.HasSuffix(host, m[3]) || len(host) < len(m[1])+len(m[3]) {
			continue
		}
		num := host[len(m[1]) : len(host)-len(m[3])]
		for _, r := range strings.Split(m[2], ",") {
			lo, hi, isRange := strings.Cut(r, "-")
			if !isRange {
				hi = lo
			}
			if len(num) == len(lo) && num >= lo && num <= hi && len(hi) == len(lo) || len(lo) != len(hi) && atoiOK(num, lo, hi) {
				return true
			}
		}
	}
	return false
}

// atoiOK compares num with lo-hi numerically (ranges like 8-12).
func atoiOK(num, lo, hi string) bool {
	n, err1 := strconv.Atoi(num)
	a, err2 := strconv.Atoi(lo)
	b, err3 := strconv.Atoi(hi)
	return err1 == nil && err2 == nil && err3 == nil && n >= a && n <= b && strconv.Itoa(n) == num
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
