// SPDX-License-Identifier: Apache-2.0

package logsum

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/logrec"
)

const (
	gib = int64(1) << 30
	mib = int64(1) << 20
)

var t0 = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func n(v int64) string { return strconv.FormatInt(v, 10) }

func start(s, pid int, exe string) logrec.Record {
	return logrec.Event(at(s), "42", pid, logrec.NoDev, logrec.MsgProcessStart, "exe", exe, "uid", "1001")
}
func attach(s, pid, dev int, mem int64, sm int) logrec.Record {
	return logrec.Event(at(s), "42", pid, dev, logrec.MsgDeviceAttach, "uuid", "GPU-x", "mem_limit", n(mem), "sm_limit", n(int64(sm)))
}
func exit(s, pid, dev int, peak, thr int64) logrec.Record {
	return logrec.Event(at(s), "42", pid, dev, logrec.MsgProcessExit, "peak", n(peak), "throttled_ms", n(thr))
}
func refused(s, pid, dev int, req, used, lim, supp int64) logrec.Record {
	return logrec.Event(at(s), "42", pid, dev, logrec.MsgOOMRefused, "api", "cuMemAlloc_v2",
		"requested", n(req), "used", n(used), "limit", n(lim), "suppressed", n(supp))
}
func throttle(s, pid, dev int, ms int64) logrec.Record {
	return logrec.Event(at(s), "42", pid, dev, logrec.MsgThrottle, "throttled_ms", n(ms), "sm_limit", "25")
}
func kill(s, pid, dev, target int) logrec.Record {
	return logrec.Event(at(s), "42", pid, dev, logrec.MsgOOMKill, "target", n(int64(target)))
}

func summarize(recs ...logrec.Record) *Summary {
	return summarizeOffers(l40s(2, 4, 8), recs...)
}

// l40s is a site offering a 48 GiB L40S whole and in the given parts.
func l40s(dens ...int64) Offers {
	return func(limit int64) []Offer {
		offers := []Offer{}
		match := limit == 48*gib
		for i := len(dens) - 1; i >= 0; i-- {
			m := 48 * gib / dens[i]
			match = match || m == limit
			offers = append(offers, Offer{Gres: fmt.Sprintf("--gres=gpu:l40s.%d:1", dens[i]), Memory: m})
		}
		if !match {
			return nil
		}
		return append(offers, Offer{Gres: "--gres=gpu:l40s:1", Memory: 48 * gib})
	}
}

func summarizeOffers(o Offers, recs ...logrec.Record) *Summary {
	b := New("file-name")
	b.SetOffers(o)
	for i, r := range recs {
		b.Add(r, i+1)
	}
	return b.Summary()
}

