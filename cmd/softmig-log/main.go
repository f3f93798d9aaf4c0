// SPDX-License-Identifier: Apache-2.0

// softmig-log reads the per-job logs that libsoftmig.so writes: what happened
// to a job on its GPU slice, and whether it needed that slice.
//
// Synopsis:
//
//	softmig-log [--dir DIR] ls [--json]
//	softmig-log [--dir DIR] tail [-f] [-n N] JOB
//	softmig-log [--dir DIR] show [--level L,...] [--since T] [--pid P,...] [--grep RE] [--json] JOB
//	softmig-log [--dir DIR] summary [--json] JOB
//	softmig-log [--dir DIR] plot [-o FILE] [--format svg|png] JOB
//	softmig-log [--dir DIR] account [--print] [--wait D] JOB
//
// Description:
//
// Logs are /var/log/softmig/<jobid>.log, one logfmt line per event (contract
// 5 in docs/contracts.md). JOB is a job id (12345), an array task in the
// seed's form (123_4), pid<N> for a process outside a job, or the path of a
// log file. An array task is found by either of its names: given 123_4 the
// tool opens 123_4.log, or the log named by the task's own job id, which it
// asks Slurm for (scontrol, then sacct), and the other way round; without
// Slurm, a 123_4.log whose records carry the given job id.
//
// Lines that are not records (garbage, fragments of interleaved writes, a
// partial last line) are reported on stderr with their line numbers and
// skipped; everything else is kept.
//
// Options:
//
//	-d, --dir DIR   directory of the logs (default: the one built in, /var/log/softmig)
//	--config FILE   site config (softmig.yaml(5)); ls notes a problem in it that
//	                fails GPU jobs closed
//	tail -f         follow the log across rotation and truncation, like tail -F
//	tail -n N       print the last N records first (default 10)
//	show --level    only these levels, or 0-4 for what SOFTMIG_LOG_LEVEL=N writes
//	show --since    only records at or after a time (RFC 3339, a date, or a duration ago)
//	show --pid      only records of these processes
//	show --grep     only lines matching a regular expression
//	--json          JSON (show: one object per record)
//	plot -o FILE    where the picture goes (.svg or .png; - for SVG on stdout;
//	                default JOB.svg)
//	account         append the job's one-line summary to its AdminComment in
//	                Slurm's accounting (the epilog runs it); --print: only print it
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/siteconf"
)

func main() {
	cmdline.Main("softmig-log", func(args []string, stdout, stderr io.Writer) error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runEnv(newEnv(ctx, stdout, stderr), args)
	})
}

// env is what the commands need from the outside world; tests replace parts.
type env struct {
	ctx            context.Context
	stdout, stderr io.Writer
	dir            string
	siteConfig     string // --config: summary suggests its slices
	now            func() time.Time
	slurm          func(ctx context.Context, id string) []string // other names of a job
	poll           time.Duration                                 // tail -f
}

func newEnv(ctx context.Context, stdout, stderr io.Writer) *env {
	return &env{ctx: ctx, stdout: stdout, stderr: stderr, now: time.Now, slurm: slurmNames, poll: 250 * time.Millisecond}
}

type cli struct {
	Version cmdline.VersionFlag `help:"Print the version (the library's softmig_version) and exit."`
	Dir     string              `short:"d" default:"${logdir}" placeholder:"DIR" help:"Directory of the per-job logs (default: ${logdir}, built in)."`
	siteconf.Flag

	Ls      lsCmd      `cmd:"" help:"List the jobs that have a log: size, last event, errors, out-of-memory refusals."`
	Tail    tailCmd    `cmd:"" help:"Print the last records of a job's log; with -f, follow it."`
	Show    showCmd    `cmd:"" help:"Print a job's records, filtered."`
	Summary summaryCmd `cmd:"" help:"Per device: the slice, peak memory and when, refusals, kills, time throttled; the processes; a right-sizing verdict."`
	Plot    plotCmd    `cmd:"" help:"Draw the job's memory against its slice and its GPU time against its share, over time (SVG or PNG)."`
	Account accountCmd `cmd:"" help:"Append the job's one-line summary to its AdminComment in Slurm's accounting, for sacct (the epilog runs it)."`
}

// run is the command line: args without the program name.
func run(args []string, stdout, stderr io.Writer) error {
	return runEnv(newEnv(context.Background(), stdout, stderr), args)
}

func runEnv(e *env, args []string) error {
	var c cli
	kctx, parser, err := cmdline.Parse(&c, args, e.stdout, e.stderr,
		kong.Name("softmig-log"),
		kong.Vars{"logdir": defs.LogDir()},
		kong.Description("Read the per-job logs of libsoftmig.so: what happened to a job on its GPU slice, and did it need that slice."),
	)
	var ex *cmdline.Exit
	if errors.As(err, &ex) {
		if ex.Code == 0 {
			return nil
		}
		return ex
	}
	if err != nil {
		if parser == nil {
			return err
		}
		parser.Errorf("%s (see softmig-log --help)", err)
		return &cmdline.Exit{Code: cmdline.UsageExit}
	}
	e.dir, e.siteConfig = c.Dir, c.Config
	if kctx.Command() == "ls" {
		noteSite(c.Flag, e.stderr)
	}
	return kctx.Run(e)
}

// noteSite tells the admin listing the logs that the site config (read as
// every tool reads it) fails GPU jobs closed: the "config error" records
// of the jobs then have one cause, named here with its line.
func noteSite(f siteconf.Flag, stderr io.Writer) {
	if _, err := f.Load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "softmig-log: note: GPU jobs on this node fail closed until the site config is fixed (softmig-conf check):\n%v\n", err)
	}
}
