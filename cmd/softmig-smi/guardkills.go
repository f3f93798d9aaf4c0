// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/softmig/softmig/cmd/softmig-smi/smi"
	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/jobpath"
	"github.com/softmig/softmig/internal/logrec"
)

// guardLogDir is where the job logs are (a variable for tests).
var guardLogDir = defs.LogDir

const (
	maxGuardKills = 10      // lines shown, newest last
	logTail       = 1 << 20 // bytes read from the end of each job log
)

// printGuardKills adds the admin view's list of softmig-guard kills of the
// jobs in rows, from their logs; nothing when there is none. The events are
// what the job logs say: a job's user can write into their own job's log,
// the journal (journalctl -u softmig-guard) has root's copy.
func printGuardKills(w io.Writer, rows []smi.SliceRow) {
	seen := map[string]bool{}
	var kills []logrec.Record
	for _, r := range rows {
		if seen[r.Job] {
			continue
		}
		seen[r.Job] = true
		kills = append(kills, guardKills(jobpath.Log(guardLogDir(), r.Job), r.Job)...)
	}
	if len(kills) == 0 {
		return
	}
	sort.SliceStable(kills, func(i, j int) bool { return kills[i].Time.Before(kills[j].Time) })
	if len(kills) > maxGuardKills {
		kills = kills[len(kills)-maxGuardKills:]
	}
	fmt.Fprintln(w, "\nSoftMig guard kills (softmig-guard(8); newest last):")
	for _, k := range kills {
		gpu, _ := k.Get("gpu")
		reason, _ := k.Get("reason")
		pids, _ := k.Get("pids")
		used, _ := k.Int("used")
		limit, _ := k.Int("limit")
		fmt.Fprintf(w, "  %s  job %-10s GPU %-2s %-10s used %6dMiB  slice %6dMiB  pids %s\n",
			k.Time.Local().Format("2006-01-02 15:04:05"), k.Job, gpu, reason,
			smi.MiB(uint64(used)), smi.MiB(uint64(limit)), pids)
	}
}

// guardKills reads the guard kill events of job from the end of its log.
func guardKills(path, job string) []logrec.Record {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > logTail {
		if _, err := f.Seek(fi.Size()-logTail, io.SeekStart); err != nil { // the first, partial line is skipped
			return nil
		}
	}
	recs, _ := logrec.Records(f, func(logrec.Item) {})
	var out []logrec.Record
	for _, r := range recs {
		if r.Msg == logrec.MsgGuardKill && r.Job == job {
			out = append(out, r)
		}
	}
	return out
}
