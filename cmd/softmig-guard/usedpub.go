// SPDX-License-Identifier: Apache-2.0

package main

import (
	"maps"
	"os"
	"time"

	"github.com/softmig/softmig/internal/usedfile"
)

// The used files (internal/usedfile): after a full look, what each job
// holds on the GPU, for the job processes that would otherwise each read
// the GPU's process list before their first allocation. A file changes
// when the sums do (at most every usedEvery) and is rewritten when it would
// otherwise age past usedRefresh, well within what readers accept
// (usedfile.Fresh).
const (
	usedEvery   = 20 * time.Millisecond
	usedRefresh = 250 * time.Millisecond
)

// usedPub is what the guard last wrote for one GPU.
type usedPub struct {
	path string
	at   time.Time
	used map[string]uint64
}

// publishUsed writes GPU i's used file from a full look made at seen.
func (g *guard) publishUsed(i int, seen time.Time, deviceUsed uint64, used map[string]uint64) {
	if g.opts.dryRun || g.opts.once {
		return
	}
	p := g.usedPubs[i]
	if p == nil {
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
		p = &usedPub{path: path}
		g.usedPubs[i] = p
	}
	age := seen.Sub(p.at)
	if age < usedEvery || (age < usedRefresh && maps.Equal(p.used, used)) {
		return
	}
	if err := usedfile.Write(p.path, usedfile.Encode(seen, deviceUsed, used)); err != nil {
		g.log.errorf("used write", "used file: GPU %d: %v (its jobs' processes read NVML themselves)", i, err)
		return
	}
	if p.at.IsZero() {
		g.log.infof("used file: GPU %d: %s", i, p.path)
	}
	p.at, p.used = seen, maps.Clone(used)
}

// removeUsed takes the used files away when the guard stops: readers would
// find them stale within a second anyway.
func (g *guard) removeUsed() {
	for _, p := range g.usedPubs {
		if p.at.IsZero() {
			continue
		}
		if err := os.Remove(p.path); err != nil && !os.IsNotExist(err) {
			g.log.errorf("used remove", "used file: %v", err)
		}
	}
}
