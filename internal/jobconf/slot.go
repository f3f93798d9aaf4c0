// SPDX-License-Identifier: Apache-2.0

package jobconf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits of a time slot (SOFTMIG_SM_SLOT) and of a Slurm GPU index
// (SOFTMIG_GPU_<i>).
const (
	MaxSlotRanges = 8
	MaxGPUIndex   = 1023
)

// Range is the part [Start, End) of the compute period, in percent.
type Range struct {
	Start, End int
}

// Slot is a job's time slot on one GPU: the parts of the compute period in
// which it may launch kernels. A valid slot has 1 to 8 ranges, each
// 0 <= Start < End <= 100, ascending, neither overlapping nor adjacent.
type Slot []Range

// ParseSlot parses "A-B[,C-D...]" (contract 2, SOFTMIG_SM_SLOT): integer
// percent ranges [A,B), strictly ascending, not overlapping, adjacent ranges
// merged, at most 8, no spaces, no leading zeros.
func ParseSlot(s string) (Slot, error) {
	if s == "" {
		return nil, errors.New(`empty slot: want percent ranges "A-B[,C-D...]" such as "0-25"`)
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxSlotRanges {
		return nil, fmt.Errorf("%q has %d ranges: at most %d", s, len(parts), MaxSlotRanges)
	}
	var out Slot
	for _, p := range parts {
		a, b, ok := strings.Cut(p, "-")
		if !ok {
			return nil, fmt.Errorf("%q: range %q is not A-B (integer percents, A < B)", s, p)
		}
		start, err1 := percent(a)
		end, err2 := percent(b)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%q: range %q: %w", s, p, err)
		}
		if start >= end {
			return nil, fmt.Errorf("%q: range %q is empty or reversed: want A < B", s, p)
		}
		if n := len(out); n > 0 {
			prev := out[n-1]
			switch {
			case start < prev.End:
				return nil, fmt.Errorf("%q: range %q overlaps or precedes %d-%d: ranges must ascend without overlap", s, p, prev.Start, prev.End)
			case start == prev.End:
				return nil, fmt.Errorf("%q: ranges %d-%d and %q touch: write them merged as %d-%d", s, prev.Start, prev.End, p, prev.Start, end)
			}
		}
		out = append(out, Range{start, end})
	}
	return out, nil
}

// percent parses an integer 0..100 written without sign, spaces or leading
// zeros.
func percent(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 100 || strconv.Itoa(n) != s {
		return 0, fmt.Errorf("%q is not an integer percent 0-100 (no spaces, no leading zeros)", s)
	}
	return n, nil
}

// String writes s in the config syntax ("0-25,50-75").
func (s Slot) String() string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-%d", r.Start, r.End)
	}
	return b.String()
}

// Len is the slot's share of the period in percent.
func (s Slot) Len() int {
	n := 0
	for _, r := range s {
		n += r.End - r.Start
	}
	return n
}

// Unit is unit k of a period cut into n units: [floor(100k/n), floor(100(k+1)/n)).
func Unit(k, n int) Range {
	return Range{100 * k / n, 100 * (k + 1) / n}
}

// Units returns, in ascending order, the units of a period of n units that
// the slot overlaps (touches in more than a point).
func (s Slot) Units(n int) []int {
	var out []int
	for k := 0; k < n; k++ {
		u := Unit(k, n)
		for _, r := range s {
			if r.Start < u.End && u.Start < r.End {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

// SlotOf merges units (of a period of n units, ascending, distinct) into a
// slot; adjacent units become one range.
func SlotOf(units []int, n int) Slot {
	var out Slot
	for _, k := range units {
		u := Unit(k, n)
		if l := len(out); l > 0 && out[l-1].End == u.Start {
			out[l-1].End = u.End
			continue
		}
		out = append(out, u)
	}
	return out
}

// SlotFor is the slot of CUDA ordinal ord: its own, else the one for every
// device; nil when none.
func (c *Config) SlotFor(ord int) Slot {
	if s, ok := c.DeviceSMSlot[ord]; ok {
		return s
	}
	return c.SMSlot
}

// SMLimitFor is the SM limit of CUDA ordinal ord: its own, else the one for
// every device; ok is false when none is set.
func (c *Config) SMLimitFor(ord int) (int, bool) {
	if v, ok := c.DeviceSMLimit[ord]; ok {
		return v, true
	}
	if c.SMLimit != nil {
		return *c.SMLimit, true
	}
	return 0, false
}
