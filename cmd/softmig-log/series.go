// SPDX-License-Identifier: Apache-2.0

package main

import (
	"sort"
	"time"

	"github.com/softmig/softmig/internal/logrec"
)

// point is one figure at one time.
type point struct {
	t time.Time
	v float64
}

// devSeries is what a job's log says about one device (CUDA ordinal of the
// job) over time: what softmig-log plot draws.
type devSeries struct {
	dev  int
	uuid string

	slice   []point // the memory slice, bytes (holds until the next point)
	smLimit []point // the share of GPU time the job is given, 0 to 1 (holds likewise)
	held    []point // memory the job held, bytes: its peak when a process exited, its use at a refusal
	asked   []point // memory the job asked to hold at a refusal: used + requested, bytes
	kills   []point // a process killed (library's OOM killer or softmig-guard); v unused
	// heldBack is the fraction of time a process was held back (throttled)
	// since its previous throttle line or its attach.
	heldBack []point
	// share is the fraction of the GPU's time the job used, from
	// softmig-guard's "gpu time" records (each over its window).
	share []point
}

// jobSeries gathers the series of a job's log, device by device.
type jobSeries struct {
	devs        map[int]*devSeries
	first, last time.Time
	records     int
	since       map[[2]int]time.Time // (pid, dev): start of the current throttle interval
}

func newJobSeries() *jobSeries {
	return &jobSeries{devs: map[int]*devSeries{}, since: map[[2]int]time.Time{}}
}

// seriesOf says, for each event that carries a figure over time, what it
// adds to its device's series. Events are checked first (CheckEvent), so
// their keys are there. A new kind of record (the daemon's per-job time
// records: share used, lent, paused) is one more entry here and, where it
// brings a new series, one more line in plot.go.
var seriesOf = map[string]func(s *jobSeries, d *devSeries, r *logrec.Record){
	logrec.MsgDeviceAttach: func(s *jobSeries, d *devSeries, r *logrec.Record) {
		d.uuid, _ = r.Get("uuid")
		if lim := must(r, "mem_limit"); lim > 0 {
			d.slice = append(d.slice, point{r.Time, float64(lim)})
		}
		d.smLimit = append(d.smLimit, point{r.Time, smShare(must(r, "sm_limit"))})
		s.since[[2]int{r.PID, r.Dev}] = r.Time
	},
	logrec.MsgProcessExit: func(s *jobSeries, d *devSeries, r *logrec.Record) {
		d.held = append(d.held, point{r.Time, float64(must(r, "peak"))})
	},
	logrec.MsgOOMRefused: func(s *jobSeries, d *devSeries, r *logrec.Record) {
		used := must(r, "used")
		d.held = append(d.held, point{r.Time, float64(used)})
		d.asked = append(d.asked, point{r.Time, float64(used + must(r, "requested"))})
		if len(d.slice) == 0 {
			d.slice = append(d.slice, point{r.Time, float64(must(r, "limit"))})
		}
	},
	logrec.MsgOOMKill: func(s *jobSeries, d *devSeries, r *logrec.Record) {
		d.kills = append(d.kills, point{t: r.Time})
	},
	logrec.MsgGuardKill: func(s *jobSeries, d *devSeries, r *logrec.Record) {
		d.kills = append(d.kills, point{t: r.Time})
	},
	logrec.MsgGPUTime: func(s *jobSeries, d *devSeries, r *logrec.Record) {
		if win := must(r, "window_ms"); win > 0 {
			d.share = append(d.share, point{r.Time, float64(must(r, "used_ms")) / float64(win)})
		}
		if len(d.smLimit) == 0 {
			d.smLimit = append(d.smLimit, point{r.Time, smShare(must(r, "share"))})
		}
	},
	logrec.MsgThrottle: func(s *jobSeries, d *devSeries, r *logrec.Record) {
		key := [2]int{r.PID, r.Dev}
		if from, ok := s.since[key]; ok && r.Time.After(from) {
			frac := float64(must(r, "throttled_ms")) / (r.Time.Sub(from).Seconds() * 1000)
			d.heldBack = append(d.heldBack, point{r.Time, min(frac, 1)})
		}
		s.since[key] = r.Time
		if len(d.smLimit) == 0 {
			d.smLimit = append(d.smLimit, point{r.Time, smShare(must(r, "sm_limit"))})
		}
	},
}

// smShare turns an SM limit in percent into a share; 0 and 100 (no limit)
// are the whole GPU.
func smShare(pct int64) float64 {
	if pct <= 0 || pct >= 100 {
		return 1
	}
	return float64(pct) / 100
}

// must returns the integer value of a key CheckEvent has verified.
func must(r *logrec.Record, k string) int64 {
	v, _ := r.Int(k)
	return v
}

// add accounts one record of the log.
func (s *jobSeries) add(r logrec.Record, _ int) {
	if s.records == 0 || r.Time.Before(s.first) {
		s.first = r.Time
	}
	if s.records == 0 || r.Time.After(s.last) {
		s.last = r.Time
	}
	s.records++
	f := seriesOf[r.Msg]
	if f == nil || r.Dev == logrec.NoDev || r.CheckEvent() != nil {
		return
	}
	d := s.devs[r.Dev]
	if d == nil {
		d = &devSeries{dev: r.Dev}
		s.devs[r.Dev] = d
	}
	f(s, d, &r)
}

// devices returns the devices with a series, by ordinal.
func (s *jobSeries) devices() []*devSeries {
	var ds []*devSeries
	for _, d := range s.devs {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].dev < ds[j].dev })
	return ds
}
