// SPDX-License-Identifier: Apache-2.0

// softmig-conf writes the SoftMig config of a Slurm job: the limits that
// libsoftmig.so enforces for the job's GPU slice.
//
// Synopsis:
//
//	softmig-conf [flags] write [--dry-run] [--job-id=ID] [--job-info=FILE|-]
//	softmig-conf [flags] remove JOBID
//	softmig-conf [flags] show JOBID
//	softmig-conf [flags] check [--gres-conf=FILE]
//	softmig-conf [flags] gres-lua
//	softmig-conf paths
//
// Description:
//
// The Slurm prolog runs `softmig-conf write` as root. It reads the site
// config (/etc/softmig/softmig.yaml), the job from the prolog environment
// (SLURM_JOB_ID, SLURM_JOB_UID, SLURM_JOB_GPUS, SLURMD_NODENAME) and its
// allocation from `scontrol show job -d -o <id>` (run by the tool, or read
// from --job-info), and writes <run_dir>/<jobid>.conf atomically,
// root:root 0644. A job holding shards of a GPU gets shards/shards-per-GPU
// of the GPU's memory and, by default, the same share of SM time; a whole
// GPU gets no limit; a job without a GPU gets no config. It also creates
// the job's empty shared region file, owned by the job's user, mode 0600.
//
// Each sliced GPU also gets a time slot (SOFTMIG_SM_SLOT_<i>): the lowest
// units of the GPU's compute period, one unit per shard, that no other
// job's config in the run directory holds on the same GPU (their
// SOFTMIG_GPU_<i>), chosen and written under a lock on
// <run_dir>/.slots.lock. Too few free units give no slot and a warning,
// never a failure.
//
// When something concerns only this job (an allocation that cannot be
// sliced, a GPU type missing from the site config, a broken site config),
// write fails closed: it writes a config holding SOFTMIG_DISABLED=<reason>,
// so that the library refuses the GPU to this job with that reason, logs
// the error and exits 3. The prolog then still exits 0 and the node stays
// up. The epilog runs `softmig-conf remove <jobid>`.
//
// The run and log directories are built in (make RUNDIR=... LOGDIR=...;
// `softmig-conf paths` prints them): the library reads job configs only
// there, so no flag or site config key can move them. check validates the
// site config (softmig.yaml(5)), gres.conf and the memory NVML reports;
// gres-lua prints the Lua table of GPU types that softmig_gres.lua loads.
//
// Exit status: 0 success, 1 error, 3 the job's config was written failed
// closed (write only).
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/alecthomas/kong"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/siteconf"
)

func main() {
	cmdline.Main("softmig-conf", func(args []string, stdout, stderr io.Writer) error {
		return run(args, sysEnv(), os.Stdin, stdout, stderr)
	})
}

type cli struct {
	Version cmdline.VersionFlag `help:"Print the version (the library's softmig_version) and exit."`
	siteconf.Flag
	Scontrol string `help:"scontrol command (default: paths.scontrol, scontrol)." placeholder:"CMD"`

	Write   writeCmd   `cmd:"" help:"Write the config of the job in the prolog environment."`
	Remove  removeCmd  `cmd:"" help:"Remove a job's config and shared region (epilog). Idempotent."`
	Show    showCmd    `cmd:"" help:"Check and print a job's config."`
	Check   checkCmd   `cmd:"" help:"Validate the site config (and gres.conf, NVML) and print the slices it offers; exit 1 on any problem."`
	Paths   pathsCmd   `cmd:"" help:"Print the directories built in: run_dir=DIR and log_dir=DIR, one per line."`
	GresLua gresLuaCmd `cmd:"" name:"gres-lua" help:"Print softmig_types.lua, the table of GPU types that softmig_gres.lua reads, from the site config."`
}

// app carries what a command needs from the outside world.
type app struct {
	cli    *cli
	env    func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	memory memoryFunc
	gpus   gpusFunc
	now    func() time.Time
	// The directories the library trusts, fixed at build time; tests
	// point them at temporary ones (no flag can).
	runDir, logDir string
}

func sysEnv() func(string) string { return os.Getenv }

func run(args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return newApp(env, stdin, stdout, stderr).run(args)
}

func newApp(env func(string) string, stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{env: env, stdin: stdin, stdout: stdout, stderr: stderr, memory: nvmlMemory, gpus: nvmlGPUs, now: time.Now,
		runDir: defs.RunDir(), logDir: defs.LogDir()}
}

func (a *app) run(args []string) error {
	a.cli = &cli{}
	ctx, _, err := cmdline.Parse(a.cli, args, a.stdout, a.stderr,
		kong.Name("softmig-conf"),
		kong.Description("Write, remove, show and check SoftMig job configs (see softmig-conf(1))."),
		kong.UsageOnError(),
	)
	if err != nil { // an *cmdline.Exit (after --help) or a *cmdline.UsageError
		return err
	}
	switch ctx.Command() {
	case "write":
		return a.write(&a.cli.Write)
	case "remove <jobid>":
		return a.remove(a.cli.Remove.JobID)
	case "show <jobid>":
		if a.cli.Show.JSON {
			return a.showJSON(a.cli.Show.JobID)
		}
		return a.show(a.cli.Show.JobID)
	case "check":
		if a.cli.Check.JSON {
			return a.checkJSON(&a.cli.Check)
		}
		return a.check(&a.cli.Check)
	case "paths":
		return a.printPaths()
	case "gres-lua":
		return a.gresLua()
	}
	return fmt.Errorf("unknown command %q", ctx.Command())
}
