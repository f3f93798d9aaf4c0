// SPDX-License-Identifier: Apache-2.0

// detail.go: the -q report (Detail), nvidia-smi's detailed listing of each GPU,
// limited by -d to the sections softmig-smi implements.

package smi

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Display types of -d that softmig-smi implements; any other makes
// softmig-smi run the real nvidia-smi.
var displayTypes = map[string]bool{
	"MEMORY": true, "UTILIZATION": true, "PIDS": true,
	"TEMPERATURE": true, "POWER": true, "CLOCK": true,
}

// ParseDisplay parses -d's comma-separated list; ok is false for a type
// softmig-smi does not implement.
func ParseDisplay(s string) (set map[string]bool, bad string, ok bool) {
	set = map[string]bool{}
	for _, t := range strings.Split(s, ",") {
		t = strings.ToUpper(strings.TrimSpace(t))
		if !displayTypes[t] {
			return nil, t, false
		}
		set[t] = true
	}
	return set, "", true
}

// DetailNeeds is what -q prints with -d's sections (nil: all).
func DetailNeeds(display map[string]bool) Need {
	if display == nil {
		return NeedAll
	}
	need := NeedVersions | NeedPCI
	for t, n := range map[string]Need{"MEMORY": NeedMem | NeedBAR1, "UTILIZATION": NeedUtil,
		"PIDS": NeedProcs | NeedProcNames | NeedModes, "TEMPERATURE": NeedTemp, "POWER": NeedPower | NeedPowerLimit,
		"CLOCK": NeedClocks | NeedMaxClocks} {
		if display[t] {
			need |= n
		}
	}
	return need
}

// qWriter writes "key : value" lines with nvidia-smi -q's alignment: the
// colon in column 56, whatever the indentation.
type qWriter struct{ b strings.Builder }

func (q *qWriter) kv(indent int, key, val string) {
	k := strings.Repeat("    ", indent) + key
	fmt.Fprintf(&q.b, "%-55s: %s\n", k, val)
}

// kvProc is a line of a process under Processes: nvidia-smi aligns those
// colons in column 43.
func (q *qWriter) kvProc(indent int, key, val string) {
	k := strings.Repeat("    ", indent) + key
	fmt.Fprintf(&q.b, "%-42s: %s\n", k, val)
}

func (q *qWriter) head(indent int, title string) {
	q.b.WriteString(strings.Repeat("    ", indent) + title + "\n")
}

func qMiB(ok bool, b uint64) string {
	if !ok {
		return "N/A"
	}
	return strconv.FormatUint(MiB(b), 10) + " MiB"
}

func qInt(v int, unit string) string {
	if v == NA {
		return "N/A"
	}
	return strconv.Itoa(v) + " " + unit
}

func qWatts(mw int64) string {
	if mw == NA {
		return "N/A"
	}
	return fmt.Sprintf("%.2f W", float64(mw)/1000)
}

