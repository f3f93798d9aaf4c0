// SPDX-License-Identifier: Apache-2.0

package slurm

import (
	"fmt"
	"strconv"
	"strings"
)

// Request is one item of a GRES request as job_submit.lua sees it, e.g.
// "gres:gpu:l40s.4:1" (Slurm 22.05) or "gres/gpu:l40s.4:1" (newer).
type Request struct {
	Name        string // gpu, shard, ...
	Type        string // l40s; "" when untyped
	Denominator int    // 4 in l40s.4; 0 when not a slice
	Count       uint64 // 1 when left out
}

// Slice reports whether r asks for a SoftMig slice (<type>.<denominator>).
func (r Request) Slice() bool { return r.Denominator > 0 }

// ParseRequest parses a comma-separated GRES request with or without the
// "gres:"/"gres/" prefix of each item.
func ParseRequest(s string) ([]Request, error) {
	var out []Request
	for _, item := range strings.Split(s, ",") {
		body := strings.TrimPrefix(strings.TrimPrefix(item, "gres:"), "gres/")
		parts := strings.Split(body, ":")
		r := Request{Name: parts[0], Count: 1}
		rest := parts[1:]
		if len(rest) > 0 {
			if n, err := strconv.ParseUint(rest[len(rest)-1], 10, 64); err == nil {
				r.Count = n
				rest = rest[:len(rest)-1]
			}
		}
		if r.Name == "" || len(rest) > 1 || (len(rest) == 1 && rest[0] == "") {
			return nil, fmt.Errorf("%w: GRES request %q: want name[:type][:count], e.g. gpu:l40s.4:1", ErrSyntax, item)
		}
		if len(rest) == 1 {
			r.Type = rest[0]
			if typ, den, ok := strings.Cut(rest[0], "."); ok {
				d, err := strconv.Atoi(den)
				if err != nil || d < 1 || typ == "" || strconv.Itoa(d) != den {
					return nil, fmt.Errorf("%w: GRES request %q: slice %q wants <type>.<denominator>, e.g. l40s.4", ErrSyntax, item, rest[0])
				}
				r.Type, r.Denominator = typ, d
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// String writes r back without a prefix.
func (r Request) String() string {
	t := r.Type
	if r.Denominator > 0 {
		t += "." + strconv.Itoa(r.Denominator)
	}
	if t == "" {
		return fmt.Sprintf("%s:%d", r.Name, r.Count)
	}
	return fmt.Sprintf("%s:%s:%d", r.Name, t, r.Count)
}
