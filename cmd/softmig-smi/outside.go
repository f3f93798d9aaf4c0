// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/gpu"
	"github.com/softmig/softmig/internal/siteconf"
)

// Outside any Slurm job (a login shell on a node, an admin, a health
// check), softmig-smi shows what the site chose (smi.outside_job): the
// whole GPUs as nvidia-smi does, with every job's slice, or, to users
// other than root, nothing. Either way it says what it is; a node where no
// NVIDIA driver answers is said to be one, never a driver failure.

// outsideJob returns the exit that ends softmig-smi for a process outside
// any job when the site shows GPUs to jobs only, nil otherwise.
func outsideJob(choice string, uid int, config string) error {
	if choice != siteconf.OutsideNone || uid == 0 {
		return nil
	}
	return &cmdline.Exit{Code: exitNotFound, Msg: "softmig-smi (SoftMig's nvidia-smi): this process is in no Slurm job, and this site shows GPUs to jobs only " +
		"(smi.outside_job: none in " + config + "). In a job, nvidia-smi shows the job's GPU slice: srun --jobid=<job> --overlap nvidia-smi"}
}

// outsideNVMLError is what softmig-smi says outside a job when NVML cannot
// be reached, with nvidia-smi's exit status for scripts.
func outsideNVMLError(err error) error {
	code := exitOther
	var ex *cmdline.Exit
	if errors.As(nvmlError(err), &ex) {
		code = ex.Code
	}
	if errors.Is(err, gpu.ErrNoLibrary) || code == exitDriver {
		return &cmdline.Exit{Code: code, Msg: "softmig-smi (SoftMig's nvidia-smi): outside a Slurm job it shows this node's whole GPUs, " +
			"and no NVIDIA driver answers here (" + err.Error() + "): a node without NVIDIA GPUs, or their driver is not loaded. " +
			"In a GPU job, nvidia-smi shows the job's slice."}
	}
	return nvmlError(err)
}
