// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Whatever the job's user does to the region file under running processes,
// none of them dies of it (a shrunk mapped file means SIGBUS, status 135):
// a process holding memory, allocating processes and a process started
// after the damage all end normally, and the damage is logged.
func TestDamagedRegionKillsNoProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("seven runs of allocating processes")
	}
	damages := []struct {
		name   string
		logged bool // "shared region damaged" must be logged
		do     func(t *testing.T, path string)
	}{
		{"truncate to 0", true, func(t *testing.T, path string) { truncate(t, path, 0) }},
		{"truncate to 100 bytes", true, func(t *testing.T, path string) { truncate(t, path, 100) }},
		{"truncate to half", true, func(t *testing.T, path string) { truncate(t, path, regionTotalLen/2) }},
		{"zero", true, func(t *testing.T, path string) {
			if err := os.WriteFile(path, make([]byte, regionTotalLen), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"grow", false, func(t *testing.T, path string) { truncate(t, path, 4*regionTotalLen) }},
		{"replace", false, func(t *testing.T, path string) {
			tmp := path + ".new"
			if err := os.WriteFile(tmp, make([]byte, regionTotalLen), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"remove then truncate the open file", true, func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(0); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, dm := range damages {
		t.Run(dm.name, func(t *testing.T) {
			job := uniqueJob()
			r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=8g")
			region := r.regionPath(job)
			held := r.start(nil, "cuclient", "init", "dev:0", "alloc:512m")
			gate := filepath.Join(r.dir, "go")
			// At most 3 x 2 x 64 x 8 MiB: room is left for the process
			// that starts after the damage.
			var stress []*exec.Cmd
			var outs []*strings.Builder
			for i := 0; i < 3; i++ {
				c := r.cmd(true, nil, "stress", "1.5", "2", strconv.FormatUint(8*MiB, 10), gate)
				out := &strings.Builder{}
				c.Stdout, c.Stderr = out, out
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				stress = append(stress, c)
				outs = append(outs, out)
			}
			// A compute-limited process: its launches read the region
			// without the lock.
			launcher := r.cmd(true, []string{"CUDA_DEVICE_SM_LIMIT=50"}, "loadgen", "us=200", "secs=1.5")
			launcherOut := &strings.Builder{}
			launcher.Stdout, launcher.Stderr = launcherOut, launcherOut
			if err := launcher.Start(); err != nil {
				t.Fatal(err)
			}
			eventually(t, 20*time.Second, "3 contexts", func() bool {
				m, _ := filepath.Glob(gate + ".*")
				return len(m) == 3
			})
			if err := os.WriteFile(gate, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			dm.do(t, region)
			// A process that starts on the damaged file.
			after := r.cmd(true, nil, "cuclient", "init", "dev:0", "alloc:256m", "meminfo", "free", "alloc:256m")
			out, err := after.CombinedOutput()
			if err != nil {
				t.Fatalf("a process started after the damage: %v\n%s", err, out)
			}
			if lines := results(splitLines(string(out))); len(lines) != 6 || lines[1] != "dev rc=0" || lines[2] != "alloc rc=0" ||
				lines[5] != "alloc rc=0" {
				t.Fatalf("a process started after the damage: %q", lines)
			}
			for i, c := range stress {
				if err := c.Wait(); err != nil {
					t.Fatalf("an allocating process: %v\n%s", err, outs[i])
				}
				if !strings.Contains(outs[i].String(), "errors=0") {
					t.Fatalf("an allocating process: %s", outs[i])
				}
			}
			if err := launcher.Wait(); err != nil || !strings.Contains(launcherOut.String(), "launches=") {
				t.Fatalf("a launching process: %v\n%s", err, launcherOut)
			}
			if err := held.release(); err != nil {
				t.Fatalf("the process holding memory, at its exit: %v", err)
			}
			log := readFile(t, r.dir+"/softmig.log")
			if dm.logged && strings.Count(log, `msg="shared region damaged"`) == 0 {
				t.Fatalf("the damage was not logged:\n%s", log)
			}
			t.Logf("%d damage lines logged", strings.Count(log, `msg="shared region damaged"`))
		})
	}
}

func truncate(t *testing.T, path string, size int) {
	t.Helper()
	if err := os.Truncate(path, int64(size)); err != nil {
		t.Fatal(fmt.Errorf("truncate: %w", err))
	}
}

// The SIGBUS handler of a process that maps a region takes only faults in
// the region: a SIGBUS sent to the process kills it as without the library.
func TestForeignSIGBUSStillKills(t *testing.T) {
	r := newRig(t, "SLURM_JOB_ID="+uniqueJob(), "CUDA_DEVICE_MEMORY_LIMIT=4g")
	h := r.start(nil, "cuclient", "init", "dev:0", "alloc:64m")
	if err := h.cmd.Process.Signal(syscall.SIGBUS); err != nil {
		t.Fatal(err)
	}
	err := h.cmd.Wait()
	if ws, ok := exitStatus(err); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGBUS {
		t.Fatalf("after kill -BUS: %v, want killed by SIGBUS", err)
	}
}
