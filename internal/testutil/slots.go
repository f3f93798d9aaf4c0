// SPDX-License-Identifier: Apache-2.0

package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/defs"
)

// slotsLock is shared by every test that puts job configs holding time
// slots of a GPU (SOFTMIG_GPU_<i> with SOFTMIG_SM_SLOT) into the node's run
// directory, and taken alone by a test that needs the GPU's slots free
// (softmig-conf gives a real Slurm job the first free one). Test packages
// run in parallel, and the run directory is the node's, built in.
const slotsLock = "/tmp/softmig-test-slots.lock"

// TestJobIDs is the range of the job ids node tests make up (their
// configs sit in the node's run directory beside real jobs').
const (
	TestJobIDs    = 800000000
	TestJobIDsLen = 99999999
)

// HoldSlotsShared holds the slots lock shared until the test ends.
func HoldSlotsShared(t testing.TB) { holdSlots(t, syscall.LOCK_SH) }

// HoldSlotsAlone holds the slots lock alone until the test ends: no other
// test holds a time slot in the run directory meanwhile.
func HoldSlotsAlone(t testing.TB) { holdSlots(t, syscall.LOCK_EX) }

var slotsHeld sync.Map // testing.TB -> true: taken once per test

func holdSlots(t testing.TB, how int) {
	t.Helper()
	if _, dup := slotsHeld.LoadOrStore(t, true); dup {
		return
	}
	f, err := os.OpenFile(slotsLock, os.O_CREATE|os.O_RDWR, 0o600)
	Must(t, err)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("%s: held by other tests for 10 minutes: %v", slotsLock, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		slotsHeld.Delete(t)
		f.Close() // releases the lock
	})
	if how == syscall.LOCK_EX {
		removeStaleSlots(t)
	}
}

// removeStaleSlots removes, under the lock held alone, the configs of test
// jobs that hold slots: their tests would hold the lock shared, so these
// were left by a test run that was killed, and softmig-conf would count
// their slots as taken for good.
func removeStaleSlots(t testing.TB) {
	names, _ := filepath.Glob(filepath.Join(defs.RunDir(), "*.conf"))
	for _, name := range names {
		id, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(name), ".conf"))
		if err != nil || id < TestJobIDs || id >= TestJobIDs+TestJobIDsLen {
			continue
		}
		if b, err := os.ReadFile(name); err != nil || !bytes.Contains(b, []byte("SOFTMIG_SM_SLOT")) {
			continue
		}
		t.Logf("removing %s, a test job's config left by a killed test run", name)
		_ = os.Remove(name)
		_ = os.Remove(strings.TrimSuffix(name, ".conf") + ".region")
	}
}
