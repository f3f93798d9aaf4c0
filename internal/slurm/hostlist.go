// SPDX-License-Identifier: Apache-2.0

package slurm

import (
	"fmt"
	"strconv"
	"strings"
)

// ExpandHostlist expands a Slurm hostlist such as "vm", "gpu[01-03,07]" or
// "a[1-2]b,c" into host names. Only one bracket group per name is supported,
// which is what Slurm prints for node lists.
func ExpandHostlist(s string) ([]string, error) {
	var out []string
	for _, item := range splitOutside(s, '[', ']') {
		open := strings.IndexByte(item, '[')
		if open < 0 {
			if item != "" {
				out = append(out, item)
			}
			continue
		}
		end := strings.IndexByte(item, ']')
		if end < open {
			return nil, fmt.Errorf("%w: bad hostlist %q", ErrSyntax, s)
		}
		prefix, suffix := item[:open], item[end+1:]
		for _, r := range strings.Split(item[open+1:end], ",") {
			lo, hi, isRange := strings.Cut(r, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || b < a || b-a > 100000 {
				return nil, fmt.Errorf("%w: bad range %q in hostlist %q", ErrSyntax, r, s)
			}
			for i := a; i <= b; i++ {
				out = append(out, fmt.Sprintf("%s%0*d%s", prefix, len(lo), i, suffix))
			}
		}
	}
	return out, nil
}
