// SPDX-License-Identifier: Apache-2.0

package main

// Time slots: the GPU's compute period is cut into one unit per shard, and
// each sliced job owns the units of its shards (docs/contracts.md, section
// 2, SOFTMIG_SM_SLOT). The units in use on a GPU are those named by the
// configs in the run directory; a lock file keeps concurrent prologs from
// handing out the same unit.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/jobpath"
	"github.com/softmig/softmig/internal/siteconf"
)

const (
	slotLockName = ".slots.lock"
	// slotLockWait bounds the wait for another prolog's lock; past it the
	// job gets no time slot rather than a stuck prolog.
	slotLockWait = 30 * time.Second
	// slotTolerance is how far, in percent points, a slot's length may
	// stray from the device's SM limit before check and show warn.
	slotTolerance = 2
)

// lockSlots takes the exclusive lock on <runDir>/.slots.lock (created
// root-owned 0600, never through a symlink) and returns its release.
func lockSlots(runDir string) (func(), error) {
	path := filepath.Join(runDir, slotLockName)
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() {
		unix.Close(fd)
		return nil, fmt.Errorf("%q is not a regular file owned by uid %d: remove it", path, os.Geteuid())
	}
	deadline := time.Now().Add(slotLockWait)
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Close(fd) }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			break
		}
		if time.Now().After(deadline) {
			err = fmt.Errorf("still held by another prolog after %v", slotLockWait)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	unix.Close(fd)
	return nil, fmt.Errorf("lock %q: %w", path, err)
}

// heldSlot is a time slot another job holds on a GPU.
type heldSlot struct {
	job  string
	slot jobconf.Slot
}

// heldSlots reads every job config in runDir but self's and returns the
// slots they hold, by Slurm GPU index. A config that cannot be read is
// skipped with a note on stderr.
func heldSlots(runDir, self string, stderr io.Writer) map[int][]heldSlot {
	paths, _ := filepath.Glob(jobpath.Conf(runDir, "*"))
	out := map[int][]heldSlot{}
	for _, p := range paths {
		id, ok := jobpath.ConfJob(filepath.Base(p))
		if !ok || id == self {
			continue
		}
		c, err := jobconf.Load(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed by an epilog meanwhile
		}
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, p) {
				msg = p + ": " + msg
			}
			fmt.Fprintf(stderr, "softmig-conf: note: time slots: skipping %s\n", msg)
			continue
		}
		for ord, gpu := range c.DeviceGPU {
			if s := c.SlotFor(ord); len(s) > 0 {
				out[gpu] = append(out[gpu], heldSlot{id, s})
			}
		}
	}
	return out
}

// assignSlots writes SOFTMIG_GPU_<i> for every device of the job into c
// and, under the "fraction" SM policy, gives each sliced device the lowest
// free units of its GPU's period as SOFTMIG_SM_SLOT_<i>. held is what the
// other jobs of the node hold (nil: nothing could be read). A device whose
// GPU has too few free units gets no slot and a warning on stderr; the
// library then keeps to its SM limit alone. It returns notes for the
// config's header.
func assignSlots(c *jobconf.Config, devs []device, policy string, held map[int][]heldSlot, jobID string, stderr io.Writer) []string {
	var notes []string
	for ord, d := range devs {
		if c.DeviceGPU == nil {
			c.DeviceGPU = map[int]int{}
		}
		c.DeviceGPU[ord] = d.Index
		if d.Whole || d.PerGPU == 0 || policy != siteconf.SMFraction {
			continue
		}
		n, s := d.PerGPU, int(d.Shards)
		if n > 100 {
			notes = append(notes, fmt.Sprintf("CUDA device %d = GPU %d: no time slot (%d shards per GPU: a unit would be under 1%% of the period)", ord, d.Index, n))
			continue
		}
		users := make([][]string, n)
		for _, h := range held[d.Index] {
			for _, k := range h.slot.Units(n) {
				users[k] = append(users[k], h.job)
			}
		}
		var free []int
		for k := range users {
			if len(users[k]) == 0 {
				free = append(free, k)
			}
		}
		why := ""
		var slot jobconf.Slot
		if len(free) < s {
			why = fmt.Sprintf("GPU %d has %d free time units of %d but the job needs %d (units held by jobs %s)", d.Index, len(free), n, s, holders(users))
		} else if slot = jobconf.SlotOf(free[:s], n); len(slot) > jobconf.MaxSlotRanges {
			why = fmt.Sprintf("GPU %d's free time units %s make %d ranges, over %d (units held by jobs %s)", d.Index, slot, len(slot), jobconf.MaxSlotRanges, holders(users))
		}
		if why != "" {
			fmt.Fprintf(stderr, "softmig-conf: warning: job %s: %s: no time slot for CUDA device %d; it keeps to its SM limit alone\n", jobID, why, ord)
			notes = append(notes, fmt.Sprintf("CUDA device %d = GPU %d: no time slot: %s", ord, d.Index, why))
			continue
		}
		if c.DeviceSMSlot == nil {
			c.DeviceSMSlot = map[int]jobconf.Slot{}
		}
		c.DeviceSMSlot[ord] = slot
		notes = append(notes, fmt.Sprintf("CUDA device %d = GPU %d: time slot %s of the period (%d of %d units)", ord, d.Index, slot, s, n))
	}
	return notes
}