// Detail writes -q's report; display selects sections (nil: all that
// softmig-smi implements).
func Detail(w io.Writer, sys *System, display map[string]bool) {
	all := display == nil
	show := func(t string) bool { return all || display[t] }
	q := &qWriter{}
	q.b.WriteString("\n==============NVSMI LOG==============\n\n")
	q.kv(0, "Timestamp", sys.Time.Format(TimeLayout))
	q.kv(0, "Driver Version", orNA(sys.DriverVersion))
	q.kv(0, "CUDA Version", orNA(sys.CUDAVersion))
	q.b.WriteString("\n")
	q.kv(0, "Attached GPUs", strconv.Itoa(attached(sys)))
	for _, d := range sys.Devices {
		q.head(0, "GPU "+d.BusID)
		if all {
			q.kv(1, "Product Name", d.Name)
			q.kv(1, "Product Architecture", orNA(d.Arch))
			q.kv(1, "Display Mode", deprecated)
			q.kv(1, "Display Attached", yesNo(d.DisplayMode))
			q.kv(1, "Display Active", enabled(d.DisplayActive))
			q.kv(1, "Persistence Mode", enabled(d.Persistence))
			q.head(1, "MIG Mode")
			q.kv(2, "Current", enabled(d.MIGCurrent))
			q.kv(2, "Pending", enabled(d.MIGPending))
			q.kv(1, "Serial Number", orNA(d.Serial))
			q.kv(1, "GPU UUID", d.UUID)
			q.kv(1, "Minor Number", na(d.Minor, ""))
			q.head(1, "PCI")
			q.kv(2, "Bus", hex32(d.Bus, 2))
			q.kv(2, "Device", hex32(d.PCIDevice, 2))
			q.kv(2, "Domain", hex32(d.Domain, 4))
			q.kv(2, "Device Id", hex32(d.PCIDeviceID, 8))
			q.kv(2, "Bus Id", d.BusID)
			q.kv(2, "Sub System Id", hex32(d.PCISubsystemID, 8))
			q.kv(1, "Fan Speed", qInt(d.FanPct, "%"))
			q.kv(1, "Performance State", pstate(d.PState))
		}
		if show("MEMORY") {
			q.head(1, "FB Memory Usage")
			q.kv(2, "Total", qMiB(d.MemOK, d.MemTotal))
			q.kv(2, "Reserved", qMiB(d.MemOK, d.MemReserved))
			q.kv(2, "Used", qMiB(d.MemOK, d.MemUsed))
			q.kv(2, "Free", qMiB(d.MemOK, d.MemFree))
			q.head(1, "BAR1 Memory Usage")
			q.kv(2, "Total", qMiB(d.Bar1OK, d.Bar1Total))
			q.kv(2, "Used", qMiB(d.Bar1OK, d.Bar1Used))
			q.kv(2, "Free", qMiB(d.Bar1OK, d.Bar1Total-min(d.Bar1Used, d.Bar1Total)))
			if d.CCMemOK { // drivers before 535 have no such section
				q.head(1, "Conf Compute Protected Memory Usage")
				q.kv(2, "Total", qMiB(true, d.CCMemTotal))
				q.kv(2, "Used", qMiB(true, d.CCMemUsed))
				q.kv(2, "Free", qMiB(true, d.CCMemFree))
			}
		}
		if all {
			q.kv(1, "Compute Mode", computeModeLong(d.ComputeMode))
		}
		if show("UTILIZATION") {
			q.head(1, "Utilization")
			q.kv(2, "GPU", qInt(d.UtilGPU, "%"))
			q.kv(2, "Memory", qInt(d.UtilMem, "%"))
		}
		if show("TEMPERATURE") {
			q.head(1, "Temperature")
			q.kv(2, "GPU Current Temp", qInt(d.TempC, "C"))
		}
		if show("POWER") {
			q.head(1, "GPU Power Readings")
			q.kv(2, "Instantaneous Power Draw", qWatts(d.PowerMW))
			q.kv(2, "Current Power Limit", qWatts(d.PowerCapMW))
		}
		if show("CLOCK") {
			q.head(1, "Clocks")
			q.kv(2, "Graphics", qInt(d.ClockGraphics, "MHz"))
			q.kv(2, "SM", qInt(d.ClockSM, "MHz"))
			q.kv(2, "Memory", qInt(d.ClockMem, "MHz"))
			q.kv(2, "Video", qInt(d.ClockVideo, "MHz"))
			q.head(1, "Max Clocks")
			q.kv(2, "Graphics", qInt(d.MaxGraphics, "MHz"))
			q.kv(2, "SM", qInt(d.MaxSM, "MHz"))
			q.kv(2, "Memory", qInt(d.MaxMem, "MHz"))
			q.kv(2, "Video", qInt(d.MaxVideo, "MHz"))
		}
		if show("PIDS") {
			if len(d.Procs) == 0 {
				q.kv(1, "Processes", "None")
			} else {
				q.head(1, "Processes")
				for _, p := range d.Procs {
					q.kvProc(2, "GPU instance ID", na(p.GI, ""))
					q.kvProc(2, "Compute instance ID", na(p.CI, ""))
					q.kvProc(2, "Process ID", strconv.FormatUint(uint64(p.PID), 10))
					q.kvProc(3, "Type", p.Type)
					q.kvProc(3, "Name", p.Name)
					q.kvProc(3, "Used GPU Memory", qMiB(p.MemOK, p.UsedMem))
				}
			}
		}
		q.b.WriteString("\n")
	}
	io.WriteString(w, q.b.String())
}

// deprecated is -q's Display Mode since driver 580.
const deprecated = "Requested functionality has been deprecated"

func yesNo(s State) string {
	switch s {
	case Enabled:
		return "Yes"
	case Disabled:
		return "No"
	}
	return "N/A"
}

func attached(sys *System) int {
	if sys.Attached > 0 {
		return sys.Attached
	}
	return len(sys.Devices)
}
