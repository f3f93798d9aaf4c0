package main

import (
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// nvmlMemory asks NVML for the total memory of GPU index. Slurm's GPU
// index and NVML's agree when gres.conf lists the GPUs in PCI bus order,
// as AutoDetect=nvml does; set gpus.<type>.memory otherwise.
func nvmlMemory(index int) (uint64, error) {
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		return 0, fmt.Errorf("NVML: %s", nvml.ErrorString(ret))
	}
	defer nvml.Shutdown()
	dev, ret := nvml.DeviceGetHandleByIndex(index)
	if ret != nvml.SUCCESS {
		return 0, fmt.Errorf("NVML device %d: %s", index, nvml.ErrorString(ret))
	}
	mem, ret := dev.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return 0, fmt.Errorf("NVML device %d memory: %s", index, nvml.ErrorString(ret))
	}
	return mem.Total, nil
}
