// SPDX-License-Identifier: Apache-2.0

package main

import (
	"time"

	"github.com/softmig/softmig/internal/usedfile"
)

// The used files (internal/usedfile): after each full look, what each job
// holds on the GPU, for the job processes that would otherwise each read
// the GPU's process list before their first allocation. Written in place
// (stores into a mapping, no system call), so every full look publishes;
// full looks come at least every fullLookLatest, well within what readers
// accept (usedfile.Fresh).

// publishUsed writes GPU i's used file from a full look made at seen.
func (g *guard) publishUsed(i int, seen time.Time, deviceUsed uint64, used map[string]uint64) {
	if g.opts.dryRun || g.opts.once {
		return
	}
	f := g.usedFiles[i]
	if f == nil {
		// A file another guard writes (or one that failed) is tried
		// again a second later: the other may stop.
		if seen.Before(g.usedRetry[i]) {
			return
		}
		g.usedRetry[i] = seen.Add(time.Second)
		uuid, err := g.gpus.uuid(i)
		if err != nil {
			g.log.errorf("used uuid", "used file: GPU %d: %v", i, err)
			return
		}
		path, err := usedfile.Path(g.runDir, uuid)
		if err != nil {
			g.log.errorf("used uuid", "used file: GPU %d: %v", i, err)
			return
		}
		if f, err = usedfile.Create(path); err != nil {
			g.log.errorf("used create", "used file: GPU %d: %v (this guard leaves it alone)", i, err)
			return
		}
		g.usedFiles[i] = f
		defer g.log.infof("used file: GPU %d: %s", i, path)
	}
	f.Publish(seen, deviceUsed, used)
}

// removeUsed takes the used files away when the guard stops.
func (g *guard) removeUsed() {
	for _, f := range g.usedFiles {
		if err := f.Remove(); err != nil {
			g.log.errorf("used remove", "used file %s: %v", f.Path(), err)
		}
	}
}
