// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/softmig/softmig/internal/jobconf"
)

// job runs the prolog's `softmig-conf write` for job id holding gres, with
// SLURM_JOB_GPUS=gpus, and returns its config and stderr.
func (f *fixture) job(t *testing.T, id, gres, gpus string) (*jobconf.Config, string, error) {
	info := filepath.Join(f.dir, id+".txt")
	if err := os.WriteFile(info, []byte(line(id, gres)), 0o644); err != nil {
		return nil, "", err
	}
	e := env("SLURM_JOB_ID="+id, "SLURM_JOB_UID=1001", "SLURM_JOB_GPUS="+gpus, "SLURMD_NODENAME=vm")
	_, stderr, err := f.runConf(t, e, "write", "--job-info", info)
	if err != nil {
		return nil, stderr, fmt.Errorf("write job %s: %w\n%s", id, err, stderr)
	}
	c, err := jobconf.Load(filepath.Join(f.run, id+".conf"))
	return c, stderr, err
}

// slots returns "GPU=slot" for each CUDA device of c, "GPU=-" without slot.
func slots(c *jobconf.Config) string {
	var out []string
	for _, o := range sortedOrds(c.DeviceGPU) {
		s := "-"
		if sl := c.SlotFor(o); len(sl) > 0 {
			s = sl.String()
		}
		out = append(out, fmt.Sprintf("%d=%s", c.DeviceGPU[o], s))
	}
	return strings.Join(out, " ")
}

const site8 = "gpus:\n  h100:\n    shards: 8\n    memory: 80g\n"

func TestSlots(t *testing.T) {
	requireRoot(t)
	type step struct {
		id, gres, gpus string // gres "" removes job id
		want           string // slots(), "GPU=slot ..."
		warn           string // in stderr
	}
	for _, tc := range []struct {
		name, site string
		steps      []step
	}{
		{"quarters, remove, over-commit, reuse", site4, []step{
			{"1", "shard:l40s:1(IDX:0)", "0", "0=0-25", ""},
			{"2", "shard:l40s:1(IDX:0)", "0", "0=25-50", ""},
			{"3", "shard:l40s:1(IDX:0)", "0", "0=50-75", ""},
			{"4", "shard:l40s:1(IDX:0)", "0", "0=75-100", ""},
			{"2", "", "", "", ""},
			{"5", "shard:l40s:2(IDX:0)", "0", "0=-", "softmig-conf: warning: job 5: GPU 0 has 1 free time units of 4 but the job needs 2 (units held by jobs 1, 3, 4): no time slot for CUDA device 0"},
			{"6", "shard:l40s:1(IDX:0)", "0", "0=25-50", ""},
		}},
		{"eighths 3,2,3", site8, []step{
			{"10", "shard:h100:3(IDX:0)", "0", "0=0-37", ""},
			{"11", "shard:h100:2(IDX:0)", "0", "0=37-62", ""},
			{"12", "shard:h100:3(IDX:0)", "0", "0=62-100", ""},
			{"13", "shard:h100:1(IDX:0)", "0", "0=-", "GPU 0 has 0 free time units of 8 but the job needs 1 (units held by jobs 10, 11, 12)"},
		}},
		{"non-contiguous", site8, []step{
			{"20", "shard:h100:1(IDX:0)", "0", "0=0-12", ""},
			{"21", "shard:h100:1(IDX:0)", "0", "0=12-25", ""},
			{"22", "shard:h100:1(IDX:0)", "0", "0=25-37", ""},
			{"23", "shard:h100:1(IDX:0)", "0", "0=37-50", ""},
			{"21", "", "", "", ""},
			{"23", "", "", "", ""},
			{"24", "shard:h100:3(IDX:0)", "0", "0=12-25,37-62", ""},
		}},
		{"two GPUs do not share units", site4, []step{
			{"30", "shard:l40s:3(IDX:0)", "0", "0=0-75", ""},
			{"31", "shard:l40s:1(IDX:1)", "1", "1=0-25", ""},
			{"32", "shard:l40s:1(IDX:1),shard:l40s:1(IDX:0)", "1,0", "1=25-50 0=75-100", ""},
			{"33", "gpu:l40s:1(IDX:2)", "2", "2=-", ""},
			{"34", "shard:l40s:2(IDX:3),gpu:l40s:1(IDX:2)", "2,3", "2=- 3=0-50", ""},
		}},
		{"no SM limit, no slots", "gpus:\n  l40s:\n    shards: 4\n    memory: 48g\npolicy:\n  sm_limit: none\n", []step{
			{"40", "shard:l40s:1(IDX:0)", "0", "0=-", ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.site, "")
			for _, s := range tc.steps {
				if s.gres == "" {
					if _, _, err := f.runConf(t, env(), "remove", s.id); err != nil {
						t.Fatal(err)
					}
					continue
				}
				c, stderr, err := f.job(t, s.id, s.gres, s.gpus)
				if err != nil {
					t.Fatal(err)
				}
				// Map CUDA ordinals back: slots() lists them in ordinal order.
				if got := slots(c); got != s.want {
					t.Errorf("job %s: slots %q, want %q", s.id, got, s.want)
				}
				if s.warn == "" && stderr != "" || !strings.Contains(stderr, s.warn) {
					t.Errorf("job %s: stderr %q, want %q", s.id, stderr, s.warn)
				}
			}
			// Every config the command wrote passes show and check without warnings.
			out, stderr, err := f.runConf(t, env(), "check")
			if err != nil || strings.Contains(stderr, "warning") {
				t.Errorf("check: %v\n%s%s", err, out, stderr)
			}
		})
	}
}

