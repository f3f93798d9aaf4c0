// SPDX-License-Identifier: Apache-2.0

package usedfile

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The sequence count guards one writer. A second softmig-guard on the node
// (a manual run beside the unit, or two units) would map the same used
// file and write it at once: two writers make the count even while one of
// them is still writing, and a reader takes a mix of both as a stable copy
// (here: a job that both writers show holding memory read as holding none).
// Only one guard may write a GPU's used file: a second Create must fail
// while the first holds it.
func TestSecondWriterRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Read accepts only root-owned used files: run as root")
	}
	path, err := Path(t.TempDir(), "GPU-8ab1c2d3-0001-4e5f-a6b7-c8d9e0f1a2b3")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Remove() }()
	b, err := Create(path)
	if err == nil {
		defer func() { _ = b.Remove() }()
		t.Errorf("a second writer of %s was let in", path)
	} else {
		t.Logf("second writer refused: %v", err)
		return
	}

	// What two writers make of it: both always show job "victim" with
	// 8 GiB, beside jobs that differ.
	one := map[string]uint64{"victim": 8 << 30}
	two := map[string]uint64{"victim": 8 << 30}
	for i := 0; i < 40; i++ {
		two[string(rune('a'+i%26))+string(rune('a'+i/26))] = 1 << 20
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, w := range []struct {
		f    *File
		used map[string]uint64
	}{{a, one}, {b, two}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				w.f.Publish(time.Now(), 0, w.used)
			}
		}()
	}
	torn, reads, failed := 0, 0, 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && torn == 0; {
		l, err := Read(path)
		reads++
		if err != nil {
			failed++
			continue // written to while read: the reader would ask NVML
		}
		if used, ok := l.Job("victim"); ok && used != 8<<30 {
			torn++
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads, %d refused, %d torn", reads, failed, torn)
	if torn > 0 {
		t.Errorf("with two writers a reader took a torn copy as stable: job victim read as holding less than 8 GiB")
	}
}
