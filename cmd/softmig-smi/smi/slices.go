// SPDX-License-Identifier: Apache-2.0

package smi

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/softmig/softmig/internal/job"
	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/jobpath"
	"github.com/softmig/softmig/internal/region"
	"github.com/softmig/softmig/internal/timefile"
)

// SliceRow is one job's slice on one GPU, for the admin's view.
type SliceRow struct {
	GPU     int // NVML index, NA: the job has no process or region on a GPU yet
	Job     string
	User    string
	Limit   uint64 // 0: no memory limit
	Used    uint64
	SMLimit int // 0: none
	// SMUsed is the job's share of the GPU's time in the time authority's
	// last period (softmig-guard, root), else NVML's per-process samples;
	// NA when neither says.
	SMUsed int
	Lent   int    // of SMUsed, percent lent beyond the share (lend); NA: not known
	Time   string // the GPU time decision: cap, lend, paused, idle; static (authority down); "" without a share
}

// Slices reads every job config in dir (defs.RunDir()) with its region
// and matches the jobs to sys's devices and processes. Problems with one
// job (an unsafe config, say) are returned as warnings; that job is skipped.
func Slices(sys *System, dir, procRoot string) (rows []SliceRow, warnings []error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !os.IsNotExist(err) {
			warnings = append(warnings, fmt.Errorf("reading slices: %w", err))
		}
		return nil, warnings
	}
	// pid -> job, for every process on every GPU (one cgroup read each).
	owner := map[uint32]string{}
	for _, d := range sys.Devices {
		for _, p := range d.Procs {
			owner[p.PID] = jobOf(procRoot, p.PID)
		}
		for _, u := range d.ProcUtil {
			if _, ok := owner[u.PID]; !ok {
				owner[u.PID] = jobOf(procRoot, u.PID)
			}
		}
	}
	for _, e := range entries {
		id, ok := jobpath.ConfJob(e.Name())
		if !ok {
			continue
		}
		cfg, err := jobconf.Load(filepath.Join(dir, e.Name()))
		if err != nil {
			warnings = append(warnings, &ConfigError{filepath.Join(dir, e.Name()), err.Error()})
			continue
		}
		if cfg.Disabled != "" {
			warnings = append(warnings, &ConfigError{filepath.Join(dir, e.Name()), cfg.Disabled})
			continue
		}
		rpath := cfg.Region
		if rpath == "" {
			rpath = jobpath.Region(dir, id)
		}
		reg, _ := region.Open(rpath)
		if reg != nil && reg.Job() != "" && reg.Job() != id {
			reg = nil
		}
		rows = append(rows, jobRows(sys, dir, id, cfg, reg, owner, procRoot)...)
	}
	sort.Slice(rows, func(i, j int) bool {
		if gi, gj := uint(rows[i].GPU), uint(rows[j].GPU); gi != gj {
			return gi < gj // NA (no GPU yet) last
		}
		return jobLess(rows[i].Job, rows[j].Job)
	})
	return rows, warnings
}

func jobOf(procRoot string, pid uint32) string {
	id, ok, err := job.FromProc(procRoot, int(pid))
	if err != nil || !ok {
		return ""
	}
	return id
}

func jobLess(a, b string) bool {
	na, _ := strconv.ParseUint(strings.SplitN(a, "_", 2)[0], 10, 64)
	nb, _ := strconv.ParseUint(strings.SplitN(b, "_", 2)[0], 10, 64)
	if na != nb {
		return na < nb
	}
	return a < b
}

