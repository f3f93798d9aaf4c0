// SPDX-License-Identifier: Apache-2.0

package guardstat

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("Read accepts only root's file: run as root")
	}
	dir := t.TempDir()
	now := time.UnixMilli(time.Now().UnixMilli())
	in := &Status{PID: 42, Started: now.Add(-time.Minute), Updated: now, TimeAuthority: true, GPUs: 8, Looks: 1200,
		LookMean: 310 * time.Microsecond, LookMax: 9 * time.Millisecond, CPU: 600 * time.Millisecond, NVMLCalls: 9000, NVMLCPU: 200 * time.Millisecond,
		NVMLErrors: 1, Kills: 2, Pauses: 3, MapsReads: 40, MapsOverBudget: 1}
	if err := Write(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if *out != *in {
		t.Errorf("Read = %+v; want %+v", out, in)
	}
	if got := out.CPUShare(); got < 0.0099 || got > 0.0101 {
		t.Errorf("CPUShare = %v; want 0.01", got)
	}
	if err := os.Chmod(filepath.Join(dir, Name), 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err == nil {
		t.Error("Read accepted a world-writable status")
	}
}
