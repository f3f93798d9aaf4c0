// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"
)

// Two guards on a node (a manual run beside the unit; the time files
// already let only one be a GPU's authority): both wrote each GPU's used
// file in place at once, which the sequence count does not guard, and the
// one stopped first removed the file the other went on writing into, so
// that no job process saw a used file again while that guard ran. One
// guard writes a used file; another takes it over when that one stops.
func TestUsedFileOfTwoGuards(t *testing.T) {
	n := newNode(t)
	j := n.job("CUDA_DEVICE_MEMORY_LIMIT=4g\nSOFTMIG_GPU_0=0\nSOFTMIG_REGION=$REGION\n")
	first := n.guard()
	holder := n.start(j, true, nil, "cuclient", "init", "dev:0", "alloc:2g", "ready", "hold")
	defer holder.stop()
	publishedFor(t, j.id, 2<<30)

	second := n.guard()
	publishedFor(t, j.id, 2<<30)
	second.stop(t)
	publishedFor(t, j.id, 2<<30) // the first guard's file, still there

	third := n.guard()
	defer third.stop(t)
	first.stop(t)
	publishedFor(t, j.id, 2<<30) // the third took it over
}