func jobRows(sys *System, dir, id string, cfg *jobconf.Config, reg *region.Region, owner map[uint32]string, procRoot string) []SliceRow {
	name := "-"
	uid := -1
	if reg != nil {
		uid = int(reg.UID)
	}
	var rows []SliceRow
	for _, d := range sys.Devices {
		entry := -1
		if reg != nil {
			entry = reg.DevEntry(d.UUID)
		}
		var sum uint64
		has := entry >= 0
		for _, p := range d.Procs {
			if owner[p.PID] == id {
				has = true
				sum += p.UsedMem
				if uid < 0 {
					uid = procUID(procRoot, p.PID)
				}
			}
		}
		if !has {
			continue
		}
		r := SliceRow{GPU: d.Index, Job: id, Used: sum, SMUsed: NA, Lent: NA}
		// The index of the region's device entry is the job's CUDA
		// ordinal; without an entry, only the all-device limit (or a single
		// per-device one) is certain.
		ord := entry
		if ord < 0 {
			ord = soleOrdinal(cfg)
		}
		r.Limit, r.SMLimit = cfg.MemoryFor(ord), cfg.SMFor(ord)
		if entry >= 0 {
			r.Used = reg.Used(entry)
		}
		if d.ProcUtilOK {
			r.SMUsed = 0
			for _, u := range d.ProcUtil {
				if owner[u.PID] == id {
					r.SMUsed += u.SM
				}
			}
			r.SMUsed = min(r.SMUsed, 100)
		}
		if r.SMLimit > 0 && r.SMLimit < 100 {
			authority(&r, dir, d.UUID, id)
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		ord := soleOrdinal(cfg)
		rows = append(rows, SliceRow{GPU: NA, Job: id, Limit: cfg.MemoryFor(ord), SMLimit: cfg.SMFor(ord), SMUsed: NA, Lent: NA})
	}
	if uid >= 0 {
		name = userName(uid)
	}
	for i := range rows {
		rows[i].User = name
	}
	return rows
}

// soleOrdinal is the only per-device key's ordinal when the config has
// no all-device memory limit, else NA.
func soleOrdinal(cfg *jobconf.Config) int {
	if cfg.MemoryLimit == 0 && len(cfg.DeviceMemoryLimit) == 1 {
		for k := range cfg.DeviceMemoryLimit {
			return k
		}
	}
	return NA
}

func procUID(procRoot string, pid uint32) int {
	fi, err := os.Stat(filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10)))
	if err != nil {
		return -1
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// authority fills in what softmig-guard's time authority published for
// the job on GPU uuid (its time file, root's): the share it used and was
// lent last period, and the decision. A file whose beat is stale is an
// authority that is down: the job keeps its static slot.
func authority(r *SliceRow, dir, uuid, job string) {
	path, err := timefile.Path(dir, uuid)
	if err != nil {
		return
	}
	s, err := timefile.Read(path)
	if err != nil || !s.Fresh(time.Now()) {
		r.Time = "static"
		return
	}
	e := s.Entry(job)
	if e == nil {
		r.Time = "static"
		return
	}
	r.SMUsed, r.Lent = int(e.UsedPM+5)/10, int(e.LentPM+5)/10
	switch {
	case e.Flags&timefile.FlagPaused != 0:
		r.Time = "paused"
	case e.Flags&timefile.FlagIdle != 0:
		r.Time = "idle"
	case s.Policy == timefile.Lend:
		r.Time = "lend"
	default:
		r.Time = "cap"
	}
}

const sliceRowFmt = "|%5s  %-11s %-9s%13s%13s%10s%9s%6s  %-8s|\n"

func mibOrNone(limit uint64) string {
	if limit == 0 {
		return "none"
	}
	return strconv.FormatUint(MiB(limit), 10) + "MiB"
}

func pctOrNone(v int) string {
	if v == 0 {
		return "none"
	}
	return strconv.Itoa(v) + "%"
}

// SlicesTable writes the admin's table of slices, in the default view's style.
func SlicesTable(w io.Writer, rows []SliceRow) {
	var b strings.Builder
	b.WriteString("\n" + tableRule)
	fmt.Fprintf(&b, "| %-88s|\n", "SoftMig slices:")
	fmt.Fprintf(&b, sliceRowFmt, "GPU", "Job", "User", "Memory slice", "Memory used", "SM limit", "SM used", "Lent", "Time")
	b.WriteString("|=========================================================================================|\n")
	for _, r := range rows {
		gpu := "-"
		if r.GPU != NA {
			gpu = strconv.Itoa(r.GPU)
		}
		fmt.Fprintf(&b, sliceRowFmt, gpu, cut(r.Job, 11), cut(r.User, 9), mibOrNone(r.Limit),
			strconv.FormatUint(MiB(r.Used), 10)+"MiB", pctOrNone(r.SMLimit), na(r.SMUsed, "%"), na(r.Lent, "%"), orDash(r.Time))
	}
	if len(rows) == 0 {
		fmt.Fprintf(&b, "|  %-87s|\n", "No slices found")
	}
	b.WriteString(tableRule)
	io.WriteString(w, b.String())
}

// cut shortens s to n characters, marking the cut.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n-1] + "+"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// SlicesCSV writes the rows as --slices --format=csv.
func SlicesCSV(w io.Writer, rows []SliceRow, f Format) {
	var b strings.Builder
	if !f.NoHeader {
		b.WriteString("gpu, job, user, memory.slice [MiB], memory.used [MiB], sm.limit [%], sm.used [%], sm.lent [%], time\n")
	}
	unit := func(s, u string) string {
		if f.NoUnits || s == naCSV {
			return s
		}
		return s + " " + u
	}
	for _, r := range rows {
		gpu := naCSV
		if r.GPU != NA {
			gpu = strconv.Itoa(r.GPU)
		}
		limit := "0"
		if r.Limit > 0 {
			limit = strconv.FormatUint(MiB(r.Limit), 10)
		}
		fmt.Fprintf(&b, "%s, %s, %s, %s, %s, %s, %s, %s, %s\n", gpu, r.Job, r.User,
			unit(limit, "MiB"), unit(strconv.FormatUint(MiB(r.Used), 10), "MiB"),
			unit(strconv.Itoa(r.SMLimit), "%"), unit(csvInt(r.SMUsed), "%"), unit(csvInt(r.Lent), "%"), orDash(r.Time))
	}
	io.WriteString(w, b.String())
}
