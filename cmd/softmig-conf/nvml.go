package main

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
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
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		return nil, fmt.Errorf("NVML: %s", nvml.ErrorString(ret))
	}
	defer nvml.Shutdown()
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("NVML device count: %s", nvml.ErrorString(ret))
	}
	var out []gpuInfo
	for i := 0; i < n; i++ {
		dev, ret := nvml.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("NVML device %d: %s", i, nvml.ErrorString(ret))
		}
		g := gpuInfo{Index: i, Minor: -1}
		if m, ret := dev.GetMinorNumber(); ret == nvml.SUCCESS {
			g.Minor = m
		}
		if mem, ret := dev.GetMemoryInfo_v2(); ret == nvml.SUCCESS {
			g.Total, g.Reserved = mem.Total, mem.Reserved
		} else if mem, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
			g.Total = mem.Total
		} else {
			return nil, fmt.Errorf("NVML device %d memory: %s", i, nvml.ErrorString(ret))
		}
		out = append(out, g)
	}
	return out, nil
}
