// softmig-guard holds every job on the node to its GPU memory slice by the
// driver's own numbers: a root daemon, the backstop behind libsoftmig.so.
//
// Synopsis:
//
//	softmig-guard [--interval D] [--grace D] [--margin SIZE] [--margin-percent N]
//	              [--library PATH] [--once] [--dry-run]
//
// Description:
//
// Every interval the guard asks NVML for each GPU's processes and the memory
// each holds, finds each process's job from /proc/<pid>/cgroup as root reads
// it, and reads the job's slice from its config in the run directory (the
// one libsoftmig.so reads). Two things get processes killed (SIGKILL):
//
//   - a job over its slice on a GPU by more than the margin for longer than
//     the grace period: its processes on that GPU;
//   - a process of a sliced job that uses a GPU without the library (not
//     mapped, or a second copy of libcuda beside it, as dlmopen makes), for
//     longer than the grace period: that process (an escape).
//
// Root's processes, processes outside jobs and jobs without a memory or
// compute limit (whole GPUs) are never touched. A GPU whose NVML calls fail
// is skipped for that round, and every pending kill on it is forgotten. Each
// kill is a "guard kill" event in the job's log and, where scontrol exists,
// a message to the job (scontrol notify). The guard's own state goes to
// stderr (the journal).
//
// Options:
//
//	--interval D        time between two looks at the GPUs (default 250ms)
//	--grace D           how long a job may stay over its slice (default 500ms)
//	--margin SIZE       bytes over the slice that are tolerated (default 64m)
//	--margin-percent N  or this percentage of the slice, if larger (default 1)
//	--maps-every D      how often a known process's mappings are read again (default 1s)
//	--library PATH      the preload library (default: the one in /etc/ld.so.preload)
//	--once              look, wait the grace period, look again, act, exit
//	--dry-run           say what would be killed, kill nothing, write no job log
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/size"
)

type cli struct {
	Version       cmdline.VersionFlag `help:"Print the version (the library's softmig_version) and exit."`
	Interval      time.Duration       `default:"250ms" help:"Time between two looks at the GPUs."`
	Grace         time.Duration       `default:"500ms" help:"How long a job may stay over its slice, or a process escaped, before it is killed."`
	Margin        string              `default:"64m" help:"Bytes over the slice that are tolerated (driver rounding), or --margin-percent of the slice if larger (default 64m)." placeholder:"SIZE"`
	MarginPercent float64             `default:"1" help:"Tolerated percentage of the slice, if larger than --margin." placeholder:"N"`
	MapsEvery     time.Duration       `default:"1s" help:"How often the mappings of a process already judged are read again."`
	Library       string              `help:"The preload library (default: the libsoftmig.so entry of /etc/ld.so.preload)." placeholder:"PATH" type:"path"`
	Once          bool                `help:"Look, wait the grace period, look again, act on what stayed over, and exit (tests, cron)."`
	DryRun        bool                `help:"Say on stderr what would be killed; kill nothing and write no job log."`
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
		kong.Description("Hold every job on this node to its GPU memory slice by the driver's own numbers (a root daemon)."))
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
	switch {
	case c.Interval < 10*time.Millisecond:
		return options{}, fmt.Errorf("--interval %s: too short (at least 10ms)", c.Interval)
	case c.Grace < 0:
		return options{}, fmt.Errorf("--grace %s: must not be negative", c.Grace)
	case c.MarginPercent < 0 || c.MarginPercent > 100:
		return options{}, fmt.Errorf("--margin-percent %g: want 0 to 100", c.MarginPercent)
	}
	return options{
		interval: c.Interval, grace: c.Grace, margin: margin, marginPct: c.MarginPercent,
		mapsEvery: c.MapsEvery, library: c.Library, once: c.Once, dryRun: c.DryRun,
		procRoot: "/proc",
	}, nil
}
