// SPDX-License-Identifier: Apache-2.0

package smi

import (
	"reflect"
	"testing"

	"github.com/softmig/softmig/internal/gpu"
)

// A busy process has one sample per driver period: a second of samples at
// 60 % is 60 %, not their sum.
func TestPerProcessAveragesSamples(t *testing.T) {
	var samples []gpu.Sample
	for i := 0; i < 6; i++ {
		samples = append(samples, gpu.Sample{PID: 7, Time: uint64(i), SM: 60, Mem: 20})
	}
	samples = append(samples,
		gpu.Sample{PID: 9, SM: 10, Mem: 1},
		gpu.Sample{PID: 9, SM: 21, Mem: 2})
	got := perProcess(samples)
	want := []ProcUtil{{PID: 7, SM: 60, Mem: 20}, {PID: 9, SM: 16, Mem: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("perProcess = %+v, want %+v", got, want)
	}
	if got := perProcess(nil); len(got) != 0 {
		t.Fatalf("perProcess(nil) = %+v", got)
	}
}
