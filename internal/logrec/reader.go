// SPDX-License-Identifier: Apache-2.0

package logrec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxLine is the longest line a Reader accepts; longer lines are skipped.
const MaxLine = 64 << 10

// Errors of skipped lines, wrapped in Item.Err.
var (
	ErrPartial     = errors.New("partial last line (no newline: the writer was cut off or is still writing)")
	ErrInterleaved = errors.New("fragment of a line from another writer, before a whole record")
	ErrTooLong     = fmt.Errorf("line longer than %d bytes", MaxLine)
)

// Item is one record of a log, or one skipped line (Err set).
type Item struct {
	Line int    // line number in the file, from 1
	Raw  string // the record's text, or the skipped text; no newline
	Rec  Record // valid when Err is nil
	Err  error  // why the line was skipped
}

// Error describes a skipped line: "line 17: <why>: <start of the text>".
func (it Item) Error() string {
	if it.Err == nil {
		return ""
	}
	return fmt.Sprintf("line %d: %v: %q", it.Line, it.Err, clip(it.Raw, 80))
}

// ParseLine parses line number n of a log. It returns one item, a record or a
// skipped line, except when writes of two processes interleaved: a line that
// does not parse but ends with a whole record is split there, the record is
// kept, and what comes before it is kept too if it is itself a record (two
// lines glued together) or reported as a fragment (ErrInterleaved).
func ParseLine(n int, line string) []Item {
	return parseLine(n, strings.TrimSuffix(line, "\n"), 0)
}

// maxSplits bounds the work spent looking for records inside a bad line.
const maxSplits = 16

func parseLine(n int, line string, depth int) []Item {
	rec, err := Parse(line)
	if err == nil {
		return []Item{{Line: n, Raw: line, Rec: rec}}
	}
	if depth < maxSplits {
		tries := 0
		for i := 1; i < len(line) && tries < maxSplits; i++ {
			j := strings.Index(line[i:], "ts=")
			if j < 0 {
				break
			}
			i += j
			tries++
			r2, err2 := Parse(line[i:])
			if err2 != nil {
				continue
			}
			tail := Item{Line: n, Raw: line[i:], Rec: r2}
			head := strings.TrimRight(line[:i], " ")
			if head == "" {
				return []Item{tail}
			}
			items := parseLine(n, head, depth+1)
			for k := range items {
				if items[k].Err != nil {
					items[k].Err = ErrInterleaved
				}
			}
			return append(items, tail)
		}
	}
	return []Item{{Line: n, Raw: line, Err: err}}
}

// Reader reads the items of a log stream.
type Reader struct {
	br      *bufio.Reader
	line    int
	pending []Item
	err     error
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next item: a record, or a skipped line with its reason.
// It returns io.EOF at the end, or the error that stopped reading.
func (r *Reader) Next() (Item, error) {
	for len(r.pending) == 0 {
		if r.err != nil {
			return Item{}, r.err
		}
		r.fill()
	}
	it := r.pending[0]
	r.pending = r.pending[1:]
	return it, nil
}

// fill reads one line into r.pending or sets r.err.
func (r *Reader) fill() {
	var buf []byte
	tooLong := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > MaxLine+1 {
				tooLong = true
				buf = append(buf, chunk[:min(len(chunk), 200)]...)
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil:
			r.line++
			if tooLong {
				r.pending = append(r.pending, Item{Line: r.line, Raw: string(buf), Err: ErrTooLong})
				return
			}
			r.pending = append(r.pending, ParseLine(r.line, string(buf))...)
			return
		default:
			if len(buf) > 0 {
				r.line++
				r.pending = append(r.pending, Item{Line: r.line, Raw: string(buf), Err: ErrPartial})
			}
			r.err = err
			return
		}
	}
}

// Records reads every record of r. Skipped lines are passed to bad (which
// may be nil); a read error other than io.EOF is returned.
func Records(r io.Reader, bad func(Item)) ([]Record, error) {
	var recs []Record
	rd := NewReader(r)
	for {
		it, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		if it.Err != nil {
			if bad != nil {
				bad(it)
			}
			continue
		}
		recs = append(recs, it.Rec)
	}
}

// ReadFile reads the log at path: its records, and the lines it skipped.
func ReadFile(path string) (recs []Record, skipped []Item, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	recs, err = Records(f, func(it Item) { skipped = append(skipped, it) })
	if err != nil {
		return recs, skipped, fmt.Errorf("%s: %w", path, err)
	}
	return recs, skipped, nil
}

// ErrNotCanonical is wrapped by Canonical for a record that parses but is
// not written the way Format writes it.
var ErrNotCanonical = errors.New("not in canonical form")

// Canonical checks one line written by a SoftMig writer (the C library
// under test): it must parse, carry the keys its event needs, and be
// byte for byte what Format writes for the same record.
func Canonical(line string) error {
	line = strings.TrimSuffix(line, "\n")
	r, err := Parse(line)
	if err != nil {
		return err
	}
	if err := r.CheckEvent(); err != nil {
		return err
	}
	want, err := Format(r)
	if err != nil {
		return err
	}
	if want != line {
		i := 0
		for i < len(want) && i < len(line) && want[i] == line[i] {
			i++
		}
		return fmt.Errorf("%w: differs at column %d: got %q, want %q", ErrNotCanonical, i+1, clip(line[i:], 40), clip(want[i:], 40))
	}
	return nil
}
