// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/cmdline"
)

// check --json: the same verdict and exit status as the text, the problems
// split into errors and warnings, and the slices a user may ask for.
func TestCheckJSON(t *testing.T) {
	f := newFixture(t, site4+"  h100:\n    shards: 8\n    denominators: [8]\n", "")
	out, _, err := f.runConf(t, env(), "check", "--json")
	var got checkJSON
	if jerr := json.Unmarshal([]byte(out), &got); err != nil || jerr != nil {
		t.Fatalf("check --json = %v, %v:\n%s", err, jerr, out)
	}
	var gres []string
	for _, s := range got.Slices {
		gres = append(gres, s.Gres)
	}
	if !got.OK || len(got.Errors)+len(got.Warnings) != 0 || strings.Join(gres, " ") != "--gres=gpu:h100:1 --gres=gpu:h100.8:1 --gres=gpu:l40s:1 --gres=gpu:l40s.2:1 --gres=gpu:l40s.4:1" {
		t.Errorf("check --json = %+v; want ok and the slices offered", got)
	}
	f = newFixture(t, site4+"paths:\n  nvidia_smi_real: nvidia-smi.real\ngpuz: {}\n", "")
	out, _, err = f.runConf(t, env(), "check", "--json")
	got = checkJSON{}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("check --json wrote no JSON: %v\n%s", err, out)
	}
	var code *cmdline.Exit
	if !errors.As(err, &code) || code.Code != 1 || got.OK || len(got.Warnings) != 2 || !strings.Contains(strings.Join(got.Warnings, "\n"), `unknown key "gpuz"`) {
		t.Errorf("check --json of a config with two warnings = %v, %+v", err, got)
	}
}

// show --json: the config as the library reads it.
func TestShowJSON(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, site4, line("42", "shard:l40s:1(IDX:0)"))
	e := env("SLURM_JOB_ID=42", "SLURM_JOB_UID=1001", "SLURM_JOB_GPUS=0", "SLURMD_NODENAME=vm")
	if _, stderr, err := f.runConf(t, e, "write", "--job-info", f.info); err != nil {
		t.Fatalf("write: %v\n%s", err, stderr)
	}
	out, _, err := f.runConf(t, env(), "show", "--json", "42")
	var got showJSON
	if jerr := json.Unmarshal([]byte(out), &got); err != nil || jerr != nil {
		t.Fatalf("show --json = %v, %v:\n%s", err, jerr, out)
	}
	if got.Job != "42" || got.Path != filepath.Join(f.run, "42.conf") || got.Config == nil || got.Config.MemoryLimit != 12<<30 {
		t.Errorf("show --json = %+v; want job 42's 12 GiB slice", got)
	}
	if _, _, err := f.runConf(t, env(), "show", "--json", "43"); err == nil || !strings.Contains(err.Error(), "no config for job 43") {
		t.Errorf("show --json of a job without config = %v, want the text form's error", err)
	}
}
