// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strconv"
	"time"

	"github.com/softmig/softmig/internal/logrec"
)

// The time authority's record in each job's log: what the job used, was
// lent and was paused, every logEvery and at its end.

// logTime writes the job's "gpu time" record every logEvery (and at its end).
func (a *authority) logTime(g *gpuTime, j *timeJob, now time.Time, final bool) {
	if !final && now.Sub(j.logAt) < logEvery {
		return
	}
	win := now.Sub(j.logAt)
	if win <= 0 {
		return
	}
	msg, kv := msgGPUTime(g, j, win)
	a.g.jobLog(j.job, j.uid, j.dev, now, msg, kv...)
	j.logAt, j.logUsed, j.logLent, j.logPaused = now, 0, 0, 0
}

func msgGPUTime(g *gpuTime, j *timeJob, win time.Duration) (string, []string) {
	return logrec.MsgGPUTime, []string{
		"gpu", strconv.Itoa(g.index),
		"share", strconv.Itoa(j.share),
		"policy", j.policy,
		"window_ms", strconv.FormatInt(win.Milliseconds(), 10),
		"used_ms", strconv.FormatInt(j.logUsed.Milliseconds(), 10),
		"lent_ms", strconv.FormatInt(j.logLent.Milliseconds(), 10),
		"paused_ms", strconv.FormatInt(j.logPaused.Milliseconds(), 10),
	}
}