func TestVerdicts(t *testing.T) {
	g := float64(gib)
	peak91 := int64(9.1 * g)
	tests := []struct {
		name string
		recs []logrec.Record
		want string
	}{
		{"fits", []logrec.Record{start(0, 10, "/bin/py"), attach(1, 10, 0, 12*gib, 25), exit(60, 10, 0, peak91, 0)},
			"peak 9.1 GiB of a 12 GiB slice (76%): the slice fits"},
		{"tight", []logrec.Record{attach(1, 10, 0, 24*gib, 0), exit(60, 10, 0, 23*gib, 0)},
			"peak 23 GiB of a 24 GiB slice (96%): the slice fits, with little headroom"},
		{"an eighth", []logrec.Record{attach(1, 10, 0, 24*gib, 0), exit(60, 10, 0, 2*gib, 0)},
			"peak 2 GiB of a 24 GiB slice (8%): --gres=gpu:l40s.8:1 (6 GiB) would do"},
		{"a quarter", []logrec.Record{attach(1, 10, 0, 24*gib, 0), exit(60, 10, 0, 5*gib, 0)},
			"peak 5 GiB of a 24 GiB slice (21%): --gres=gpu:l40s.4:1 (12 GiB) would do"},
		{"half", []logrec.Record{attach(1, 10, 0, 48*gib, 0), exit(60, 10, 0, 10*gib, 0)},
			"peak 10 GiB of a 48 GiB slice (21%): --gres=gpu:l40s.2:1 (24 GiB) would do"},
		{"refused and killed", []logrec.Record{
			attach(1, 10, 0, 12*gib, 0),
			refused(10, 10, 0, 4*gib, 11*gib, 12*gib, 0),
			refused(11, 10, 0, 1*gib, 11*gib+512*mib, 12*gib, 5),
			refused(12, 10, 0, 2*gib, 11*gib, 12*gib, 6),
			kill(12, 10, 0, 11)},
			"refused 14 allocations and killed 1 process: needs a larger slice, at least 15 GiB (has 12 GiB); next time ask for --gres=gpu:l40s.2:1 (24 GiB)"},
		{"killed only", []logrec.Record{attach(1, 10, 0, 12*gib, 0), kill(12, 10, 0, 11)},
			"killed 1 process: needs a larger slice; next time ask for --gres=gpu:l40s.2:1 (24 GiB)"},
		{"guard kills", []logrec.Record{attach(1, 10, 0, 12*gib, 0),
			logrec.Event(at(5), "42", 11, 0, logrec.MsgGuardKill, "reason", "escape", "gpu", "3", "used", "1", "limit", "2", "pids", "11"),
			logrec.Event(at(6), "42", 10, 0, logrec.MsgGuardKill, "reason", "over_slice", "gpu", "3", "used", "3", "limit", "2", "pids", "10,12"),
			logrec.Event(at(6), "42", 13, logrec.NoDev, logrec.MsgGuardKill, "reason", "over_slice", "gpu", "5", "used", "3", "limit", "2", "pids", "13")},
			"1 process killed by softmig-guard for using the GPU around libsoftmig.so, 2 processes killed by softmig-guard with the job over its slice; no peak logged yet (no process has exited): cannot judge the slice"},
		{"no exit yet", []logrec.Record{start(0, 10, "/bin/py"), attach(1, 10, 0, 12*gib, 25)},
			"no peak logged yet (no process has exited): cannot judge the slice"},
		{"no slice", []logrec.Record{attach(1, 10, 0, 0, 0), exit(60, 10, 0, 3*gib, 0)},
			"peak 3 GiB, no memory slice set"},
		{"two devices", []logrec.Record{
			attach(1, 10, 0, 12*gib, 0), attach(1, 10, 1, 12*gib, 0),
			exit(60, 10, 0, 10*gib, 0), exit(60, 10, 1, 1*gib, 0)},
			"dev 0: peak 10 GiB of a 12 GiB slice (83%): the slice fits; dev 1: peak 1 GiB of a 12 GiB slice (8%): --gres=gpu:l40s.8:1 (6 GiB) would do"},
		{"config error", []logrec.Record{
			start(0, 10, "/bin/py"),
			logrec.Event(at(0), "42", 10, logrec.NoDev, logrec.MsgConfigError, "path", "/var/run/softmig/42.conf", "reason", "not owned by root")},
			"GPU disabled by a config error (/var/run/softmig/42.conf: not owned by root)"},
		{"nothing", []logrec.Record{start(0, 10, "/bin/bash")}, "no GPU use logged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.recs...).Verdict; got != tt.want {
				t.Errorf("Verdict = %q\nwant      %q", got, tt.want)
			}
		})
	}
}

