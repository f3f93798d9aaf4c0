// SPDX-License-Identifier: Apache-2.0

// Package metrics is the Prometheus endpoint of a node (issue 21): the
// daemon that knows every job's slice (softmig-guard) hands it a Snapshot
// of its last round at each scrape, and Families renders it in the
// Prometheus exposition format, one series per job and GPU, labelled with
// the job's identity. Only the jobs in the snapshot have series: a job
// that has ended is gone at the next scrape, so nothing grows without
// bound.
//
// Names follow Prometheus's conventions (base units, _bytes, _seconds_total
// for counters of time, _ratio for fractions). Figures a user can write
// (the job's region and log) carry "self_reported" in their name: they are
// what the job says about itself, never what the driver measured.
package metrics

import "time"

// Snapshot is what the daemon knows at the end of a round.
type Snapshot struct {
	// Taken is when the round that produced these numbers ended. The zero
	// time means no round has ended yet (the daemon is starting): a
	// scrape then gets 503 and a message, never a page of zeros.
	Taken time.Time
	Node  Node
	Jobs  []JobGPU // one entry per job and GPU; a job on two GPUs has two
}

// Node is the daemon's own work, since it started.
type Node struct {
	Rounds     uint64        // rounds completed
	RoundTime  time.Duration // time spent in those rounds, all of them together
	LastRound  time.Duration // how long the last round took
	NVMLErrors uint64        // NVML calls that failed
}

// JobGPU is one job on one GPU. Every figure but the self-reported ones
// comes from the daemon (NVML, root-owned files, the kernel).
type JobGPU struct {
	// Identity (labels).
	JobID string // Slurm job id, as in the job's config: "12345" or "12345_7"
	User  string // the job's user name (its uid as a decimal where no name resolves)
	GPU   int    // NVML index of the GPU
	UUID  string // NVML UUID of the GPU
	Slice string // the slice the job asked for: "l40s.4"; "" for a whole GPU

	SliceBytes uint64        // the job's memory slice on this GPU
	UsedBytes  uint64        // memory the job's processes hold now (NVML)
	PeakBytes  uint64        // the most UsedBytes has been while the daemon watched
	SMLimit    float64       // share of the GPU's time the job is given, 0 to 1; 0 = no limit
	GPUTime    time.Duration // GPU time the job has used (counter)
	Paused     time.Duration // time the job was paused or throttled to keep its share (counter)
	Lending    bool          // the GPU's time policy lends idle time: Lent is exported
	Lent       time.Duration // time the job ran beyond its share on time others left idle (counter)
	GuardKills uint64        // processes of the job the daemon killed (counter)

	// Self-reported: read from the job's region or log, which the job's
	// user can write.
	SelfReportedOOMRefusals uint64 // allocations the library refused (counter)
}
