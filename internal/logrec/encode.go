// SPDX-License-Identifier: Apache-2.0

package logrec

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"
)

// TimeLayout is the layout of the ts key: RFC 3339, UTC, microseconds.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// headerKeys are the keys every line starts with, in this order.
var headerKeys = [...]string{"ts", "level", "job", "pid", "dev", "msg"}

var (
	jobRe = regexp.MustCompile(`^[0-9]+(_[0-9]+)?$`)
	keyRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// ErrRecord is wrapped by the errors of Format and Encode for a record that
// cannot be written.
var ErrRecord = errors.New("invalid record")

func isHeaderKey(k string) bool {
	for _, h := range headerKeys {
		if h == k {
			return true
		}
	}
	return false
}

func validate(r *Record) error {
	switch {
	case r.Time.IsZero():
		return fmt.Errorf("%w: no time", ErrRecord)
	case !r.Level.Valid():
		return fmt.Errorf("%w: %s", ErrRecord, r.Level)
	case r.Job != NoJob && !jobRe.MatchString(r.Job):
		return fmt.Errorf("%w: job %q (want digits, digits_digits or -)", ErrRecord, r.Job)
	case r.PID <= 0:
		return fmt.Errorf("%w: pid %d", ErrRecord, r.PID)
	case r.Dev < NoDev:
		return fmt.Errorf("%w: dev %d", ErrRecord, r.Dev)
	}
	seen := map[string]bool{}
	for _, f := range r.Fields {
		if !keyRe.MatchString(f.Key) {
			return fmt.Errorf("%w: key %q (want letters, digits, '_', '.', '-')", ErrRecord, f.Key)
		}
		if isHeaderKey(f.Key) || seen[f.Key] {
			return fmt.Errorf("%w: duplicate key %q", ErrRecord, f.Key)
		}
		seen[f.Key] = true
	}
	return nil
}

// needsQuote reports whether v must be written quoted.
func needsQuote(v string) bool {
	if v == "" {
		return true
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '=' || c == '"' || c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

func appendQuoted(b []byte, v string) []byte {
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func appendValue(b []byte, v string) []byte {
	if needsQuote(v) {
		return appendQuoted(b, v)
	}
	return append(b, v...)
}

// AppendRecord appends r in the exact format, with its newline, to b.
func AppendRecord(b []byte, r *Record) ([]byte, error) {
	if err := validate(r); err != nil {
		return b, err
	}
	b = append(b, "ts="...)
	b = r.Time.UTC().AppendFormat(b, TimeLayout)
	b = append(b, " level="...)
	b = append(b, r.Level.String()...)
	b = append(b, " job="...)
	b = append(b, r.Job...)
	b = append(b, " pid="...)
	b = strconv.AppendInt(b, int64(r.PID), 10)
	b = append(b, " dev="...)
	if r.Dev == NoDev {
		b = append(b, '-')
	} else {
		b = strconv.AppendInt(b, int64(r.Dev), 10)
	}
	b = append(b, " msg="...)
	b = appendQuoted(b, r.Msg)
	for _, f := range r.Fields {
		b = append(b, ' ')
		b = append(b, f.Key...)
		b = append(b, '=')
		b = appendValue(b, f.Value)
	}
	return append(b, '\n'), nil
}

// Format returns r as one line in the exact format, without its newline.
func Format(r Record) (string, error) {
	b, err := AppendRecord(nil, &r)
	if err != nil {
		return "", err
	}
	return string(b[:len(b)-1]), nil
}

// Encoder writes records to a stream, one line per Write call, as the C
// library does (a single write(2) of a whole line on an O_APPEND file).
type Encoder struct {
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Encode writes r and its newline.
func (e *Encoder) Encode(r Record) error {
	b, err := AppendRecord(e.buf[:0], &r)
	if err != nil {
		return err
	}
	e.buf = b
	if _, err := e.w.Write(b); err != nil {
		return fmt.Errorf("logrec: write: %w", err)
	}
	return nil
}

// Event is a convenience for tests and tools: a record at level event (or
// error for "config error") with the given further keys, in order, as
// key, value pairs.
func Event(t time.Time, job string, pid, dev int, msg string, kv ...string) Record {
	lvl := LevelEvent
	if msg == MsgConfigError {
		lvl = LevelError
	}
	if len(kv)%2 != 0 {
		panic("logrec.Event: odd number of key, value arguments")
	}
	r := Record{Time: t, Level: lvl, Job: job, PID: pid, Dev: dev, Msg: msg}
	for i := 0; i < len(kv); i += 2 {
		r.Fields = append(r.Fields, Field{kv[i], kv[i+1]})
	}
	return r
}
