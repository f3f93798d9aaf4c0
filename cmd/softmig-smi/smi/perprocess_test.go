package smi

import (
	"reflect"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// A busy process has one sample per driver period: a second of samples at
// 60 % is 60 %, not their sum.
func TestPerProcessAveragesSamples(t *testing.T) {
	var samples []nvml.ProcessUtilizationSample
	for i := 0; i < 6; i++ {
		samples = append(samples, nvml.ProcessUtilizationSample{Pid: 7, TimeStamp: uint64(i), SmUtil: 60, MemUtil: 20})
	}
	samples = append(samples,
		nvml.ProcessUtilizationSample{Pid: 9, SmUtil: 10, MemUtil: 1},
		nvml.ProcessUtilizationSample{Pid: 9, SmUtil: 21, MemUtil: 2})
	got := perProcess(samples)
	want := []ProcUtil{{PID: 7, SM: 60, Mem: 20}, {PID: 9, SM: 16, Mem: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("perProcess = %+v, want %+v", got, want)
	}
	if got := perProcess(nil); len(got) != 0 {
		t.Fatalf("perProcess(nil) = %+v", got)
	}
}
