// SPDX-License-Identifier: Apache-2.0

// query.go: the CSV queries, --query-gpu and --query-compute-apps with
// --format (Query, Format).

package smi

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Format is --format's csv options.
type Format struct {
	NoHeader bool
	NoUnits  bool
}

// ParseFormat parses --format=csv[,noheader][,nounits]; ok is false for
// anything else (softmig-smi then runs the real nvidia-smi).
func ParseFormat(s string) (f Format, ok bool) {
	parts := strings.Split(s, ",")
	if strings.TrimSpace(parts[0]) != "csv" {
		return f, false
	}
	for _, p := range parts[1:] {
		switch strings.TrimSpace(p) {
		case "noheader":
			f.NoHeader = true
		case "nounits":
			f.NoUnits = true
		default:
			return f, false
		}
	}
	return f, true
}

// field is one queryable column.
type field struct {
	header string // canonical name printed in the header
	unit   string // "MiB", "%", "W", "MHz" or ""
	need   Need   // the values it prints
	gpu    func(sys *System, d *Device) string
	proc   func(sys *System, d *Device, p *Process) string
}

const naCSV = "[N/A]"

// deprecatedCSV is what nvidia-smi 580 prints for display_mode.
const deprecatedCSV = "[Requested functionality has been deprecated]"

func csvInt(v int) string {
	if v == NA {
		return naCSV
	}
	return strconv.Itoa(v)
}

func csvMiB(ok bool, b uint64) string {
	if !ok {
		return naCSV
	}
	return strconv.FormatUint(MiB(b), 10)
}

func csvWatts(mw int64) string {
	if mw == NA {
		return naCSV
	}
	return fmt.Sprintf("%.2f", float64(mw)/1000)
}

func csvState(s State) string {
	if s == StateNA {
		return naCSV
	}
	return enabled(s)
}

func csvStr(s string) string {
	if s == "" {
		return naCSV
	}
	return s
}

func hex32(v uint32, digits int) string {
	return fmt.Sprintf("0x%0*X", digits, v)
}

func timestamp(sys *System) string {
	return sys.Time.Format("2006/01/02 15:04:05.000")
}

var gpuFields = map[string]*field{}
var appFields = map[string]*field{}

func addGPU(names []string, unit string, need Need, f func(*System, *Device) string) {
	fl := &field{header: names[0], unit: unit, need: need, gpu: f}
	for _, n := range names {
		gpuFields[n] = fl
	}
}

func addApp(names []string, unit string, need Need, f func(*System, *Device, *Process) string) {
	fl := &field{header: names[0], unit: unit, need: need, proc: f}
	for _, n := range names {
		appFields[n] = fl
	}
}

