// SPDX-License-Identifier: Apache-2.0

package size

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestVectors checks every line of the vectors shared with the C library.
func TestVectors(t *testing.T) {
	f, err := os.Open("../../testdata/sizes.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		in, want, ok := strings.Cut(text, "\t")
		if !ok {
			t.Fatalf("sizes.tsv:%d: no tab in %q", line, text)
		}
		if in == "<empty>" {
			in = ""
		}
		n++
		got, err := Parse(in)
		if want == "error" {
			if err == nil || !errors.Is(err, ErrSyntax) {
				t.Errorf("sizes.tsv:%d: Parse(%q) = %d, %v; want an ErrSyntax error", line, in, got, err)
			}
			continue
		}
		w, perr := strconv.ParseUint(want, 10, 64)
		if perr != nil {
			t.Fatalf("sizes.tsv:%d: bad expected value %q", line, want)
		}
		if err != nil || got != w {
			t.Errorf("sizes.tsv:%d: Parse(%q) = %d, %v; want %d", line, in, got, err, w)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 40 {
		t.Fatalf("only %d vectors read from sizes.tsv", n)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		in   uint64
		want string
	}{
		{0, "0"},
		{1, "1"},
		{MiB, "1M"},
		{12 * GiB, "12288M"},
		{MiB + 1, "1048577"},
		{46068 * MiB / 4, "11517M"},
		{10 * GiB / 3, "3579139413"},
		{^uint64(0), "18446744073709551615"},
	} {
		got := Format(tc.in)
		if got != tc.want {
			t.Errorf("Format(%d) = %q, want %q", tc.in, got, tc.want)
		}
		back, err := Parse(got)
		if err != nil || back != tc.in {
			t.Errorf("Parse(Format(%d)) = %d, %v", tc.in, back, err)
		}
	}
}

func TestHuman(t *testing.T) {
	for _, tc := range []struct {
		in   uint64
		want string
	}{
		{100, "100 B"},
		{512 * KiB, "512 KiB"},
		{512 * MiB, "512 MiB"},
		{12 * GiB, "12.0 GiB"},
		{2 * TiB, "2.0 TiB"},
	} {
		if got := Human(tc.in); got != tc.want {
			t.Errorf("Human(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
