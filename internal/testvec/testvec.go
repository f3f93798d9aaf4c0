// SPDX-License-Identifier: Apache-2.0

// Package testvec reads the test vectors in testdata/ that the library's C
// unit tests (test/cprog/unit.c, driven by test/preload) and the Go tests
// share (testdata/README describes the files), and lays out on disk the
// job-config files and directories they describe. One reader for both
// sides: a vector means the same thing to the C and the Go test.
package testvec

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// Line is one vector line split at tabs, with its position for messages.
type Line struct {
	File   string // path relative to the repository root
	N      int    // line number
	Fields []string
}

func (l Line) String() string { return l.File + ":" + strconv.Itoa(l.N) }

// Lines reads a vector file (relative to the repository root): every line
// that is neither blank nor a comment, split at tabs. A line with fewer
// than minFields fields fails the test.
func Lines(t testing.TB, file string, minFields int) []Line {
	t.Helper()
	f, err := os.Open(filepath.Join(testutil.Root(t), file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		l := Line{File: file, N: n, Fields: strings.Split(text, "\t")}
		if len(l.Fields) < minFields {
			t.Fatalf("%s: %d fields, want at least %d (tab-separated)", l, len(l.Fields), minFields)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no vectors", file)
	}
	return out
}

// Unescape undoes the escapes of vector fields: \n, \t, \r, \\ and \xHH
// (any byte); a backslash before any other character stands for that
// character. A field "<empty>" is the empty string.
func Unescape(s string) string {
	if s == "<empty>" {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'x':
			if i+2 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
					b.WriteByte(byte(v))
					i += 2
					continue
				}
			}
			b.WriteByte('x')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// Escape writes s as a vector field (the inverse of Unescape).
func Escape(s string) string {
	if s == "" {
		return "<empty>"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\x` + strconv.FormatUint(uint64(c)|0x100, 16)[1:])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
