// SPDX-License-Identifier: Apache-2.0

// Package logsum summarizes the log of one job for `softmig-log summary`:
// per device the slice, the peak memory held and when, out-of-memory
// refusals and kills, time spent throttled; the processes seen; and a
// one-line right-sizing verdict. It reads only the events of contract 5
// (docs/contracts.md): process start, device attach, oom refused, oom kill,
// throttle, process exit and config error.
//
// Two readings of the contract are built in. A process's throttled time on a
// device is the throttled_ms of its "process exit" line, read as the
// process's total, or the sum of its "throttle" lines if that is larger (a
// process that never exited). The job's peak on a device is the largest
// "peak" of its "process exit" lines, or the memory in use at a refusal
// ("used" of "oom refused") if that is larger (a process killed before it
// could log its exit).
package logsum

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/softmig/softmig/internal/logrec"
)

// Summary is what a job's log says about the job.
type Summary struct {
	Job       string     `json:"job"`
	First     *time.Time `json:"first,omitempty"` // first record
	Last      *time.Time `json:"last,omitempty"`  // last record
	Records   int        `json:"records"`
	Errors    int        `json:"errors"`   // records at level error
	Warnings  int        `json:"warnings"` // records at level warn
	Devices   []*Device  `json:"devices"`
	Processes []*Process `json:"processes"`
	// NoGPU counts the processes that logged their start and nothing
	// else: nvidia-smi's NVML queries, monitoring (or a process that had
	// not used its GPU yet). They are not in Processes.
	NoGPU        int           `json:"no_gpu_processes"`
	ConfigErrors []ConfigError `json:"config_errors"`
	Malformed    []Malformed   `json:"malformed_events"` // events without the keys they need, skipped
	Verdict      string        `json:"verdict"`          // one line for the whole job
}

// Device is what happened on one CUDA device (as the job's programs number them).
type Device struct {
	Dev            int        `json:"dev"`
	UUID           string     `json:"uuid,omitempty"`
	MemLimit       int64      `json:"mem_limit"`                 // bytes; 0 when unknown or none
	MemLimitMin    int64      `json:"mem_limit_min,omitempty"`   // when processes had different limits (a tighter environment)
	SMLimit        int        `json:"sm_limit"`                  // percent; 0 when none, -1 unknown
	Peak           int64      `json:"peak"`                      // bytes held by the job at its peak
	PeakTime       *time.Time `json:"peak_time,omitempty"`       // when that peak was logged
	PeakPID        int        `json:"peak_pid,omitempty"`        // the process whose line logged it
	PeakFrom       string     `json:"peak_from,omitempty"`       // "process exit" or "oom refused"
	PeakPercent    float64    `json:"peak_percent"`              // of MemLimit
	Refused        int64      `json:"oom_refused"`               // refusals, suppressed ones included
	RefusedLines   int        `json:"oom_refused_lines"`         // "oom refused" lines
	LargestRequest int64      `json:"largest_refused,omitempty"` // bytes
	Needed         int64      `json:"needed,omitempty"`          // most memory asked for: used + requested at a refusal
	Kills          []Kill     `json:"oom_kills"`
	GuardOver      int        `json:"guard_over_slice"` // processes softmig-guard killed: the job over its slice
	GuardEscapes   int        `json:"guard_escapes"`    // processes softmig-guard killed: run around the library
	GuardTime      int        `json:"guard_over_time"`  // processes softmig-guard killed: GPU time beyond the share
	// GPU time as softmig-guard's time authority measured and decided it
	// ("gpu time", "time pause" lines): what the job used, of that what
	// was lent beyond its share, how long it was paused, over how long.
	Policy      string `json:"time_policy,omitempty"`
	WindowMS    int64  `json:"time_window_ms,omitempty"`
	GPUTimeMS   int64  `json:"gpu_time_ms,omitempty"`
	LentMS      int64  `json:"lent_ms,omitempty"`
	PausedMS    int64  `json:"paused_ms,omitempty"`
	Pauses      int    `json:"pauses,omitempty"`
	ThrottledMS int64  `json:"throttled_ms"`
	Processes   int    `json:"processes"` // processes that attached to it
	Verdict     string `json:"verdict"`
	// Ask is the request the verdict names, among the slices the site
	// offers ("--gres=gpu:l40s.4:1"): smaller, larger, or the same one;
	// "" when it cannot be told.
	Ask string `json:"ask,omitempty"`

	attached map[*Process]bool
}

// Kill is one "oom kill" line.
type Kill struct {
	Time   time.Time `json:"time"`
	PID    int       `json:"pid"`    // the process that killed
	Target int       `json:"target"` // the process killed
}