func init() {
	addGPU([]string{"timestamp"}, "", 0, func(s *System, d *Device) string { return timestamp(s) })
	addGPU([]string{"driver_version"}, "", NeedVersions, func(s *System, d *Device) string { return csvStr(s.DriverVersion) })
	addGPU([]string{"count"}, "", 0, func(s *System, d *Device) string { return strconv.Itoa(attached(s)) })
	addGPU([]string{"name", "gpu_name"}, "", 0, func(s *System, d *Device) string { return d.Name })
	addGPU([]string{"serial", "gpu_serial"}, "", NeedSerial, func(s *System, d *Device) string { return csvStr(d.Serial) })
	addGPU([]string{"uuid", "gpu_uuid"}, "", 0, func(s *System, d *Device) string { return d.UUID })
	addGPU([]string{"pci.bus_id", "gpu_bus_id"}, "", NeedPCI, func(s *System, d *Device) string { return d.BusID })
	addGPU([]string{"pci.domain"}, "", NeedPCI, func(s *System, d *Device) string { return hex32(d.Domain, 4) })
	addGPU([]string{"pci.bus"}, "", NeedPCI, func(s *System, d *Device) string { return hex32(d.Bus, 2) })
	addGPU([]string{"pci.device"}, "", NeedPCI, func(s *System, d *Device) string { return hex32(d.PCIDevice, 2) })
	addGPU([]string{"pci.device_id"}, "", NeedPCI, func(s *System, d *Device) string { return hex32(d.PCIDeviceID, 8) })
	addGPU([]string{"pci.sub_device_id"}, "", NeedPCI, func(s *System, d *Device) string { return hex32(d.PCISubsystemID, 8) })
	addGPU([]string{"index"}, "", 0, func(s *System, d *Device) string { return strconv.Itoa(d.Index) })
	addGPU([]string{"persistence_mode"}, "", NeedModes, func(s *System, d *Device) string { return csvState(d.Persistence) })
	addGPU([]string{"display_mode"}, "", 0, func(s *System, d *Device) string { return deprecatedCSV })
	addGPU([]string{"display_active"}, "", NeedModes, func(s *System, d *Device) string { return csvState(d.DisplayActive) })
	addGPU([]string{"pstate"}, "", NeedPState, func(s *System, d *Device) string { return pstateCSV(d.PState) })
	addGPU([]string{"fan.speed"}, "%", NeedFan, func(s *System, d *Device) string { return csvInt(d.FanPct) })
	addGPU([]string{"memory.total"}, "MiB", NeedMem, func(s *System, d *Device) string { return csvMiB(d.MemOK, d.MemTotal) })
	addGPU([]string{"memory.reserved"}, "MiB", NeedMem, func(s *System, d *Device) string { return csvMiB(d.MemOK, d.MemReserved) })
	addGPU([]string{"memory.used"}, "MiB", NeedMem, func(s *System, d *Device) string { return csvMiB(d.MemOK, d.MemUsed) })
	addGPU([]string{"memory.free"}, "MiB", NeedMem, func(s *System, d *Device) string { return csvMiB(d.MemOK, d.MemFree) })
	addGPU([]string{"utilization.gpu"}, "%", NeedUtil, func(s *System, d *Device) string { return csvInt(d.UtilGPU) })
	addGPU([]string{"utilization.memory"}, "%", NeedUtil, func(s *System, d *Device) string { return csvInt(d.UtilMem) })
	addGPU([]string{"temperature.gpu"}, "", NeedTemp, func(s *System, d *Device) string { return csvInt(d.TempC) })
	addGPU([]string{"power.draw"}, "W", NeedPower, func(s *System, d *Device) string { return csvWatts(d.PowerMW) })
	addGPU([]string{"power.draw.instant"}, "W", NeedPower, func(s *System, d *Device) string { return csvWatts(d.PowerMW) })
	addGPU([]string{"power.limit"}, "W", NeedPowerLimit, func(s *System, d *Device) string { return csvWatts(d.PowerCapMW) })
	addGPU([]string{"enforced.power.limit"}, "W", NeedPowerLimit, func(s *System, d *Device) string { return csvWatts(d.PowerCapMW) })
	addGPU([]string{"clocks.current.graphics", "clocks.gr"}, "MHz", NeedClocks, func(s *System, d *Device) string { return csvInt(d.ClockGraphics) })
	addGPU([]string{"clocks.current.sm", "clocks.sm"}, "MHz", NeedClocks, func(s *System, d *Device) string { return csvInt(d.ClockSM) })
	addGPU([]string{"clocks.current.memory", "clocks.mem"}, "MHz", NeedClocks, func(s *System, d *Device) string { return csvInt(d.ClockMem) })
	addGPU([]string{"clocks.current.video", "clocks.video"}, "MHz", NeedClocks, func(s *System, d *Device) string { return csvInt(d.ClockVideo) })
	addGPU([]string{"clocks.max.graphics", "clocks.max.gr"}, "MHz", NeedMaxClocks, func(s *System, d *Device) string { return csvInt(d.MaxGraphics) })
	addGPU([]string{"clocks.max.sm"}, "MHz", NeedMaxClocks, func(s *System, d *Device) string { return csvInt(d.MaxSM) })
	addGPU([]string{"clocks.max.memory", "clocks.max.mem"}, "MHz", NeedMaxClocks, func(s *System, d *Device) string { return csvInt(d.MaxMem) })
	addGPU([]string{"compute_mode"}, "", NeedModes, func(s *System, d *Device) string { return computeModeLong(d.ComputeMode) })
	addGPU([]string{"compute_cap"}, "", NeedArch, func(s *System, d *Device) string {
		if d.CCMajor == NA {
			return naCSV
		}
		return fmt.Sprintf("%d.%d", d.CCMajor, d.CCMinor)
	})
	addGPU([]string{"mig.mode.current"}, "", NeedModes, func(s *System, d *Device) string { return csvState(d.MIGCurrent) })
	addGPU([]string{"mig.mode.pending"}, "", NeedModes, func(s *System, d *Device) string { return csvState(d.MIGPending) })
	addGPU([]string{"ecc.errors.uncorrected.volatile.total"}, "", NeedECC, func(s *System, d *Device) string {
		if d.ECCUncorr == NA {
			return naCSV
		}
		return strconv.FormatInt(d.ECCUncorr, 10)
	})

	addApp([]string{"timestamp"}, "", 0, func(s *System, d *Device, p *Process) string { return timestamp(s) })
	addApp([]string{"gpu_name"}, "", 0, func(s *System, d *Device, p *Process) string { return d.Name })
	addApp([]string{"gpu_bus_id"}, "", NeedPCI, func(s *System, d *Device, p *Process) string { return d.BusID })
	addApp([]string{"gpu_serial"}, "", NeedSerial, func(s *System, d *Device, p *Process) string { return csvStr(d.Serial) })
	addApp([]string{"gpu_uuid"}, "", 0, func(s *System, d *Device, p *Process) string { return d.UUID })
	addApp([]string{"pid"}, "", 0, func(s *System, d *Device, p *Process) string { return strconv.FormatUint(uint64(p.PID), 10) })
	addApp([]string{"process_name", "name"}, "", NeedProcNames, func(s *System, d *Device, p *Process) string { return p.Name })
	addApp([]string{"used_gpu_memory", "used_memory"}, "MiB", 0, func(s *System, d *Device, p *Process) string {
		return csvMiB(p.MemOK, p.UsedMem)
	})
}

