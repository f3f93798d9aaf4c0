// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/softmig/softmig/internal/guardstat"
)

// printGuardStatus adds the admin view's line on softmig-guard, from the
// status file it rewrites every few seconds (root's): whether it runs, how
// long its looks take and what it costs the node.
func printGuardStatus(w io.Writer, runDir string, now time.Time) {
	s, err := guardstat.Read(runDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintln(w, "\nsoftmig-guard: no status file: is it running? systemctl status softmig-guard")
		return
	case err != nil:
		fmt.Fprintf(w, "\nsoftmig-guard: no status (%v): is it running? systemctl status softmig-guard\n", err)
		return
	case now.Sub(s.Updated) > guardstat.Stale:
		fmt.Fprintf(w, "\nsoftmig-guard: not running: its status is %s old (systemctl status softmig-guard)\n",
			now.Sub(s.Updated).Round(time.Second))
		return
	}
	auth := "time authority on"
	if !s.TimeAuthority {
		auth = "time authority off (jobs keep their static slots)"
	}
	fmt.Fprintf(w, "\nsoftmig-guard: pid %d, up %s, %d GPUs, %s; looks %s mean, %s max; CPU %.1f %% of a core (%.1f %% inside NVML); NVML errors %d; kills %d, pauses %d; mappings over budget %d\n",
		s.PID, s.Updated.Sub(s.Started).Round(time.Second), s.GPUs, auth, s.LookMean.Round(time.Microsecond),
		s.LookMax.Round(time.Microsecond), 100*s.CPUShare(), 100*s.NVMLShare(), s.NVMLErrors, s.Kills, s.Pauses, s.MapsOverBudget)
}