// Process is one process of the job, from its start to its exit.
type Process struct {
	PID         int              `json:"pid"`
	Exe         string           `json:"exe,omitempty"`
	UID         *int64           `json:"uid,omitempty"`
	Start       *time.Time       `json:"start,omitempty"`
	Exit        *time.Time       `json:"exit,omitempty"`   // last "process exit" line
	Killed      *time.Time       `json:"killed,omitempty"` // target of an "oom kill"
	Devices     []int            `json:"devices"`
	Peak        map[string]int64 `json:"peak"` // per device (JSON object keys are strings)
	ThrottledMS int64            `json:"throttled_ms"`

	throttleSum  map[int]int64 // per device, from throttle lines
	throttleExit map[int]int64 // per device, from process exit
	exited       bool
	refused      bool // its config error: it asked for a GPU
}

// MaxPeak returns the largest peak of the process over its devices.
func (p *Process) MaxPeak() int64 {
	var m int64
	for _, v := range p.Peak {
		m = max(m, v)
	}
	return m
}

// ConfigError is one "config error" line: the process got no GPU.
type ConfigError struct {
	Time   time.Time `json:"time"`
	PID    int       `json:"pid"`
	Path   string    `json:"path,omitempty"`
	Var    string    `json:"var,omitempty"`
	Reason string    `json:"reason"`
}

// Malformed is an event line that lacks a key it needs; it is skipped.
type Malformed struct {
	Line int    `json:"line"`
	Err  string `json:"error"`
}

// Builder accumulates records into a Summary.
type Builder struct {
	s      Summary
	devs   map[int]*Device
	procs  map[int]*Process // current process of each pid
	jobSet bool
	offers Offers
}

// New returns a Builder for the job named job (the records' job= wins if set).
func New(job string) *Builder {
	return &Builder{s: Summary{Job: job}, devs: map[int]*Device{}, procs: map[int]*Process{}}
}

func (b *Builder) dev(n int) *Device {
	d := b.devs[n]
	if d == nil {
		d = &Device{Dev: n, SMLimit: -1}
		b.devs[n] = d
	}
	return d
}

func (b *Builder) proc(pid int) *Process {
	p := b.procs[pid]
	if p == nil {
		p = &Process{PID: pid, Peak: map[string]int64{}, throttleSum: map[int]int64{}, throttleExit: map[int]int64{}}
		b.procs[pid] = p
		b.s.Processes = append(b.s.Processes, p)
	}
	return p
}

func (p *Process) addDev(n int) {
	for _, d := range p.Devices {
		if d == n {
			return
		}
	}
	p.Devices = append(p.Devices, n)
}

func timePtr(t time.Time) *time.Time { return &t }

// must returns the integer value of a key CheckEvent has verified.
func must(r *logrec.Record, k string) int64 {
	v, _ := r.Int(k)
	return v
}

