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
	"errors"
	"fmt"
	"os"

	"github.com/softmig/softmig/internal/cmdline"
)

func main() {
	err := run(os.Args[1:], sysEnv(), os.Stdin, os.Stdout, os.Stderr)
	var code exitCode
	switch {
	case err == nil:
	case errors.As(err, &code):
		os.Exit(int(code))
	case errors.As(err, new(*cmdline.UsageError)):
		fmt.Fprintf(os.Stderr, "softmig-conf: %v (see softmig-conf --help)\n", err)
		os.Exit(cmdline.UsageExit)
	case errors.Is(err, errFailedClosed):
		fmt.Fprintln(os.Stderr, "softmig-conf:", err)
		os.Exit(3)
	default:
		fmt.Fprintln(os.Stderr, "softmig-conf:", err)
		os.Exit(1)
	}
}
