// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"strings"
	"testing"
)

// A pitch wider than the library's estimate (width rounded to 512 bytes)
// is admitted like any allocation: when the slice cannot hold the
// difference the memory is freed and the call refused, and the refusal is
// logged as every refusal is (and so reaches the OOM killer, which acts on
// exactly these refusals).
func TestPitchWiderThanTheEstimateIsRefusedLikeAnyAllocation(t *testing.T) {
	// 2 GiB less the 300 MiB context leaves 1748 MiB: 1M rows of 1536
	// bytes (the estimate, 1.5 GiB) fit; at a 2048-byte pitch (2 GiB) not.
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=2g", "SOFTMIG_SIM_PITCH_ALIGN=2048")
	lines, _ := r.run(nil, "cuclient", "init", "dev:0", "pitch:1536:1048576", "alloc:1g", "meminfo")
	want(t, "pitch", results(lines[:4]), "init rc=0", "dev rc=0", "pitch rc=2", "alloc rc=0")
	_, free := totalFree(t, lines[4])
	if free != 2*GiB-ctxMem-GiB {
		t.Fatalf("after the refused pitch and 1 GiB free=%d, want %d (the pitch left nothing behind)",
			free, 2*GiB-ctxMem-GiB)
	}
	log := readFile(t, r.dir+"/softmig.log")
	if !strings.Contains(log, `msg="oom refused" api=cuMemAllocPitch_v2 requested=536870912`) {
		t.Fatalf("the pitch's refusal (512 MiB more than estimated) is not logged:\n%s", log)
	}
	// Without the wider pitch the same call fits.
	r = newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=2g")
	lines, _ = r.run(nil, "cuclient", "init", "dev:0", "pitch:1536:1048576")
	want(t, "pitch at 512", results(lines), "init rc=0", "dev rc=0", "pitch rc=0")
}
