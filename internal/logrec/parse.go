// SPDX-License-Identifier: Apache-2.0

package logrec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrSyntax is wrapped by every error of Parse.
var ErrSyntax = errors.New("not a softmig log record")

// SyntaxError says where and why a line is not a record.
type SyntaxError struct {
	Col    int // byte offset in the line, from 1
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%v: column %d: %s", ErrSyntax, e.Col, e.Reason)
}

func (e *SyntaxError) Unwrap() error { return ErrSyntax }

func synErr(col int, format string, a ...any) error {
	return &SyntaxError{Col: col + 1, Reason: fmt.Sprintf(format, a...)}
}

type pair struct {
	key, val string
	quoted   bool
	col      int
}

// splitPairs splits a logfmt line into key=value pairs. Pairs are separated
// by one or more spaces; a value is either bare (up to the next space) or
// quoted with the escapes described in the package comment.
func splitPairs(line string) ([]pair, error) {
	var ps []pair
	i := 0
	for i < len(line) {
		if line[i] == ' ' {
			i++
			continue
		}
		start := i
		for i < len(line) && line[i] != '=' && line[i] != ' ' && line[i] != '"' {
			i++
		}
		key := line[start:i]
		if i >= len(line) || line[i] != '=' {
			return nil, synErr(start, "%q is not key=value", clip(line[start:], 24))
		}
		if !keyRe.MatchString(key) {
			return nil, synErr(start, "bad key %q", clip(key, 24))
		}
		i++ // '='
		p := pair{key: key, col: start}
		if i < len(line) && line[i] == '"' {
			v, n, err := unquote(line[i:])
			if err != nil {
				return nil, synErr(i, "value of %s: %v", key, err)
			}
			p.val, p.quoted = v, true
			i += n
			if i < len(line) && line[i] != ' ' {
				return nil, synErr(i, "no space after the quoted value of %s", key)
			}
		} else {
			vs := i
			for i < len(line) && line[i] != ' ' {
				if line[i] == '"' {
					return nil, synErr(i, "stray quote in the value of %s", key)
				}
				i++
			}
			p.val = line[vs:i]
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// unquote decodes the quoted string at the start of s and returns it and the
// number of bytes it took, quotes included.
func unquote(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), i + 1, nil
		case c == '\\':
			if i+1 >= len(s) {
				return "", 0, errors.New("unterminated quote")
			}
			i++
			switch s[i] {
			case '"', '\\':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'x':
				if i+2 >= len(s) {
					return "", 0, errors.New("short \\x escape")
				}
				n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
				if err != nil {
					return "", 0, fmt.Errorf("bad escape \\x%s", s[i+1:i+3])
				}
				b.WriteByte(byte(n))
				i += 2
			default:
				return "", 0, fmt.Errorf("bad escape \\%c", s[i])
			}
		case c < 0x20 || c == 0x7f:
			return "", 0, fmt.Errorf("control byte 0x%02x inside quotes", c)
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errors.New("unterminated quote")
}

// Parse parses one log line (a trailing newline is allowed). It checks the
// structure (the header keys ts, level, job, pid, dev, msg in this order, msg
// quoted, no key twice) and the header values; the keys an event must carry
// are checked by Record.CheckEvent.
func Parse(line string) (Record, error) {
	line = strings.TrimSuffix(line, "\n")
	var r Record
	if line == "" {
		return r, synErr(0, "empty line")
	}
	ps, err := splitPairs(line)
	if err != nil {
		return r, err
	}
	for i, h := range headerKeys {
		if i >= len(ps) {
			return r, synErr(len(line), "missing key %s", h)
		}
		if ps[i].key != h {
			return r, synErr(ps[i].col, "key %s where %s was expected", ps[i].key, h)
		}
	}
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		if seen[p.key] {
			return r, synErr(p.col, "key %s twice (two records on one line: interleaved writers?)", p.key)
		}
		seen[p.key] = true
	}
	ts, lvl, job, pid, dev, msg := ps[0], ps[1], ps[2], ps[3], ps[4], ps[5]
	if r.Time, err = time.Parse(time.RFC3339Nano, ts.val); err != nil {
		return r, synErr(ts.col, "bad ts %q (want RFC 3339, like 2026-11-25T21:39:37.123456Z)", clip(ts.val, 40))
	}
	r.Time = r.Time.UTC()
	if r.Level, err = ParseLevel(lvl.val); err != nil {
		return r, synErr(lvl.col, "%v", err)
	}
	if job.val != NoJob && !jobRe.MatchString(job.val) {
		return r, synErr(job.col, "bad job %q (want digits, digits_digits or -)", clip(job.val, 24))
	}
	r.Job = job.val
	if r.PID, err = strconv.Atoi(pid.val); err != nil || r.PID <= 0 || pid.val[0] == '+' {
		return r, synErr(pid.col, "bad pid %q", clip(pid.val, 24))
	}
	if dev.val == "-" {
		r.Dev = NoDev
	} else if r.Dev, err = strconv.Atoi(dev.val); err != nil || r.Dev < 0 || dev.val[0] == '+' {
		return r, synErr(dev.col, "bad dev %q (want a CUDA ordinal or -)", clip(dev.val, 24))
	}
	if !msg.quoted {
		return r, synErr(msg.col, "msg is not quoted")
	}
	r.Msg = msg.val
	if len(ps) > len(headerKeys) {
		r.Fields = make([]Field, 0, len(ps)-len(headerKeys))
		for _, p := range ps[len(headerKeys):] {
			r.Fields = append(r.Fields, Field{p.key, p.val})
		}
	}
	return r, nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
