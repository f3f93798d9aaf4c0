// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/softmig/softmig/internal/metrics"
	"github.com/softmig/softmig/internal/region"
	"github.com/softmig/softmig/internal/siteconf"
)

// The guard's Prometheus endpoint (docs/monitoring.md): at each scrape it
// hands internal/metrics a snapshot of what its last looks and the time
// authority saw, per job and GPU.

// serveMetrics serves /metrics as the site config's metrics: section says
// (its default where there is no site config) until ctx ends.
func (g *guard) serveMetrics(ctx context.Context) {
	m := siteconf.DefaultMetrics()
	if g.opts.siteConfig != "" {
		c, err := siteconf.Load(g.opts.siteConfig)
		switch {
		case c != nil:
			m = c.Metrics
		case err != nil:
			g.log.warnf("site config: %v: metrics on %s", err, m.Listen)
		}
	}
	if !m.Enabled {
		g.log.infof("metrics: off (metrics.enabled: false)")
		return
	}
	g.log.infof("metrics: http://%s/metrics", m.Listen)
	if err := metrics.ServeSite(ctx, m, g.snapshot); err != nil {
		g.log.errorf("metrics", "metrics: %v", err)
	}
}

// memSnap is what one job holds on one GPU at the last full look.
type memSnap struct{ used, peak uint64 }

// snapshot is safe to call from the HTTP server's goroutines: it copies
// what the looks and the authority publish under their locks.
func (g *guard) snapshot() metrics.Snapshot {
	var s metrics.Snapshot
	if t := g.stats.lastLook.Load(); t > 0 {
		s.Taken = time.Unix(0, t)
	}
	looks := g.stats.looks.Load()
	s.Node = metrics.Node{Rounds: looks, RoundTime: time.Duration(g.stats.lookNs.Load()), LastRound: time.Duration(g.stats.lastLookNs.Load())}
	if g.gpus != nil {
		s.Node.NVMLErrors = g.gpus.errors()
	}
	now := time.Now()
	mem := map[watchKey]memSnap{}
	g.memMu.Lock()
	for i, sums := range g.mem {
		for job, used := range sums.used {
			k := watchKey{job: job, gpu: i}
			mem[k] = memSnap{used: used, peak: g.peak[k]}
		}
	}
	kills := map[watchKey]uint64{}
	for k, n := range g.killsBy {
		kills[k] = n
	}
	g.memMu.Unlock()
	times := map[watchKey]timeSnap{}
	uuids := map[int]string{}
	if g.auth != nil {
		times, uuids = g.auth.snapshot()
	}
	keys := map[watchKey]bool{}
	for k := range mem {
		keys[k] = true
	}
	for k := range times {
		keys[k] = true
	}
	for k := range keys {
		js := g.conf.get(k.job, now)
		if js.conf == nil {
			continue
		}
		sl := js.onGPU(k.gpu)
		if !sl.sliced {
			continue
		}
		o := js.ordinal(k.gpu)
		j := metrics.JobGPU{JobID: k.job, GPU: k.gpu, UUID: uuids[k.gpu], SliceBytes: sl.limit,
			UsedBytes: mem[k].used, PeakBytes: mem[k].peak, GuardKills: kills[k]}
		if js.conf.UID != nil {
			j.User = userName(*js.conf.UID)
		}
		if name, ok := js.conf.DeviceSlice[o]; ok {
			j.Slice = name
		}
		if share, _, ok := timeShare(js.conf, o); ok {
			j.SMLimit = float64(share) / 100
		}
		if t, ok := times[k]; ok {
			j.GPUTime, j.Paused, j.Lent, j.Lending = t.used, t.paused, t.lent, t.lending
			if j.UUID == "" {
				j.UUID = t.uuid
			}
		}
		j.SelfReportedOOMRefusals = refusals(js, j.UUID)
		s.Jobs = append(s.Jobs, j)
	}
	sort.Slice(s.Jobs, func(a, b int) bool {
		if s.Jobs[a].JobID != s.Jobs[b].JobID {
			return s.Jobs[a].JobID < s.Jobs[b].JobID
		}
		return s.Jobs[a].GPU < s.Jobs[b].GPU
	})
	return s
}

// timeSnap is one job's GPU time on one GPU, from the authority.
type timeSnap struct {
	uuid               string
	used, paused, lent time.Duration
	lending            bool
}

// snapshot copies each job's GPU time figures, with each GPU's UUID.
func (a *authority) snapshot() (map[watchKey]timeSnap, map[int]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[watchKey]timeSnap{}
	uuids := map[int]string{}
	for i, g := range a.gpus {
		uuids[i] = g.uuid
		for job, e := range g.earlier {
			e.uuid, e.lending = g.uuid, g.lend
			out[watchKey{job: job, gpu: i}] = e
		}
		for job, used := range g.usedAll {
			t := out[watchKey{job: job, gpu: i}]
			t.uuid, t.used = g.uuid, t.used+used
			out[watchKey{job: job, gpu: i}] = t
		}
		for job, j := range g.jobs {
			t := out[watchKey{job: job, gpu: i}]
			t.uuid, t.paused, t.lent, t.lending = g.uuid, t.paused+j.totalPaused, t.lent+j.totalLent, g.lend
			out[watchKey{job: job, gpu: i}] = t
		}
	}
	return out, uuids
}

var users sync.Map // uid -> name

// userName is the name of uid, or uid in decimal where none resolves.
func userName(uid int) string {
	if v, ok := users.Load(uid); ok {
		return v.(string)
	}
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	users.Store(uid, name)
	return name
}

// refusals is what the job's region says the library refused on the GPU
// with uuid: the job's own bookkeeping, exported as self-reported.
func refusals(js jobSlices, uuid string) uint64 {
	if js.conf.Region == "" || uuid == "" || filepath.Dir(js.conf.Region) == "" {
		return 0
	}
	r, err := region.Open(js.conf.Region)
	if err != nil {
		return 0
	}
	if i := r.DevEntry(uuid); i >= 0 {
		if d := r.Devs()[i]; d != nil {
			return d.OOMCount
		}
	}
	return 0
}
