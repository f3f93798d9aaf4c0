// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/softmig/softmig/internal/jobpath"
	"github.com/softmig/softmig/internal/logrec"
)

type tailCmd struct {
	Follow bool   `short:"f" help:"Keep reading as the log grows; follows rotation (a new file under the name) and truncation, like tail -F."`
	Lines  int    `short:"n" default:"10" placeholder:"N" help:"Print the last N records first."`
	Job    string `arg:"" help:"Job id (12345), array task (12345_7), pid<N>, or a log file path."`
}

func (c *tailCmd) Run(e *env) error {
	if c.Lines < 0 {
		return fmt.Errorf("-n %d: want a number of records, 0 or more", c.Lines)
	}
	path, err := e.logPath(c.Job)
	if err != nil {
		if !c.Follow || errors.Is(err, errBadJob) || strings.ContainsRune(c.Job, '/') {
			return err
		}
		path = jobpath.Log(e.dir, c.Job)
	}
	f := &follower{
		path:   path,
		last:   c.Lines,
		follow: c.Follow,
		poll:   e.poll,
		out:    e.stdout,
		bad:    func(it logrec.Item) { reportBad(e.stderr, path, it) },
		note:   func(format string, a ...any) { fmt.Fprintf(e.stderr, "softmig-log: "+format+"\n", a...) },
		done:   e.ctx.Done(),
	}
	return f.run()
}

// reportBad writes one skipped line to stderr.
func reportBad(w io.Writer, path string, it logrec.Item) {
	text := it.Raw
	if len(text) > 120 {
		text = text[:120] + "..."
	}
	fmt.Fprintf(w, "softmig-log: %s:%d: skipped: %v: %q\n", path, it.Line, it.Err, text)
}

// follower prints the last records of a log and, with follow, what is
// appended to it later. It polls: at each tick it reads what is new, then
// checks the name: a different file under the name is a rotation (the old
// file is drained first, then the new one is read from its start), a file
// shorter than what was read is a truncation (read again from the start).
// A rewrite that grows the file past the old size between two polls is not
// seen as a truncation, as with tail -F.
type follower struct {
	path   string
	last   int  // records to print from what exists at the start
	follow bool // keep reading
	poll   time.Duration
	out    io.Writer
	bad    func(logrec.Item)
	note   func(format string, a ...any)
	done   <-chan struct{}

	file     *os.File
	info     os.FileInfo
	offset   int64
	line     int
	pending  []byte
	skipping bool // in a line longer than logrec.MaxLine
	catchup  bool // collecting the last records
	recs     []logrec.Item
	bads     []logrec.Item
	buf      []byte
}

func (f *follower) open() error {
	file, err := os.Open(f.path)
	if err != nil {
		return err
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return err
	}
	f.file, f.info, f.offset, f.line, f.pending, f.skipping = file, info, 0, 0, nil, false
	return nil
}

func (f *follower) run() error {
	f.buf = make([]byte, 64<<10)
	f.catchup = true
	err := f.open()
	switch {
	case err == nil:
		defer func() {
			if f.file != nil {
				f.file.Close()
			}
		}()
		if err := f.read(); err != nil {
			return err
		}
	case f.follow && errors.Is(err, os.ErrNotExist):
		f.note("waiting for %s to appear", f.path)
	default:
		return err
	}
	f.flushLast()
	if !f.follow {
		f.endOfFile()
		return nil
	}
	gone := false
	for {
		select {
		case <-f.done:
			return nil
		case <-time.After(f.poll):
		}
		if f.file == nil {
			if err := f.open(); err == nil {
				f.note("%s appeared; following it", f.path)
				if err := f.read(); err != nil {
					return err
				}
			}
			continue
		}
		if err := f.read(); err != nil {
			return err
		}
		st, err := os.Stat(f.path)
		switch {
		case err != nil:
			if !gone {
				f.note("%s is gone; waiting for a new file", f.path)
				gone = true
			}
		case !os.SameFile(st, f.info):
			gone = false
			if err := f.read(); err != nil { // what was written before the rename
				return err
			}
			f.endOfFile()
			f.file.Close()
			f.file = nil
			if err := f.open(); err != nil {
				continue // renamed again already: next tick
			}
			f.note("%s was replaced (rotated); following the new file", f.path)
			if err := f.read(); err != nil {
				return err
			}
		default:
			gone = false
			cur, err := f.file.Stat()
			if err != nil || cur.Size() >= f.offset {
				continue
			}
			f.note("%s was truncated; reading it from the start", f.path)
			f.endOfFile()
			if _, err := f.file.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("%s: %w", f.path, err)
			}
			f.offset, f.line, f.pending, f.skipping = 0, 0, nil, false
			if err := f.read(); err != nil {
				return err
			}
		}
	}
}

// read consumes everything the file holds now.
func (f *follower) read() error {
	for {
		n, err := f.file.Read(f.buf)
		if n > 0 {
			f.offset += int64(n)
			f.consume(f.buf[:n])
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
	}
}

func (f *follower) consume(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			f.addPending(b)
			return
		}
		f.addPending(b[:i])
		f.line++
		if f.skipping {
			f.skipping = false
		} else {
			f.emit(logrec.ParseLine(f.line, string(f.pending)))
		}
		f.pending = f.pending[:0]
		b = b[i+1:]
	}
}

func (f *follower) addPending(b []byte) {
	if f.skipping {
		return
	}
	if len(f.pending)+len(b) > logrec.MaxLine {
		f.skipping = true
		f.emit([]logrec.Item{{Line: f.line + 1, Raw: string(f.pending[:min(len(f.pending), 200)]), Err: logrec.ErrTooLong}})
		f.pending = f.pending[:0]
		return
	}
	f.pending = append(f.pending, b...)
}

// endOfFile reports a partial last line of a file that will not grow.
func (f *follower) endOfFile() {
	if len(f.pending) > 0 && !f.skipping {
		f.emit([]logrec.Item{{Line: f.line + 1, Raw: string(f.pending), Err: logrec.ErrPartial}})
	}
	f.pending, f.skipping = f.pending[:0], false
}

func (f *follower) emit(items []logrec.Item) {
	for _, it := range items {
		switch {
		case !f.catchup && it.Err != nil:
			f.bad(it)
		case !f.catchup:
			fmt.Fprintf(f.out, "%s\n", it.Raw)
		case it.Err != nil:
			f.bads = append(f.bads, it)
			if len(f.bads) > max(f.last, 1) {
				f.bads = f.bads[1:]
			}
		case f.last > 0:
			f.recs = append(f.recs, it)
			if len(f.recs) > f.last {
				f.recs = f.recs[1:]
			}
		}
	}
}

// flushLast prints the last records collected at the start, and the skipped
// lines among them.
func (f *follower) flushLast() {
	f.catchup = false
	from := f.line + 1
	if len(f.recs) > 0 {
		from = f.recs[0].Line
	}
	for _, it := range f.bads {
		if it.Line >= from {
			f.bad(it)
		}
	}
	for _, it := range f.recs {
		fmt.Fprintf(f.out, "%s\n", it.Raw)
	}
	f.recs, f.bads = nil, nil
}