// Add accounts one record, read from line number line.
func (b *Builder) Add(r logrec.Record, line int) {
	s := &b.s
	s.Records++
	if s.First == nil || r.Time.Before(*s.First) {
		s.First = timePtr(r.Time)
	}
	if s.Last == nil || r.Time.After(*s.Last) {
		s.Last = timePtr(r.Time)
	}
	switch r.Level {
	case logrec.LevelError:
		s.Errors++
	case logrec.LevelWarn:
		s.Warnings++
	}
	if r.Job != logrec.NoJob && !b.jobSet {
		s.Job, b.jobSet = r.Job, true
	}
	if !logrec.IsEvent(r.Msg) {
		return
	}
	if err := r.CheckEvent(); err != nil {
		s.Malformed = append(s.Malformed, Malformed{Line: line, Err: err.Error()})
		return
	}
	switch r.Msg {
	case logrec.MsgProcessStart:
		if p := b.procs[r.PID]; p != nil && (p.Start != nil || p.exited) {
			delete(b.procs, r.PID) // the pid was reused
		}
		p := b.proc(r.PID)
		p.Start = timePtr(r.Time)
		p.Exe, _ = r.Get("exe")
		uid := must(&r, "uid")
		p.UID = &uid
	case logrec.MsgDeviceAttach:
		d, p := b.dev(r.Dev), b.proc(r.PID)
		p.addDev(r.Dev)
		if d.attached == nil {
			d.attached = map[*Process]bool{}
		}
		d.attached[p] = true
		d.Processes = len(d.attached)
		d.UUID, _ = r.Get("uuid")
		if lim := must(&r, "mem_limit"); lim > 0 {
			if d.MemLimit == 0 || lim > d.MemLimit {
				if d.MemLimit != 0 && d.MemLimitMin == 0 {
					d.MemLimitMin = d.MemLimit
				}
				d.MemLimit = lim
			} else if lim < d.MemLimit && (d.MemLimitMin == 0 || lim < d.MemLimitMin) {
				d.MemLimitMin = lim
			}
		}
		d.SMLimit = max(d.SMLimit, int(must(&r, "sm_limit")))
	case logrec.MsgOOMRefused:
		d := b.dev(r.Dev)
		b.proc(r.PID).addDev(r.Dev)
		req, used := must(&r, "requested"), must(&r, "used")
		d.Refused += 1 + must(&r, "suppressed")
		d.RefusedLines++
		d.LargestRequest = max(d.LargestRequest, req)
		d.Needed = max(d.Needed, used+req)
		if d.MemLimit == 0 {
			d.MemLimit = must(&r, "limit")
		}
		b.peak(d, used, r, logrec.MsgOOMRefused)
	case logrec.MsgOOMKill:
		d := b.dev(r.Dev)
		k := Kill{Time: r.Time, PID: r.PID, Target: int(must(&r, "target"))}
		d.Kills = append(d.Kills, k)
		t := b.proc(k.Target)
		t.Killed = timePtr(r.Time)
		t.addDev(r.Dev)
	case logrec.MsgGuardKill:
		if r.Dev == logrec.NoDev {
			break // a GPU the job's config does not name
		}
		d := b.dev(r.Dev)
		pids, _ := r.Get("pids")
		n := len(strings.Split(pids, ","))
		switch reason, _ := r.Get("reason"); reason {
		case "escape":
			d.GuardEscapes += n
		case "over_time":
			d.GuardTime += n
		default:
			d.GuardOver += n
		}
	case logrec.MsgGPUTime:
		d := b.dev(r.Dev)
		d.Policy, _ = r.Get("policy")
		d.WindowMS += must(&r, "window_ms")
		d.GPUTimeMS += must(&r, "used_ms")
		d.LentMS += must(&r, "lent_ms")
		d.PausedMS += must(&r, "paused_ms")
		if d.SMLimit <= 0 {
			d.SMLimit = int(must(&r, "share"))
		}
	case logrec.MsgTimePause:
		b.dev(r.Dev).Pauses++
	case logrec.MsgThrottle:
		d, p := b.dev(r.Dev), b.proc(r.PID)
		p.addDev(r.Dev)
		p.throttleSum[r.Dev] += must(&r, "throttled_ms")
		if d.SMLimit < 0 {
			d.SMLimit = int(must(&r, "sm_limit"))
		}
	case logrec.MsgProcessExit:
		d, p := b.dev(r.Dev), b.proc(r.PID)
		p.addDev(r.Dev)
		p.exited = true
		p.Exit = timePtr(r.Time)
		peak := must(&r, "peak")
		key := strconv.Itoa(r.Dev)
		p.Peak[key] = max(p.Peak[key], peak)
		p.throttleExit[r.Dev] = must(&r, "throttled_ms")
		b.peak(d, peak, r, logrec.MsgProcessExit)
	case logrec.MsgConfigError:
		ce := ConfigError{Time: r.Time, PID: r.PID}
		ce.Path, _ = r.Get("path")
		ce.Var, _ = r.Get("var")
		ce.Reason, _ = r.Get("reason")
		s.ConfigErrors = append(s.ConfigErrors, ce)
		b.proc(r.PID).refused = true
	}
}

func (b *Builder) peak(d *Device, v int64, r logrec.Record, from string) {
	if v > d.Peak || d.PeakTime == nil {
		d.Peak, d.PeakTime, d.PeakPID, d.PeakFrom = v, timePtr(r.Time), r.PID, from
	}
}

// Summary finishes the summary: throttled totals, percentages and verdicts.
func (b *Builder) Summary() *Summary {
	s := b.s
	s.Devices = nil
	for _, d := range b.devs {
		d.ThrottledMS = 0
		s.Devices = append(s.Devices, d)
	}
	sort.Slice(s.Devices, func(i, j int) bool { return s.Devices[i].Dev < s.Devices[j].Dev })
	var gpu []*Process
	s.NoGPU = 0
	for _, p := range s.Processes {
		if len(p.Devices) == 0 && p.Killed == nil && !p.refused {
			s.NoGPU++
			continue
		}
		gpu = append(gpu, p)
	}
	s.Processes = gpu
	for _, p := range s.Processes {
		p.ThrottledMS = 0
		sort.Ints(p.Devices)
		for _, dn := range p.Devices {
			t := max(p.throttleSum[dn], p.throttleExit[dn])
			p.ThrottledMS += t
			b.dev(dn).ThrottledMS += t
		}
	}
	for _, d := range s.Devices {
		if d.MemLimit > 0 {
			d.PeakPercent = float64(d.Peak) * 100 / float64(d.MemLimit)
		}
		d.Verdict = guardVerdict(d) + verdict(d, b.offersFor(d.MemLimit))
	}
	if s.Devices == nil {
		s.Devices = []*Device{}
	}
	if s.Processes == nil {
		s.Processes = []*Process{}
	}
	if s.ConfigErrors == nil {
		s.ConfigErrors = []ConfigError{}
	}
	if s.Malformed == nil {
		s.Malformed = []Malformed{}
	}
	s.Verdict = jobVerdict(&s)
	return &s
}

