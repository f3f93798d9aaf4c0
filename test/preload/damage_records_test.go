// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// What one process logs about each kind of damage it finds when it next
// allocates: one record, of that kind, and the allocation goes on.  (A
// truncated file is swapped for a private copy whose header is rebuilt
// before the lock is taken, so the lock does not find it zeroed too.)
func TestEachDamageIsOneRecordOfItsKind(t *testing.T) {
	cases := []struct {
		name   string
		record string
		do     func(t *testing.T, path string)
	}{
		{"truncated", `what=truncated action="private copy checked against NVML"`,
			func(t *testing.T, path string) { truncate(t, path, 100) }},
		{"zeroed", `what="zeroed or overwritten" action="rebuilt, checked against NVML"`,
			func(t *testing.T, path string) {
				if err := os.WriteFile(path, make([]byte, regionTotalLen), 0o600); err != nil {
					t.Fatal(err)
				}
			}},
		{"entry overwritten", `what="a process entry overwritten" action="entry taken again, checked against NVML"`,
			func(t *testing.T, path string) {
				// The process's entry (the first) now names init.
				f, err := os.OpenFile(path, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				pid := make([]byte, 4)
				binary.LittleEndian.PutUint32(pid, 1)
				if _, err := f.WriteAt(pid, regionProcs); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := uniqueJob()
			r := newRig(t, "SLURM_JOB_ID="+job, "CUDA_DEVICE_MEMORY_LIMIT=2g")
			gate := filepath.Join(r.dir, "go")
			c := r.startReady(nil, "cuclient", "init", "dev:0", "alloc:256m", "ready", "gate:"+gate, "alloc:256m",
				"meminfo")
			tc.do(t, r.regionPath(job))
			// Longer than the library waits between two looks at the
			// file's size: the next allocation looks first.
			time.Sleep(50 * time.Millisecond)
			if err := os.WriteFile(gate, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			lines, err := c.finish()
			if err != nil {
				t.Fatalf("client after the damage: %v %q", err, lines)
			}
			if res := results(lines); len(res) != 6 || res[4] != "alloc rc=0" {
				t.Fatalf("client after the damage: %q", res)
			}
			log := readFile(t, r.dir+"/softmig.log")
			if n := strings.Count(log, `msg="shared region damaged"`); n != 1 || !strings.Contains(log, tc.record) {
				t.Fatalf("want one damage record %s, got %d:\n%s", tc.record, n, log)
			}
		})
	}
}