func TestSlotsSkipBadConfig(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, site4, "")
	if err := os.Mkdir(f.run, 0o755); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(f.run, "99.conf")
	if err := os.WriteFile(bad, []byte("SOFTMIG_SM_SLOT_0=0-25,25-50\nSOFTMIG_GPU_0=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A hand-written config holding 25-75 on GPU 0 for every device.
	if err := os.WriteFile(filepath.Join(f.run, "98.conf"), []byte("CUDA_DEVICE_SM_LIMIT=50\nSOFTMIG_SM_SLOT=25-75\nSOFTMIG_GPU_0=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, stderr, err := f.job(t, "1", "shard:l40s:2(IDX:0)", "0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, `softmig-conf: note: time slots: skipping "`+bad+`": invalid job config: line 1: SOFTMIG_SM_SLOT_0: `) {
		t.Errorf("stderr %q does not name the unparsable config", stderr)
	}
	if got := slots(c); got != "0=0-25,75-100" {
		t.Errorf("slots %q, want the two units 98 leaves free", got)
	}
	c, stderr, err = f.job(t, "2", "shard:l40s:1(IDX:0)", "0")
	if err != nil || slots(c) != "0=-" || !strings.Contains(stderr, "(units held by jobs 1, 98)") {
		t.Fatalf("job 2: %v %v\n%s", c, err, stderr)
	}
}

func TestSlotsConcurrent(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, site8, "")
	var wg sync.WaitGroup
	got := make([]string, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, _, err := f.job(t, fmt.Sprint(100+i), "shard:h100:1(IDX:0)", "0")
			errs[i] = err
			if err == nil {
				got[i] = slots(c)
			}
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(got)
	want := []string{"0=0-12", "0=12-25", "0=25-37", "0=37-50", "0=50-62", "0=62-75", "0=75-87", "0=87-100"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("slots of 8 concurrent jobs: %v, want %v", got, want)
	}
}

func TestShowCheckSlotWarnings(t *testing.T) {
	requireRoot(t)
	f := newFixture(t, site4, "")
	if err := os.Mkdir(f.run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.run, "5.conf"), []byte("CUDA_DEVICE_SM_LIMIT_0=25\nSOFTMIG_SM_SLOT_0=0-26\nSOFTMIG_GPU_0=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.run, "6.conf"), []byte("CUDA_DEVICE_SM_LIMIT_0=25\nSOFTMIG_SM_SLOT_0=20-50\nSOFTMIG_GPU_0=0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := f.runConf(t, env(), "show", "5")
	if err != nil || !strings.Contains(out, "# CUDA device 0 = GPU 0: time slot 0-26 (26% of the period)") || !strings.Contains(out, "# warning: GPU 0: overlaps job 6's time slot 20-50") || strings.Contains(out, "SM limit is") {
		t.Errorf("show 5: %v\n%s", err, out)
	}
	out, _, err = f.runConf(t, env(), "show", "6")
	if err != nil || !strings.Contains(out, "# warning: CUDA device 0: time slot 20-50 is 30% of the period but the SM limit is 25%") {
		t.Errorf("show 6: %v\n%s", err, out)
	}
	out, stderr, err := f.runConf(t, env(), "check")
	for _, w := range []string{"time slots in " + f.run + ": 2 held", "  GPU 0: job 5 holds 0-26", "  GPU 0: job 6 holds 20-50", "time slot units (% of the period): 0-25 25-50 50-75 75-100"} {
		if !strings.Contains(out, w) {
			t.Errorf("check output lacks %q:\n%s", w, out)
		}
	}
	for _, w := range []string{"softmig-conf: warning: GPU 0: time slots of jobs 5 (0-26) and 6 (20-50) overlap", "6.conf: CUDA device 0: time slot 20-50 is 30%"} {
		if err != nil || !strings.Contains(stderr, w) {
			t.Errorf("check: %v; stderr lacks %q:\n%s", err, w, stderr)
		}
	}
}
