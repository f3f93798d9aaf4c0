// SPDX-License-Identifier: Apache-2.0

package smi

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The default view's layout is nvidia-smi 580's (testdata/*.golden were
// written from it; scripts/gpu-smi-capture.sh refreshes them on a GPU).

const (
	tableRule   = "+-----------------------------------------------------------------------------------------+\n"
	tableSplit  = "+-----------------------------------------+------------------------+----------------------+\n"
	tableHeader = "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |\n" +
		"| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |\n" +
		"|                                         |                        |               MIG M. |\n" +
		"|=========================================+========================+======================|\n"
	procHeader = "| Processes:                                                                              |\n" +
		"|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |\n" +
		"|        ID   ID                                                               Usage      |\n" +
		"|=========================================================================================|\n"
)

// TimeLayout is the first line of the table and -q's Timestamp.
const TimeLayout = "Mon Jan _2 15:04:05 2006"

func onOff(s State) string {
	switch s {
	case Enabled:
		return "On"
	case Disabled:
		return "Off"
	}
	return "N/A"
}

func enabled(s State) string {
	switch s {
	case Enabled:
		return "Enabled"
	case Disabled:
		return "Disabled"
	}
	return "N/A"
}

func na(v int, suffix string) string {
	if v == NA {
		return "N/A"
	}
	return strconv.Itoa(v) + suffix
}

func pstate(p int) string {
	if p == NA {
		return "N/A"
	}
	return "P" + strconv.Itoa(p)
}

func watts(mw int64) string {
	if mw == NA {
		return "N/A"
	}
	return strconv.FormatInt(mw/1000, 10) + "W"
}

// computeModeShort is the table's column; computeModeLong -q's and CSV's.
func computeModeShort(m int) string {
	switch m {
	case 0:
		return "Default"
	case 1:
		return "E. Thread"
	case 2:
		return "Prohibited"
	case 3:
		return "E. Process"
	}
	return "N/A"
}

func computeModeLong(m int) string {
	switch m {
	case 0:
		return "Default"
	case 1:
		return "Exclusive_Thread"
	case 2:
		return "Prohibited"
	case 3:
		return "Exclusive_Process"
	}
	return "N/A"
}

func memCell(d *Device) string {
	if !d.MemOK {
		return fmt.Sprintf("%11s / %9s ", "N/A", "N/A")
	}
	return fmt.Sprintf("%11s / %9s ", strconv.FormatUint(MiB(d.MemUsed), 10)+"MiB", strconv.FormatUint(MiB(d.MemTotal), 10)+"MiB")
}

func shortName(name string, width int) string {
	if len(name) > width {
		return name[:width-4] + "..."
	}
	return name
}

// Table writes nvidia-smi's default view of sys.
func Table(w io.Writer, sys *System) {
	var b strings.Builder
	b.WriteString(sys.Time.Format(TimeLayout) + "       \n")
	b.WriteString(tableRule)
	fmt.Fprintf(&b, "| NVIDIA-SMI %-22s Driver Version: %-14s CUDA Version: %-8s |\n",
		orNA(sys.DriverVersion), orNA(sys.DriverVersion), orNA(sys.CUDAVersion))
	b.WriteString(tableSplit)
	b.WriteString(tableHeader)
	for _, d := range sys.Devices {
		ecc := "N/A"
		if d.ECCUncorr != NA {
			ecc = strconv.FormatInt(d.ECCUncorr, 10)
		}
		fmt.Fprintf(&b, "|%4d  %-28s%5s  |%19s %3s |%21s |\n",
			d.Index, shortName(d.Name, 28), onOff(d.Persistence), d.BusID, onOff(d.DisplayActive), ecc)
		fmt.Fprintf(&b, "|%4s%6s%6s%16s / %5s |%s|%8s%13s |\n",
			na(d.FanPct, "%"), na(d.TempC, "C"), pstate(d.PState), watts(d.PowerMW), watts(d.PowerCapMW),
			memCell(d), na(d.UtilGPU, "%"), computeModeShort(d.ComputeMode))
		fmt.Fprintf(&b, "|%41s|%24s|%21s |\n", "", "", enabled(d.MIGCurrent))
		b.WriteString(tableSplit)
	}
	b.WriteString("\n")
	b.WriteString(tableRule)
	b.WriteString(procHeader)
	n := 0
	for _, d := range sys.Devices {
		for _, p := range d.Procs {
			n++
			mem := "N/A"
			if p.MemOK {
				mem = strconv.FormatUint(MiB(p.UsedMem), 10) + "MiB"
			}
			fmt.Fprintf(&b, "|%5d   %-3s  %-3s%16d%7s   %-36s%10s |\n",
				d.Index, na(p.GI, ""), na(p.CI, ""), p.PID, p.Type, procName(p.Name, 36), mem)
		}
	}
	if n == 0 {
		fmt.Fprintf(&b, "|  %-87s|\n", "No running processes found")
	}
	b.WriteString(tableRule)
	io.WriteString(w, b.String())
}

// procName shortens a long process name from the left, as nvidia-smi does.
func procName(name string, width int) string {
	if len(name) > width {
		return "..." + name[len(name)-(width-3):]
	}
	return name
}

func orNA(s string) string {
	if s == "" {
		return "N/A"
	}
	return s
}

// List writes -L's lines.
func List(w io.Writer, sys *System) {
	var b strings.Builder
	for _, d := range sys.Devices {
		fmt.Fprintf(&b, "GPU %d: %s (UUID: %s)\n", d.Index, d.Name, d.UUID)
	}
	io.WriteString(w, b.String())
}