func pstateCSV(p int) string {
	if p == NA {
		return naCSV
	}
	return "P" + strconv.Itoa(p)
}

// Query is a parsed --query-gpu or --query-compute-apps list.
type Query struct {
	fields []*field
	apps   bool
}

// ParseQuery resolves a comma-separated field list. ok is false when a
// field is not one softmig-smi implements: the real nvidia-smi then answers
// (with its own error text for fields that do not exist).
func ParseQuery(list string, apps bool) (q *Query, bad string, ok bool) {
	table := gpuFields
	if apps {
		table = appFields
	}
	q = &Query{apps: apps}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		f, found := table[name]
		if !found {
			return nil, name, false
		}
		q.fields = append(q.fields, f)
	}
	return q, "", true
}

// Needs says which values the query reads.
func (q *Query) Needs() Need {
	var n Need
	for _, f := range q.fields {
		n |= f.need
	}
	if q.apps {
		n |= NeedProcs
	}
	return n
}

// Header writes the CSV header line.
func (q *Query) Header(w io.Writer) {
	h := make([]string, len(q.fields))
	for i, f := range q.fields {
		h[i] = f.header
		if f.unit != "" {
			h[i] += " [" + f.unit + "]"
		}
	}
	io.WriteString(w, strings.Join(h, ", ")+"\n")
}

// Rows writes one line per device (or per process for compute apps).
func (q *Query) Rows(w io.Writer, sys *System, f Format) {
	var b strings.Builder
	row := func(get func(*field) string) {
		v := make([]string, len(q.fields))
		for i, fl := range q.fields {
			v[i] = get(fl)
			if fl.unit != "" && !f.NoUnits && v[i] != naCSV {
				v[i] += " " + fl.unit
			}
		}
		b.WriteString(strings.Join(v, ", ") + "\n")
	}
	for _, d := range sys.Devices {
		if !q.apps {
			row(func(fl *field) string { return fl.gpu(sys, d) })
			continue
		}
		for i := range d.Procs {
			p := &d.Procs[i]
			row(func(fl *field) string { return fl.proc(sys, d, p) })
		}
	}
	io.WriteString(w, b.String())
}