// Right-sizing thresholds: a smaller slice is suggested only when the peak
// fills at most Headroom of it; above Tight of the slice there is little
// headroom left.
const (
	Headroom = 0.75
	Tight    = 0.90
)

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

// guardVerdict says what softmig-guard did on d, as the verdict's start.
func guardVerdict(d *Device) string {
	var v []string
	if d.GuardEscapes > 0 {
		v = append(v, plural(int64(d.GuardEscapes), "process", "processes")+" killed by softmig-guard for using the GPU around libsoftmig.so")
	}
	if d.GuardOver > 0 {
		v = append(v, plural(int64(d.GuardOver), "process", "processes")+" killed by softmig-guard with the job over its slice")
	}
	if len(v) == 0 {
		return ""
	}
	return strings.Join(v, ", ") + "; "
}

func verdict(d *Device, offers []Offer) string {
	slice := FormatSize(d.MemLimit)
	switch {
	case d.Refused > 0 || len(d.Kills) > 0:
		var v string
		if d.Refused > 0 {
			v = "refused " + plural(d.Refused, "allocation", "allocations")
		}
		if len(d.Kills) > 0 {
			if v != "" {
				v += " and "
			}
			v += "killed " + plural(int64(len(d.Kills)), "process", "processes")
		}
		if d.Needed > d.MemLimit && d.MemLimit > 0 {
			return v + fmt.Sprintf(": needs a larger slice, at least %s (has %s)", FormatSizeUp(d.Needed), slice) + larger(d, offers)
		}
		return v + ": needs a larger slice" + larger(d, offers)
	case d.PeakTime == nil:
		return "no peak logged yet (no process has exited): cannot judge the slice"
	case d.MemLimit == 0:
		return fmt.Sprintf("peak %s, no memory slice set", FormatSize(d.Peak))
	}
	head := fmt.Sprintf("peak %s of a %s slice (%.0f%%)", FormatSize(d.Peak), slice, d.PeakPercent)
	if d.PeakPercent >= Tight*100 {
		d.Ask = fitting(d, offers)
		return head + ": the slice fits, with little headroom"
	}
	return head + smaller(d, offers)
}

func jobVerdict(s *Summary) string {
	if len(s.Devices) == 0 {
		if len(s.ConfigErrors) > 0 {
			ce := s.ConfigErrors[len(s.ConfigErrors)-1]
			what := ce.Path
			if what == "" {
				what = ce.Var
			}
			return fmt.Sprintf("GPU disabled by a config error (%s: %s)", what, ce.Reason)
		}
		return "no GPU use logged"
	}
	if len(s.Devices) == 1 {
		return s.Devices[0].Verdict
	}
	v := ""
	for i, d := range s.Devices {
		if i > 0 {
			v += "; "
		}
		v += fmt.Sprintf("dev %d: %s", d.Dev, d.Verdict)
	}
	return v
}

var units = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}

// FormatSize writes n bytes in binary units with at most one decimal,
// rounded to nearest: "9.1 GiB", "12 GiB", "512 B".
func FormatSize(n int64) string { return formatSize(n, false) }

// FormatSizeUp is FormatSize rounded up, for "at least" amounts.
func FormatSizeUp(n int64) string { return formatSize(n, true) }

func formatSize(n int64, up bool) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	tenths := int64(v*10 + 0.5)
	if up {
		tenths = int64(v * 10)
		if float64(tenths) < v*10 {
			tenths++
		}
	}
	if tenths%10 == 0 {
		return fmt.Sprintf("%d %s", tenths/10, units[u])
	}
	return fmt.Sprintf("%d.%d %s", tenths/10, tenths%10, units[u])
}

// FormatMS writes a duration in milliseconds as "0s", "120ms", "1.5s",
// "2m3.4s", "1h2m3s" (tenths of a second from a second to an hour).
func FormatMS(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return d.String()
	case d >= time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
