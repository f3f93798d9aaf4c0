// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"

	"github.com/softmig/softmig/internal/gpu"
)

// gpuInfo is what NVML says of one GPU of the node.
type gpuInfo struct {
	Index    int    // NVML index
	Minor    int    // /dev/nvidia<Minor>, as gres.conf's File= names it; -1 unknown
	Total    uint64 // memory NVML reports, bytes
	Reserved uint64 // of which the driver keeps for itself
}

// Usable is the memory slices are cut from: the total less what the driver keeps.
func (g gpuInfo) Usable() uint64 { return g.Total - min(g.Reserved, g.Total) }

// gpusFunc lists the node's GPUs.
type gpusFunc func() ([]gpuInfo, error)

// nvmlMemory is the memory a slice of GPU index is cut from when the site
// config does not say: what NVML reports less what the driver keeps.
// Slurm's GPU index and NVML's agree when gres.conf lists the GPUs in PCI
// bus order, as AutoDetect=nvml does; set gpus.<type>.memory otherwise.
func nvmlMemory(index int) (uint64, error) {
	gpus, err := nvmlGPUs()
	if err != nil {
		return 0, err
	}
	if index < 0 || index >= len(gpus) {
		return 0, fmt.Errorf("NVML has no GPU %d (it sees %d)", index, len(gpus))
	}
	return gpus[index].Usable(), nil
}

// nvmlGPUs asks NVML for every GPU's memory.
func nvmlGPUs() ([]gpuInfo, error) {
	lib, err := gpu.Open("")
	if err != nil {
		return nil, fmt.Errorf("NVML: %w", err)
	}
	// Only read: closing has nothing left to report.
	defer func() { _ = lib.Close() }()
	n, err := lib.DeviceCount()
	if err != nil {
		return nil, fmt.Errorf("NVML device count: %w", err)
	}
	var out []gpuInfo
	for i := 0; i < n; i++ {
		dev, err := lib.Device(i)
		if err != nil {
			return nil, fmt.Errorf("NVML device %d: %w", i, err)
		}
		g := gpuInfo{Index: i, Minor: -1}
		if m, err := dev.Minor(); err == nil {
			g.Minor = m
		}
		mem, err := dev.Memory()
		if err != nil {
			return nil, fmt.Errorf("NVML device %d memory: %w", i, err)
		}
		g.Total, g.Reserved = mem.Total, mem.Reserved
		out = append(out, g)
	}
	return out, nil
}
