// SPDX-License-Identifier: Apache-2.0

// Package slurm parses what Slurm tells SoftMig about a job: the one-line
// output of `scontrol show job -d -o <id>`, its per-node GRES allocation
// (GRES=shard:l40s:2(IDX:0)), GRES requests (gpu:l40s.4:1) and hostlists.
package slurm

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by every parse error of this package.
var ErrSyntax = errors.New("cannot parse Slurm output")

// Job is what SoftMig needs from `scontrol show job -d -o`.
type Job struct {
	JobID       string
	ArrayJobID  string // "" when not an array task
	ArrayTaskID string
	User        string
	UID         int // -1 when unknown
	JobState    string
	JobGres     string // JOB_GRES=, the job's whole allocation (22.05+)
	TresPerNode string // TresPerNode=, the request as submitted
	Alloc       []NodeAlloc
	Fields      map[string]string // every field, first occurrence
}

// NodeAlloc is one "Nodes=... GRES=..." group of the detailed output.
type NodeAlloc struct {
	Nodes string // hostlist expression
	Gres  []Gres
}

// Gres is one allocated generic resource on a node, e.g. shard:l40s:2(IDX:0).
type Gres struct {
	Name    string // gpu, shard, ...
	Type    string // l40s, or "" when untyped
	Count   uint64
	Indices []int // device indices (IDX:), nil when Slurm gave none
}

var reKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_:/.]*=`)

// ParseJob parses one line of `scontrol show job -d -o <id>`. Fields are
// "Key=Value" separated by spaces; a token without "Key=" continues the
// previous value (job names and paths may hold spaces).
func ParseJob(line string) (*Job, error) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "JobId=") {
		if line == "" {
			return nil, fmt.Errorf("%w: empty output from scontrol", ErrSyntax)
		}
		return nil, fmt.Errorf("%w: want a line starting with JobId=, got %q", ErrSyntax, trunc(line, 120))
	}
	if strings.Contains(line, "\n") {
		return nil, fmt.Errorf("%w: more than one line in scontrol output (use FindJob)", ErrSyntax)
	}
	type kv struct{ k, v string }
	var fields []kv
	for _, tok := range strings.Fields(line) {
		if m := reKey.FindString(tok); m != "" {
			fields = append(fields, kv{m[:len(m)-1], tok[len(m):]})
		} else if len(fields) > 0 {
			fields[len(fields)-1].v += " " + tok
		}
	}
	j := &Job{UID: -1, Fields: map[string]string{}}
	for _, f := range fields {
		if _, dup := j.Fields[f.k]; !dup {
			j.Fields[f.k] = f.v
		}
		switch f.k {
		case "Nodes":
			j.Alloc = append(j.Alloc, NodeAlloc{Nodes: f.v})
		case "GRES":
			if len(j.Alloc) == 0 {
				return nil, fmt.Errorf("%w: GRES=%s before any Nodes=", ErrSyntax, f.v)
			}
			g, err := ParseGres(f.v)
			if err != nil {
				return nil, err
			}
			j.Alloc[len(j.Alloc)-1].Gres = g
		}
	}
	j.JobID = j.Fields["JobId"]
	j.ArrayJobID = j.Fields["ArrayJobId"]
	j.ArrayTaskID = j.Fields["ArrayTaskId"]
	j.JobState = j.Fields["JobState"]
	j.JobGres = nullable(j.Fields["JOB_GRES"])
	j.TresPerNode = nullable(j.Fields["TresPerNode"])
	if u := j.Fields["UserId"]; u != "" {
		name, uid, ok := strings.Cut(u, "(")
		j.User = name
		if ok {
			if n, err := strconv.Atoi(strings.TrimSuffix(uid, ")")); err == nil {
				j.UID = n
			}
		}
	}
	if _, err := strconv.ParseUint(j.JobID, 10, 64); err != nil {
		return nil, fmt.Errorf("%w: JobId=%q is not a number", ErrSyntax, j.JobID)
	}
	return j, nil
}

// FindJob parses the output of `scontrol show job -d -o <id>` and returns
// the record of job id, or of array task <arrayjobid>_<taskid>. For the
// task of an array that kept the array's base id, scontrol prints one line
// for every task of the array.
func FindJob(output, id string) (*Job, error) {
	arrayID, taskID, isTask := strings.Cut(id, "_")
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(output), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		j, err := ParseJob(line)
		if err != nil {
			return nil, err
		}
		if (!isTask && j.JobID == id) || (isTask && j.ArrayJobID == arrayID && j.ArrayTaskID == taskID) {
			return j, nil
		}
		ids = append(ids, j.JobID)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: empty output from scontrol", ErrSyntax)
	}
	return nil, fmt.Errorf("scontrol describes job %s, not job %s", strings.Join(ids, ","), id)
}

func nullable(s string) string {
	if s == "(null)" || s == "N/A" {
		return ""
	}
	return s
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// NodeGres returns the GRES the job holds on node. With a single
// allocation group the node name is not needed (and may be empty).
func (j *Job) NodeGres(node string) ([]Gres, error) {
	if len(j.Alloc) == 1 && node == "" {
		return j.Alloc[0].Gres, nil
	}
	for _, a := range j.Alloc {
		hosts, err := ExpandHostlist(a.Nodes)
		if err != nil {
			return nil, err
		}
		for _, h := range hosts {
			if h == node {
				return a.Gres, nil
			}
		}
	}
	if len(j.Alloc) == 1 {
		return nil, fmt.Errorf("job %s is allocated on %s, not on node %q", j.JobID, j.Alloc[0].Nodes, node)
	}
	if len(j.Alloc) == 0 {
		return nil, nil
	}
	return nil, fmt.Errorf("job %s has no allocation on node %q", j.JobID, node)
}

// ParseGres parses an allocated GRES detail such as
// "gpu:l40s:1(IDX:0),shard:l40s:2(IDX:1)", "gpu:2(IDX:0-1)" or
// "gpu(CNT:2)". "(null)" and "" give no GRES.
func ParseGres(s string) ([]Gres, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "(null)" {
		return nil, nil
	}
	var out []Gres
	for _, item := range splitOutside(s, '(', ')') {
		g, err := parseGresItem(item)
		if err != nil {
			return nil, fmt.Errorf("%w: GRES %q: %w", ErrSyntax, s, err)
		}
		out = append(out, g)
	}
	return out, nil
}

// splitOutside splits s at the commas that are not between open and close
// (the parentheses of a GRES detail, the brackets of a hostlist).
func splitOutside(s string, open, shut rune) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case open:
			depth++
		case shut:
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func parseGresItem(item string) (Gres, error) {
	var g Gres
	head, detail, hasDetail := strings.Cut(item, "(")
	if hasDetail {
		if !strings.HasSuffix(detail, ")") {
			return g, fmt.Errorf("unbalanced parenthesis in %q", item)
		}
		detail = strings.TrimSuffix(detail, ")")
	}
	parts := strings.Split(head, ":")
	for _, p := range parts {
		if p == "" {
			return g, fmt.Errorf("empty field in %q", item)
		}
	}
	g.Name = parts[0]
	countKnown := false
	switch len(parts) {
	case 1:
	case 2:
		if n, err := strconv.ParseUint(parts[1], 10, 64); err == nil {
			g.Count, countKnown = n, true
		} else {
			g.Type = parts[1]
		}
	case 3:
		g.Type = parts[1]
		n, err := strconv.ParseUint(parts[2], 10, 64)
		if err != nil {
			return g, fmt.Errorf("count %q is not a number", parts[2])
		}
		g.Count, countKnown = n, true
	default:
		return g, fmt.Errorf("too many fields in %q", item)
	}
	switch {
	case !hasDetail:
	case strings.HasPrefix(detail, "CNT:"):
		n, err := strconv.ParseUint(detail[4:], 10, 64)
		if err != nil {
			return g, fmt.Errorf("bad count in %q", item)
		}
		g.Count, countKnown = n, true
	case strings.HasPrefix(detail, "IDX:"):
		if detail[4:] != "N/A" {
			idx, err := ParseIndexList(detail[4:])
			if err != nil {
				return g, err
			}
			g.Indices = idx
		}
	default:
		return g, fmt.Errorf("unknown detail %q in %q", detail, item)
	}
	if !countKnown {
		return g, fmt.Errorf("no count in %q", item)
	}
	return g, nil
}

// ParseIndexList parses a Slurm bitmap list such as "0", "0-2,5".
func ParseIndexList(s string) ([]int, error) {
	var out []int
	for _, r := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a || b-a > 4096 {
			return nil, fmt.Errorf("%w: bad index list %q", ErrSyntax, s)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}
