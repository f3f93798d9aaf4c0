// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/softmig/softmig/cmd/softmig-log/logsum"
	"github.com/softmig/softmig/internal/jobpath"
	"github.com/softmig/softmig/internal/logrec"
)

type lsCmd struct {
	JSON bool `name:"json" help:"A JSON array of objects: job, path, size, modified, records, last_time, last_msg, errors, oom_refused, oom_kills, skipped."`
}

// jobLog is one line of ls.
type jobLog struct {
	Job      string     `json:"job"`
	Path     string     `json:"path"`
	Size     int64      `json:"size"`
	Modified time.Time  `json:"modified"`
	Records  int        `json:"records"`
	LastTime *time.Time `json:"last_time"`
	LastMsg  string     `json:"last_msg"` // the last event (level event or error), else the last record
	Errors   int        `json:"errors"`
	Refused  int64      `json:"oom_refused"` // suppressed refusals included
	Kills    int        `json:"oom_kills"`
	Skipped  int        `json:"skipped"` // lines that are not records
}

// scanLog reads one log for ls.
func scanLog(path string, info os.FileInfo) (*jobLog, error) {
	j := &jobLog{Job: logJob(path), Path: path, Size: info.Size(), Modified: info.ModTime().UTC()}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := logrec.NewReader(f)
	var lastAny, lastEvent *logrec.Record
	for {
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if it.Err != nil {
			j.Skipped++
			continue
		}
		rec := it.Rec
		j.Records++
		lastAny = &rec
		switch rec.Level {
		case logrec.LevelError:
			j.Errors++
			lastEvent = &rec
		case logrec.LevelEvent:
			lastEvent = &rec
		}
		switch rec.Msg {
		case logrec.MsgOOMRefused:
			if rec.CheckEvent() == nil {
				j.Refused += 1 + mustInt(&rec, "suppressed")
			}
		case logrec.MsgOOMKill:
			j.Kills++
		}
	}
	if lastEvent == nil {
		lastEvent = lastAny
	}
	if lastEvent != nil {
		t := lastEvent.Time
		j.LastTime, j.LastMsg = &t, lastEvent.Msg
	}
	return j, nil
}

func mustInt(r *logrec.Record, k string) int64 {
	v, _ := r.Int(k)
	return v
}

// jobLess orders job names numerically: 9 < 10 < 10_2 < 11 < pid5.
func jobLess(a, b string) bool {
	ka, kb := jobKey(a), jobKey(b)
	for i := range ka {
		if ka[i] != kb[i] {
			return ka[i] < kb[i]
		}
	}
	return a < b
}

func jobKey(s string) [3]uint64 {
	kind := uint64(0)
	if rest, ok := strings.CutPrefix(s, "pid"); ok {
		kind, s = 1, rest
	}
	j, t, _ := strings.Cut(s, "_")
	jn, err := strconv.ParseUint(j, 10, 64)
	if err != nil {
		return [3]uint64{2, 0, 0}
	}
	tn, _ := strconv.ParseUint(t, 10, 64)
	return [3]uint64{kind, jn, tn}
}

func (c *lsCmd) Run(e *env) error {
	ents, err := os.ReadDir(e.dir)
	if err != nil {
		return fmt.Errorf("log directory: %w (set it with --dir)", err)
	}
	var logs []*jobLog
	failed := 0
	for _, ent := range ents {
		name := ent.Name()
		if _, isLog := jobpath.LogJob(name); !isLog || !ent.Type().IsRegular() {
			continue
		}
		path := filepath.Join(e.dir, name)
		info, err := ent.Info()
		if err == nil {
			var j *jobLog
			if j, err = scanLog(path, info); err == nil {
				logs = append(logs, j)
				continue
			}
		}
		fmt.Fprintf(e.stderr, "softmig-log: %v\n", err)
		failed++
	}
	sort.Slice(logs, func(i, j int) bool { return jobLess(logs[i].Job, logs[j].Job) })
	if c.JSON {
		if logs == nil {
			logs = []*jobLog{}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(logs); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "JOB\tSIZE\tRECORDS\tLAST\tEVENT\tERRORS\tOOM REFUSED\tOOM KILLS\tSKIPPED")
		for _, j := range logs {
			last, msg := "-", "-"
			if j.LastTime != nil {
				last, msg = j.LastTime.Format(timeLayout), j.LastMsg
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%d\n", j.Job, logsum.FormatSize(j.Size), j.Records, last, msg, j.Errors, j.Refused, j.Kills, j.Skipped)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of the logs in %q could not be read", failed, e.dir)
	}
	return nil
}

// timeLayout is how the human outputs write times: UTC, to the second, like
// the log's own timestamps without the fraction.
const timeLayout = "2006-01-02T15:04:05Z"
