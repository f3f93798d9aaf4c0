// SPDX-License-Identifier: Apache-2.0

// softmig-guard holds every job on the node to its GPU slice by what its
// user cannot forge: memory by the driver's own numbers, GPU time by a
// schedule it decides and publishes itself. A root daemon, the backstop
// behind libsoftmig.so and the node's time authority.
//
// Synopsis:
//
//	softmig-guard [--interval D] [--grace D] [--margin SIZE] [--margin-percent N]
//	              [--maps-every D] [--maps-budget SIZE] [--library PATH]
//	              [--device-files GLOB] [--policy cap|lend] [--no-time]
//	              [--once] [--dry-run]
//
// Description (softmig-guard(8) has it all):
//
// Memory. At random moments, at most interval apart, the guard reads each
// GPU's memory in use; when it moved, or at a random deadline, it reads
// the GPU's processes, finds each one's job from /proc/<pid>/cgroup as root
// reads it, and sums each job. A job seen over its slice by more than the
// margin, on two reads confirmAfter apart (or twice within two seconds),
// has its processes on that GPU killed: the library refuses every
// allocation past the slice, so only a process that went around it gets
// there. Memory the driver holds for a process that is gone is charged to
// the job it was in. A process of a sliced job that uses a GPU without the
// library (its mappings, read apart within a budget) is killed after the
// grace period (an escape).
//
// Time. For every GPU the guard decides which job may launch when (each
// job's time slot; under the lend policy, the slots of idle jobs lent to
// busy ones), publishes it in <run dir>/<GPU UUID>.time for the library,
// and measures each job's GPU time from NVML's per-process samples. A job
// that runs outside its windows owes that time: its next windows are cut,
// a debt over 200 ms freezes its job cgroup until repaid, and a debt over
// 750 ms or a second pause in a minute kills its processes on the GPU,
// and the job stays frozen until it has repaid.
//
// Root's processes, processes outside jobs and jobs without a limit
// (whole GPUs) are never touched. A GPU whose NVML calls fail is skipped
// and nothing is judged on it. Each kill and pause is an event in the
// job's log and, where scontrol exists, a message to the job.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/siteconf"
	"github.com/softmig/softmig/internal/size"
)

type cli struct {
	siteconf.Flag
	Version       cmdline.VersionFlag `help:"Print the version (the library's softmig_version) and exit."`
	Interval      time.Duration       `default:"40ms" help:"Longest time between two looks at the GPUs' memory (looks come at random within it)."`
	Grace         time.Duration       `default:"500ms" help:"How long a process may use a GPU outside the library before it is killed."`
	Margin        string              `default:"64m" help:"Bytes over the slice that are tolerated (driver rounding), or --margin-percent of the slice if larger (default 64m)." placeholder:"SIZE"`
	MarginPercent float64             `default:"1" help:"Tolerated percentage of the slice, if larger than --margin." placeholder:"N"`
	MapsEvery     time.Duration       `default:"2s" help:"How often the mappings of a process already judged are read again."`
	MapsBudget    string              `default:"8m" help:"Most bytes of one process's mappings read to judge it; a process with more counts as escaped (default 8m)." placeholder:"SIZE"`
	Library       string              `help:"The preload library (default: the libsoftmig.so entry of /etc/ld.so.preload)." placeholder:"PATH" type:"path"`
	DeviceFiles   string              `default:"/dev/nvidia*" help:"Device files whose holders may keep a GPU's memory after its process is gone (a glob)." placeholder:"GLOB"`
	Policy        string              `default:"lend" enum:"cap,lend" help:"Time policy of jobs whose config does not name one (cap or lend)."`
	NoTime        bool                `help:"No time authority: publish no gates, judge no GPU time (jobs keep their static time slots)."`
	Once          bool                `help:"Look at memory and escapes for the grace period, act, and exit (tests, cron); no time authority."`
	DryRun        bool                `help:"Say on stderr what would be killed or paused; kill and pause nothing, write no job log."`
}

func main() {
	cmdline.Main("softmig-guard", func(args []string, stdout, stderr io.Writer) error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return run(ctx, args, stdout, stderr)
	})
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c cli
	_, parser, err := cmdline.Parse(&c, args, stdout, stderr,
		kong.Name("softmig-guard"),
		kong.Description("Hold every job on this node to its GPU slice, memory and time, by what its user cannot forge (a root daemon)."))
	var ex *cmdline.Exit
	if errors.As(err, &ex) {
		return err
	}
	if err != nil {
		if parser == nil {
			return err
		}
		parser.Errorf("%s (see softmig-guard --help)", err)
		return &cmdline.Exit{Code: cmdline.UsageExit}
	}
	opts, err := c.options()
	if err != nil {
		return err
	}
	g := newGuard(opts, newLogger(stderr))
	return g.run(ctx)
}

// options checks the flags and turns them into the guard's settings.
func (c *cli) options() (options, error) {
	margin, err := size.Parse(c.Margin)
	if err != nil {
		return options{}, fmt.Errorf("--margin %q: %w (want a size such as 64m)", c.Margin, err)
	}
	budget, err := size.Parse(c.MapsBudget)
	if err != nil || budget < 64<<10 {
		return options{}, fmt.Errorf("--maps-budget %q: want a size of at least 64k, such as 8m", c.MapsBudget)
	}
	if _, err := filepath.Match(c.DeviceFiles, ""); err != nil {
		return options{}, fmt.Errorf("--device-files %q: %w (want a glob such as /dev/nvidia*)", c.DeviceFiles, err)
	}
	switch {
	case c.Interval < 10*time.Millisecond || c.Interval > 10*time.Second:
		return options{}, fmt.Errorf("--interval %s: want 10ms to 10s", c.Interval)
	case c.MapsEvery < 100*time.Millisecond:
		return options{}, fmt.Errorf("--maps-every %s: too short (at least 100ms)", c.MapsEvery)
	case c.Grace < 0:
		return options{}, fmt.Errorf("--grace %s: must not be negative", c.Grace)
	case c.MarginPercent < 0 || c.MarginPercent > 100:
		return options{}, fmt.Errorf("--margin-percent %g: want 0 to 100", c.MarginPercent)
	}
	return options{
		interval: c.Interval, grace: c.Grace, margin: margin, marginPct: c.MarginPercent,
		mapsEvery: c.MapsEvery, mapsBudget: int64(budget), library: c.Library,
		deviceFiles: c.DeviceFiles, policy: c.Policy, noTime: c.NoTime,
		once: c.Once, dryRun: c.DryRun, procRoot: "/proc", siteConfig: c.Config,
	}, nil
}
