// SPDX-License-Identifier: Apache-2.0

// Package size parses and formats memory sizes in SoftMig's one syntax
// (docs/contracts.md, section 3): digits with an optional binary unit.
package size

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("invalid size")

// Binary units (contract 3: 1 KiB = 1024 bytes).
const (
	KiB uint64 = 1 << 10
	MiB uint64 = 1 << 20
	GiB uint64 = 1 << 30
	TiB uint64 = 1 << 40
)

// Parse reads a size such as "16g", "24G", "12288M", "12GB", "12GiB",
// "512k", "100B" or plain bytes. Units are binary (1k = 1024), optionally
// followed by "B"/"b" or "iB"/"ib". Only digits are accepted before the
// unit: no sign, fraction, exponent, space or separator. A value that does
// not fit in 64 bits is an error.
func Parse(s string) (uint64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%w %q: want digits with an optional unit k, M, G or T (e.g. 16g, 12288M)", ErrSyntax, s)
	}
	n, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: larger than 64 bits", ErrSyntax, s)
	}
	mult, ok := unit(s[i:])
	if !ok {
		return 0, fmt.Errorf("%w %q: unknown unit %q; use k, M, G or T (binary), optionally followed by B or iB", ErrSyntax, s, s[i:])
	}
	if n > math.MaxUint64/mult {
		return 0, fmt.Errorf("%w %q: larger than 64 bits", ErrSyntax, s)
	}
	return n * mult, nil
}

// unit returns the multiplier for a unit suffix ("" is bytes).
func unit(u string) (uint64, bool) {
	switch u {
	case "", "B", "b":
		return 1, true
	}
	var mult uint64
	switch u[0] {
	case 'k', 'K':
		mult = KiB
	case 'm', 'M':
		mult = MiB
	case 'g', 'G':
		mult = GiB
	case 't', 'T':
		mult = TiB
	default:
		return 0, false
	}
	switch u[1:] {
	case "", "B", "b", "iB", "ib":
		return mult, true
	}
	return 0, false
}

// Format writes n exactly in the syntax Parse reads: "<n>M" when n is a
// whole number of MiB, otherwise plain bytes. Parse(Format(n)) == n.
func Format(n uint64) string {
	if n != 0 && n%MiB == 0 {
		return strconv.FormatUint(n/MiB, 10) + "M"
	}
	return strconv.FormatUint(n, 10)
}

// Human writes n for people, in the largest binary unit that keeps one
// decimal ("12.0 GiB", "512 MiB", "100 B"). It is not meant to be parsed.
func Human(n uint64) string {
	switch {
	case n >= TiB:
		return fmt.Sprintf("%.1f TiB", float64(n)/float64(TiB))
	case n >= GiB:
		return fmt.Sprintf("%.1f GiB", float64(n)/float64(GiB))
	case n >= MiB:
		return fmt.Sprintf("%.0f MiB", float64(n)/float64(MiB))
	case n >= KiB:
		return fmt.Sprintf("%.0f KiB", float64(n)/float64(KiB))
	}
	return fmt.Sprintf("%d B", n)
}
