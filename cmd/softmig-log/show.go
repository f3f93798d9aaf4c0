// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/softmig/softmig/internal/logrec"
)

type showCmd struct {
	Level []string `placeholder:"LEVEL" sep:"," help:"Only these levels (error, event, warn, debug, info, trace), or 0-4 for what SOFTMIG_LOG_LEVEL=N writes."`
	Since string   `placeholder:"TIME" help:"Only records at or after TIME: RFC 3339 (2026-11-25T21:00:00Z), a local date and time (2026-11-25 21:00), a date, or a duration ago (90m, 2h, 3d)."`
	PID   []int    `name:"pid" placeholder:"PID" sep:"," help:"Only records of these processes."`
	Grep  string   `placeholder:"REGEXP" help:"Only records whose line matches REGEXP (Go syntax)."`
	JSON  bool     `name:"json" help:"One JSON object per record: line, ts, level, job, pid, dev (null for none), msg, fields (string values, in line order)."`
	Job   string   `arg:"" help:"Job id (12345), array task (12345_7), pid<N>, or a log file path."`
}

// filter is the conjunction of show's options.
type filter struct {
	levels map[logrec.Level]bool
	since  time.Time
	pids   map[int]bool
	grep   *regexp.Regexp
}

func (c *showCmd) filter(now time.Time) (*filter, error) {
	f := &filter{}
	if len(c.Level) > 0 {
		f.levels = map[logrec.Level]bool{}
		for _, s := range c.Level {
			s = strings.TrimSpace(s)
			if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 4 {
				for _, l := range logrec.Levels {
					if l.Verbosity() <= n {
						f.levels[l] = true
					}
				}
				continue
			}
			l, err := logrec.ParseLevel(s)
			if err != nil {
				return nil, fmt.Errorf("--level: %w, or 0-4", err)
			}
			f.levels[l] = true
		}
	}
	if c.Since != "" {
		t, err := parseSince(c.Since, now)
		if err != nil {
			return nil, err
		}
		f.since = t
	}
	if len(c.PID) > 0 {
		f.pids = map[int]bool{}
		for _, p := range c.PID {
			f.pids[p] = true
		}
	}
	if c.Grep != "" {
		re, err := regexp.Compile(c.Grep)
		if err != nil {
			return nil, fmt.Errorf("--grep %q: %w", c.Grep, err)
		}
		f.grep = re
	}
	return f, nil
}

func (f *filter) match(it *logrec.Item) bool {
	r := &it.Rec
	return (f.levels == nil || f.levels[r.Level]) &&
		(f.since.IsZero() || !r.Time.Before(f.since)) &&
		(f.pids == nil || f.pids[r.PID]) &&
		(f.grep == nil || f.grep.MatchString(it.Raw))
}

var errSince = errors.New("--since: want RFC 3339 (2026-11-25T21:00:00Z), a local date and time (2026-11-25 21:00[:05]), a date (2026-11-25) or a duration ago (90s, 15m, 2h, 3d)")

// parseSince reads --since.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%w; got %q", errSince, s)
}

func (c *showCmd) Run(e *env) error {
	flt, err := c.filter(e.now())
	if err != nil {
		return err
	}
	path, err := e.logPath(c.Job)
	if err != nil {
		return err
	}
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	r := logrec.NewReader(file)
	var jb []byte
	for {
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if it.Err != nil {
			reportBad(e.stderr, path, it)
			continue
		}
		if !flt.match(&it) {
			continue
		}
		if c.JSON {
			jb = appendJSON(jb[:0], &it)
			if _, err := e.stdout.Write(jb); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintf(e.stdout, "%s\n", it.Raw); err != nil {
			return err
		}
	}
}

// appendJSON writes one record as a JSON line. Fields keep their order
// (encoding/json would sort a map).
func appendJSON(b []byte, it *logrec.Item) []byte {
	r := &it.Rec
	b = append(b, `{"line":`...)
	b = strconv.AppendInt(b, int64(it.Line), 10)
	b = append(b, `,"ts":`...)
	b = appendJSONString(b, r.Time.Format(logrec.TimeLayout))
	b = append(b, `,"level":`...)
	b = appendJSONString(b, r.Level.String())
	b = append(b, `,"job":`...)
	b = appendJSONString(b, r.Job)
	b = append(b, `,"pid":`...)
	b = strconv.AppendInt(b, int64(r.PID), 10)
	b = append(b, `,"dev":`...)
	if r.Dev == logrec.NoDev {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(r.Dev), 10)
	}
	b = append(b, `,"msg":`...)
	b = appendJSONString(b, r.Msg)
	b = append(b, `,"fields":{`...)
	for i, f := range r.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.Key)
		b = append(b, ':')
		b = appendJSONString(b, f.Value)
	}
	return append(b, "}}\n"...)
}

func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
