// SPDX-License-Identifier: Apache-2.0

package metrics

import (
	"fmt"
	"time"
)

// synthetic is a node of gpus GPUs with perGPU jobs each, as the daemon
// would report it after rounds rounds of 100 ms: every figure is a known
// function of the job's place, so tests can check each value they read
// back. Jobs on odd GPUs run under the lend policy.
func synthetic(gpus, perGPU int, rounds uint64) Snapshot {
	s := Snapshot{
		Taken: time.Unix(1_790_000_000, 0).Add(time.Duration(rounds) * 100 * time.Millisecond),
		Node: Node{Rounds: rounds, RoundTime: time.Duration(rounds) * 3 * time.Millisecond,
			LastRound: 3 * time.Millisecond, NVMLErrors: rounds / 50},
	}
	for g := 0; g < gpus; g++ {
		for k := 0; k < perGPU; k++ {
			s.Jobs = append(s.Jobs, syntheticJob(g, k, perGPU, rounds))
		}
	}
	return s
}

func syntheticJob(g, k, perGPU int, rounds uint64) JobGPU {
	slice := uint64(48<<30) / uint64(perGPU)
	elapsed := time.Duration(rounds) * 100 * time.Millisecond
	share := 1 / float64(perGPU)
	return JobGPU{
		JobID: fmt.Sprint(1000 + g*perGPU + k), User: fmt.Sprintf("user%d", k%5),
		GPU: g, UUID: fmt.Sprintf("GPU-00000000-0000-0000-0000-%012d", g), Slice: fmt.Sprintf("l40s.%d", perGPU),
		SliceBytes: slice, UsedBytes: slice / 2, PeakBytes: slice * 3 / 4,
		SMLimit:    share,
		GPUTime:    time.Duration(float64(elapsed) * share / 2),
		Paused:     elapsed / 10,
		Lending:    g%2 == 1,
		Lent:       elapsed / 20,
		GuardKills: uint64(k % 2), SelfReportedOOMRefusals: uint64(k),
	}
}