// A verdict names only slices the site offers, and none without a site.
func TestVerdictsOfferedOnly(t *testing.T) {
	small := []logrec.Record{attach(1, 10, 0, 48*gib, 0), exit(60, 10, 0, 2*gib, 0)}
	over := []logrec.Record{attach(1, 10, 0, 24*gib, 0), refused(10, 10, 0, 4*gib, 23*gib, 24*gib, 0)}
	for _, tt := range []struct {
		name   string
		offers Offers
		recs   []logrec.Record
		want   string
	}{
		{"halves only", l40s(2), small, "peak 2 GiB of a 48 GiB slice (4%): --gres=gpu:l40s.2:1 (24 GiB) would do"},
		{"no site", nil, small, "peak 2 GiB of a 48 GiB slice (4%): a smaller slice would do (softmig-conf check lists the slices this site offers)"},
		{"type unknown", l40s(2, 4), []logrec.Record{attach(1, 10, 0, 10*gib, 0), exit(60, 10, 0, 1*gib, 0)},
			"peak 1 GiB of a 10 GiB slice (10%): a smaller slice would do (softmig-conf check lists the slices this site offers)"},
		{"nothing larger", l40s(2), []logrec.Record{attach(1, 10, 0, 48*gib, 0), refused(10, 10, 0, 4*gib, 47*gib, 48*gib, 0)},
			"refused 1 allocation: needs a larger slice, at least 51 GiB (has 48 GiB); this site offers no larger slice of this GPU"},
		{"whole next", l40s(2), over, "refused 1 allocation: needs a larger slice, at least 27 GiB (has 24 GiB); next time ask for --gres=gpu:l40s:1 (48 GiB)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarizeOffers(tt.offers, tt.recs...).Verdict; got != tt.want {
				t.Errorf("Verdict = %q\nwant      %q", got, tt.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	s := summarize(
		start(0, 10, "/usr/bin/python3"),
		attach(1, 10, 0, 12*gib, 25),
		throttle(30, 10, 0, 1500),
		throttle(40, 10, 0, 1000),
		start(2, 11, "/usr/bin/worker"),
		attach(3, 11, 0, 8*gib, 25), // tightened by its environment
		throttle(31, 11, 0, 700),
		refused(50, 11, 0, 4*gib, 7*gib, 8*gib, 2),
		kill(50, 11, 0, 11),
		exit(60, 10, 0, 9*gib, 2750), // total: larger than the sum of its throttle lines
		start(70, 10, "/usr/bin/python3"),
		logrec.Event(at(71), "42", 10, 0, logrec.MsgProcessExit, "peak", "x", "throttled_ms", "0"), // malformed: line 12
		exit(80, 10, 0, 1*gib, 0),
	)
	if s.Job != "42" || s.Records != 13 || !s.First.Equal(at(0)) || !s.Last.Equal(at(80)) {
		t.Errorf("job %q records %d first %v last %v; want 42, 13, %v, %v", s.Job, s.Records, s.First, s.Last, at(0), at(80))
	}
	if len(s.Devices) != 1 {
		t.Fatalf("devices = %d; want 1", len(s.Devices))
	}
	d := s.Devices[0]
	checks := []struct {
		name      string
		got, want int64
	}{
		{"MemLimit", d.MemLimit, 12 * gib},
		{"MemLimitMin", d.MemLimitMin, 8 * gib},
		{"SMLimit", int64(d.SMLimit), 25},
		{"Peak", d.Peak, 9 * gib},
		{"PeakPID", int64(d.PeakPID), 10},
		{"Refused", d.Refused, 3},
		{"RefusedLines", int64(d.RefusedLines), 1},
		{"Needed", d.Needed, 11 * gib},
		{"Kills", int64(len(d.Kills)), 1},
		{"ThrottledMS", d.ThrottledMS, 2750 + 700},
		{"Processes", int64(d.Processes), 2},
		{"process count", int64(len(s.Processes)), 3},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d; want %d", c.name, c.got, c.want)
		}
	}
	if !d.PeakTime.Equal(at(60)) || d.PeakFrom != logrec.MsgProcessExit {
		t.Errorf("peak at %v from %q; want %v from process exit", d.PeakTime, d.PeakFrom, at(60))
	}
	p0, p1, p2 := s.Processes[0], s.Processes[1], s.Processes[2]
	if p0.PID != 10 || p0.Exe != "/usr/bin/python3" || !p0.Exit.Equal(at(60)) || p0.MaxPeak() != 9*gib || p0.ThrottledMS != 2750 {
		t.Errorf("process 0 = %+v", p0)
	}
	if p1.PID != 11 || p1.Exit != nil || p1.Killed == nil || p1.ThrottledMS != 700 {
		t.Errorf("process 1 = %+v; want pid 11 killed, not exited, throttled 700 ms", p1)
	}
	if p2.PID != 10 || !p2.Start.Equal(at(70)) || p2.MaxPeak() != 1*gib {
		t.Errorf("process 2 (pid 10 reused) = %+v", p2)
	}
	if len(s.Malformed) != 1 || s.Malformed[0].Line != 12 || !strings.Contains(s.Malformed[0].Err, "peak") {
		t.Errorf("Malformed = %+v; want line 12 about peak", s.Malformed)
	}
}

// TestPeakFromRefusal: a process killed before it logged its exit still
// leaves the memory in use at its refusals as the peak.
func TestPeakFromRefusal(t *testing.T) {
	s := summarize(attach(1, 10, 0, 12*gib, 0), exit(5, 9, 0, 2*gib, 0), refused(10, 10, 0, 4*gib, 11*gib, 12*gib, 0))
	d := s.Devices[0]
	if d.Peak != 11*gib || d.PeakFrom != logrec.MsgOOMRefused || !d.PeakTime.Equal(at(10)) {
		t.Errorf("peak %d from %q at %v; want 11 GiB from oom refused at %v", d.Peak, d.PeakFrom, d.PeakTime, at(10))
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		n        int64
		want, up string
	}{
		{0, "0 B", "0 B"},
		{1023, "1023 B", "1023 B"},
		{1024, "1 KiB", "1 KiB"},
		{1536, "1.5 KiB", "1.5 KiB"},
		{12 * gib, "12 GiB", "12 GiB"},
		{12*gib + 1, "12 GiB", "12.1 GiB"},
		{9814000000, "9.1 GiB", "9.2 GiB"},
		{1 << 40, "1 TiB", "1 TiB"},
	}
	for _, tt := range tests {
		if got, up := FormatSize(tt.n), FormatSizeUp(tt.n); got != tt.want || up != tt.up {
			t.Errorf("FormatSize(%d) = %q, FormatSizeUp = %q; want %q, %q", tt.n, got, up, tt.want, tt.up)
		}
	}
	for ms, want := range map[int64]string{0: "0s", 120: "120ms", 1500: "1.5s", 123456: "2m3.5s", 3723000: "1h2m3s"} {
		if got := FormatMS(ms); got != want {
			t.Errorf("FormatMS(%d) = %q; want %q", ms, got, want)
		}
	}
}

// nvidia-smi in a job (its NVML queries start the library, which logs the
// process's start and nothing else) is not one of the job's GPU processes:
// it is counted apart, the device's process count and the verdict are the
// job's own.
func TestNvidiaSmiIsNoJobProcess(t *testing.T) {
	b := New("42")
	for i, r := range []logrec.Record{
		start(0, 100, "/opt/app/train"), attach(1, 100, 0, 12*gib, 25),
		start(2, 200, "/usr/local/bin/nvidia-smi"), start(3, 201, "/usr/bin/nvidia-smi"),
		exit(9, 100, 0, 6*gib, 0),
	} {
		b.Add(r, i+1)
	}
	s := b.Summary()
	if len(s.Processes) != 1 || s.Processes[0].PID != 100 || s.NoGPU != 2 || s.Devices[0].Processes != 1 {
		t.Errorf("processes %d (first %+v), no-GPU %d, device processes %d; want the training process alone, 2 apart, 1",
			len(s.Processes), s.Processes[0], s.NoGPU, s.Devices[0].Processes)
	}
}

// Ask is the request the verdict names: smaller, larger, the same one,
// or none where the site's slices of the type are unknown.
func TestAsk(t *testing.T) {
	for _, tt := range []struct {
		name string
		recs []logrec.Record
		want string
	}{
		{"fits", []logrec.Record{attach(1, 10, 0, 12*gib, 25), exit(60, 10, 0, 9*gib+gib/10, 0)}, "--gres=gpu:l40s.4:1"},
		{"tight", []logrec.Record{attach(1, 10, 0, 24*gib, 0), exit(60, 10, 0, 23*gib, 0)}, "--gres=gpu:l40s.2:1"},
		{"smaller", []logrec.Record{attach(1, 10, 0, 24*gib, 0), exit(60, 10, 0, 2*gib, 0)}, "--gres=gpu:l40s.8:1"},
		{"larger", []logrec.Record{attach(1, 10, 0, 12*gib, 0), refused(10, 10, 0, 4*gib, 11*gib, 12*gib, 0)}, "--gres=gpu:l40s.2:1"},
		{"no peak yet", []logrec.Record{attach(1, 10, 0, 12*gib, 25)}, ""},
		{"type unknown", []logrec.Record{attach(1, 10, 0, 10*gib, 0), exit(60, 10, 0, 1*gib, 0)}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarizeOffers(l40s(2, 4, 8), tt.recs...).Devices[0].Ask; got != tt.want {
				t.Errorf("Ask = %q; want %q", got, tt.want)
			}
		})
	}
}

// softmig-guard's time records: what the job used of the GPU, lent and
// paused, summed over their windows; its kills for GPU time counted apart.
func TestGPUTime(t *testing.T) {
	gpuTime := func(s int, used, lent, paused int64) logrec.Record {
		return logrec.Event(at(s), "42", 812, 0, logrec.MsgGPUTime, "gpu", "3", "share", "25", "policy", "lend",
			"window_ms", "10000", "used_ms", n(used), "lent_ms", n(lent), "paused_ms", n(paused))
	}
	s := summarize(attach(0, 100, 0, 12*gib, 25), gpuTime(10, 6000, 3500, 0),
		logrec.Event(at(12), "42", 812, 0, logrec.MsgTimePause, "gpu", "3", "share", "25", "debt_ms", "230", "pids", "100"),
		gpuTime(20, 2500, 0, 900),
		logrec.Event(at(25), "42", 100, 0, logrec.MsgGuardKill, "reason", "over_time", "gpu", "3", "used", "0", "limit", "0", "pids", "100"))
	d := s.Devices[0]
	if d.WindowMS != 20000 || d.GPUTimeMS != 8500 || d.LentMS != 3500 || d.PausedMS != 900 || d.Pauses != 1 ||
		d.Policy != "lend" || d.GuardTime != 1 || d.GuardOver != 0 {
		t.Errorf("device 0: %+v", d)
	}
}
