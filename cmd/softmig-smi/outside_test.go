// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/gpu"
)

// driverNotLoaded is NVML's answer on a node whose driver is not loaded.
var driverNotLoaded = &gpu.Error{Call: "nvmlInit", Code: int(nvml.ERROR_DRIVER_NOT_LOADED), Msg: nvml.ERROR_DRIVER_NOT_LOADED.Error()}

// Outside a job on a node where no NVIDIA driver answers (a login node, a
// CPU node) softmig-smi says what it is and that there is no driver, with
// nvidia-smi's exit status; it never says the driver failed.
func TestOutsideJobWithoutDriver(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"no library", gpu.ErrNoLibrary, exitNoLibrary},
		{"driver not loaded", driverNotLoaded, exitDriver},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, outside)
			n.openErr = tc.err
			r := n.run(t)
			var ex *cmdline.Exit
			if !errors.As(r.err, &ex) || ex.Code != tc.code {
				t.Fatalf("softmig-smi = %v; want exit %d", r.err, tc.code)
			}
			if !strings.Contains(ex.Msg, "SoftMig's nvidia-smi") || !strings.Contains(ex.Msg, "no NVIDIA driver answers here") ||
				!strings.Contains(ex.Msg, tc.err.Error()) || strings.Contains(ex.Msg, "has failed") {
				t.Errorf("message %q: want what softmig-smi is, that no driver answers (with NVML's error), no failure", ex.Msg)
			}
		})
	}
	// In a job the message stays nvidia-smi's: the job was given a GPU.
	n := newNode(t, inJob42)
	n.openErr = driverNotLoaded
	var ex *cmdline.Exit
	if r := n.run(t); !errors.As(r.err, &ex) || !strings.Contains(ex.Msg, "has failed because it couldn't communicate") {
		t.Errorf("in a job without a driver: %v; want nvidia-smi's message", r.err)
	}
}

// smi.outside_job: none shows users outside a job nothing but what
// softmig-smi is and where to look; root (health checks) still sees GPUs.
func TestOutsideJobNone(t *testing.T) {
	n := newNode(t, outside)
	config := filepath.Join(t.TempDir(), "softmig.yaml")
	writeFile(t, config, "gpus:\n  h100:\n    shards: 8\nsmi:\n  outside_job: none\n", 0o644)
	n.uid = 1000
	r := n.run(t, "--config="+config)
	var ex *cmdline.Exit
	if !errors.As(r.err, &ex) || ex.Code != exitNotFound || !strings.Contains(ex.Msg, "shows GPUs to jobs only (smi.outside_job: none in "+config+")") || r.stdout != "" {
		t.Errorf("a user outside a job, outside_job none: %v, stdout %q; want exit %d saying why, nothing else", r.err, r.stdout, exitNotFound)
	}
	n.uid = 0
	if r := n.run(t, "--config="+config); r.err != nil || !strings.Contains(r.stdout, "NVIDIA-SMI") {
		t.Errorf("root outside a job: %v\n%s; want the whole GPUs", r.err, r.stdout)
	}
	n.uid = 1000
	writeFile(t, config, "gpus:\n  h100:\n    shards: 8\n", 0o644)
	if r := n.run(t, "--config="+config); r.err != nil || !strings.Contains(r.stdout, "NVIDIA-SMI") {
		t.Errorf("a user outside a job, default (gpus): %v\n%s; want the whole GPUs", r.err, r.stdout)
	}
	// In a job, the job's slice whatever outside_job says.
	j := newNode(t, inJob42)
	j.uid = 1000
	writeFile(t, config, "gpus:\n  h100:\n    shards: 8\nsmi:\n  outside_job: none\n", 0o644)
	if r := j.run(t, "--config="+config, "--query-gpu=memory.total", "--format=csv,noheader"); r.err != nil || strings.ReplaceAll(r.stdout, "20480 MiB\n", "") != "" {
		t.Errorf("in a job with outside_job none: %v %q; want the slice", r.err, r.stdout)
	}
}
