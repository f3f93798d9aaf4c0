// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/softmig/softmig/cmd/softmig-log/logsum"
)

type summaryCmd struct {
	JSON bool   `name:"json" help:"The summary as one JSON object (sizes in bytes, durations in ms)."`
	Job  string `arg:"" help:"Job id (12345), array task (12345_7), pid<N>, or a log file path."`
}

// summaryOut is the JSON form: the log, the lines skipped, the summary.
type summaryOut struct {
	Log     string        `json:"log"`
	Skipped []skippedLine `json:"skipped_lines"`
	*logsum.Summary
}

type skippedLine struct {
	Line int    `json:"line"`
	Err  string `json:"error"`
}

func (c *summaryCmd) Run(e *env) error {
	out, err := e.summarize(c.Job)
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return writeSummary(e.stdout, out)
}

// summarize reads the log of job and summarizes it; skipped lines and
// malformed events are reported on stderr.
func (e *env) summarize(job string) (*summaryOut, error) {
	path, err := e.logPath(job)
	if err != nil {
		return nil, err
	}
	b := logsum.New(logJob(path))
	if offers, err := siteOffers(e.siteConfig); err == nil {
		b.SetOffers(offers)
	}
	skipped, err := e.readRecords(path, b.Add)
	if err != nil {
		return nil, err
	}
	out := &summaryOut{Log: path, Skipped: skipped, Summary: b.Summary()}
	for _, m := range out.Malformed {
		fmt.Fprintf(e.stderr, "softmig-log: %s:%d: skipped: %s\n", path, m.Line, m.Err)
	}
	return out, nil
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}

func sliceText(d *logsum.Device) string {
	switch {
	case d.MemLimit == 0:
		return "none"
	case d.MemLimitMin > 0:
		return logsum.FormatSize(d.MemLimitMin) + "-" + logsum.FormatSize(d.MemLimit)
	}
	return logsum.FormatSize(d.MemLimit)
}

func smText(n int) string {
	switch {
	case n < 0:
		return "?"
	case n == 0 || n >= 100:
		return "none"
	}
	return strconv.Itoa(n) + "%"
}

func countText(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// noGPU says how many processes of the job used no GPU (nvidia-smi...).
func noGPU(n int) string {
	if n == 0 {
		return ""
	}
	return " (and " + countText(n, "process", "processes") + " that logged no GPU use: nvidia-smi, monitoring, or not yet)"
}

// writeSummary writes the human form of a summary.
func writeSummary(w io.Writer, o *summaryOut) error {
	s := o.Summary
	fmt.Fprintf(w, "job %s (%s)\n", s.Job, o.Log)
	if s.First != nil {
		fmt.Fprintf(w, "from %s to %s (%s): %s, %s, %s, %s",
			fmtTime(s.First), fmtTime(s.Last), s.Last.Sub(*s.First).Round(time.Second),
			countText(s.Records, "record", "records"), countText(len(s.Processes), "process", "processes")+noGPU(s.NoGPU),
			countText(s.Errors, "error", "errors"), countText(s.Warnings, "warning", "warnings"))
	} else {
		fmt.Fprintf(w, "no records")
	}
	if n := len(o.Skipped) + len(s.Malformed); n > 0 {
		fmt.Fprintf(w, ", %s skipped (see stderr)", countText(n, "line", "lines"))
	}
	fmt.Fprintln(w)
	for _, ce := range s.ConfigErrors {
		what := ce.Path
		if what == "" {
			what = ce.Var
		}
		fmt.Fprintf(w, "config error: %s pid %d: %s: %s\n", fmtTime(&ce.Time), ce.PID, what, ce.Reason)
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(s.Devices) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "DEV\tSLICE\tSM\tPEAK\tAT\tOF SLICE\tOOM REFUSED\tOOM KILLS\tTHROTTLED\tPROCESSES\tUUID")
		for _, d := range s.Devices {
			peak, pct := "-", "-"
			if d.PeakTime != nil {
				peak = logsum.FormatSize(d.Peak)
				if d.MemLimit > 0 {
					pct = fmt.Sprintf("%.0f%%", d.PeakPercent)
				}
			}
			uuid := d.UUID
			if uuid == "" {
				uuid = "-"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\n", d.Dev, sliceText(d), smText(d.SMLimit),
				peak, fmtTime(d.PeakTime), pct, d.Refused, len(d.Kills), logsum.FormatMS(d.ThrottledMS), d.Processes, uuid)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	writeGPUTime(w, s)
	if len(s.Processes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "PID\tEXE\tSTART\tEXIT\tDEVICES\tPEAK\tTHROTTLED")
		for _, p := range s.Processes {
			exe := p.Exe
			if exe == "" {
				exe = "-"
			}
			exit := fmtTime(p.Exit)
			if p.Killed != nil {
				exit = "killed " + fmtTime(p.Killed)
			}
			devs, peak := "-", "-"
			if len(p.Devices) > 0 {
				ds := make([]string, len(p.Devices))
				for i, d := range p.Devices {
					ds[i] = strconv.Itoa(d)
				}
				devs = strings.Join(ds, ",")
			}
			if len(p.Peak) > 0 {
				peak = logsum.FormatSize(p.MaxPeak())
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.PID, exe, fmtTime(p.Start), exit, devs, peak, logsum.FormatMS(p.ThrottledMS))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	_, err := fmt.Fprintf(w, "verdict: %s\n", s.Verdict)
	return err
}

// writeGPUTime says, per device, what softmig-guard's time authority
// recorded: the share guaranteed, what the job used and what of that was
// lent to it, how long it was paused; nothing when it recorded nothing.
func writeGPUTime(w io.Writer, s *logsum.Summary) {
	first := true
	for _, d := range s.Devices {
		if d.WindowMS == 0 {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nGPU time (softmig-guard's time authority):")
			first = false
		}
		pct := 100 * float64(d.GPUTimeMS) / float64(d.WindowMS)
		fmt.Fprintf(w, "  dev %d: share %d%% guaranteed (%s): used %s of %s (%.0f%%), %s of it lent beyond the share; paused %s (%d pauses), %d processes killed for GPU time\n",
			d.Dev, d.SMLimit, d.Policy, logsum.FormatMS(d.GPUTimeMS), logsum.FormatMS(d.WindowMS), pct,
			logsum.FormatMS(d.LentMS), logsum.FormatMS(d.PausedMS), d.Pauses, d.GuardTime)
	}
}