// holders lists the distinct jobs of users, sorted; "none" when empty.
func holders(users [][]string) string {
	seen := map[string]bool{}
	var ids []string
	for _, u := range users {
		for _, id := range u {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return "none"
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// slotWarnings checks a config's slots: each against the device's SM
// limit (within slotTolerance points) and, for SOFTMIG_GPU_<i>, whether
// it names a GPU at all.
func slotWarnings(c *jobconf.Config) []string {
	var out []string
	ords := map[int]bool{}
	for o := range c.DeviceSMSlot {
		ords[o] = true
	}
	for o := range c.DeviceGPU {
		ords[o] = true
	}
	list := make([]int, 0, len(ords))
	for o := range ords {
		list = append(list, o)
	}
	sort.Ints(list)
	if len(c.SMSlot) > 0 && len(list) == 0 {
		list = []int{-1}
	}
	for _, o := range list {
		s := c.SlotFor(o)
		if len(s) == 0 {
			continue
		}
		dev := "every device"
		if o >= 0 {
			dev = fmt.Sprintf("CUDA device %d", o)
		}
		lim, ok := c.SMLimitFor(o)
		switch {
		case !ok || lim == 0 || lim == 100:
			out = append(out, fmt.Sprintf("%s: time slot %s (%d%%) but no SM limit", dev, s, s.Len()))
		case s.Len() < lim-slotTolerance || s.Len() > lim+slotTolerance:
			out = append(out, fmt.Sprintf("%s: time slot %s is %d%% of the period but the SM limit is %d%%", dev, s, s.Len(), lim))
		}
		if _, ok := c.DeviceGPU[o]; !ok && o >= 0 {
			out = append(out, fmt.Sprintf("%s: time slot without SOFTMIG_GPU_%d: other prologs cannot see it", dev, o))
		}
	}
	return out
}

// slotOverlaps reads every config in runDir and returns one warning for
// each pair of jobs whose slots overlap on the same GPU, and the slots
// held, one line per job and GPU.
func slotOverlaps(runDir string, stderr io.Writer) (lines, warnings []string) {
	held := heldSlots(runDir, "", stderr)
	gpus := make([]int, 0, len(held))
	for g := range held {
		gpus = append(gpus, g)
	}
	sort.Ints(gpus)
	for _, g := range gpus {
		hs := held[g]
		sort.Slice(hs, func(a, b int) bool { return hs[a].slot[0].Start < hs[b].slot[0].Start })
		for i, h := range hs {
			lines = append(lines, fmt.Sprintf("GPU %d: job %s holds %s", g, h.job, h.slot))
			for _, o := range hs[i+1:] {
				if overlap(h.slot, o.slot) {
					warnings = append(warnings, fmt.Sprintf("GPU %d: time slots of jobs %s (%s) and %s (%s) overlap", g, h.job, h.slot, o.job, o.slot))
				}
			}
		}
	}
	return lines, warnings
}

func overlap(a, b jobconf.Slot) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Start < y.End && y.Start < x.End {
				return true
			}
		}
	}
	return false
}
