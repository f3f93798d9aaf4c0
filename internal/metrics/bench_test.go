// SPDX-License-Identifier: Apache-2.0

package metrics

import (
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScrape8x32 is one scrape of a node with 8 GPUs and 32 jobs on
// each (256 jobs, the most a node of 8 GPUs with 32 shards each holds):
// snapshot to gzipped exposition text, through the handler Prometheus
// calls. Besides wall time per scrape it reports the CPU time per scrape
// (cpu-ms/op, garbage collection included), which a busy machine disturbs
// less. docs/benchmarks.md has the numbers; issue 21 asks for at most 10 ms.
func BenchmarkScrape8x32(b *testing.B) {
	snap := synthetic(8, 32, 1000)
	h := Handler(func() Snapshot { return snap })
	req := httptest.NewRequest("GET", Path, nil)
	req.Header.Set("Accept-Encoding", "gzip") // as Prometheus asks
	b.ReportAllocs()
	var size int
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
		size = w.Body.Len()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(size), "gzip-bytes/op")
}
