// SPDX-License-Identifier: Apache-2.0

package metrics

import (
	"fmt"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// JobLabels identify a job on a GPU: the Slurm job id, its user, the GPU's
// NVML index and UUID, and the slice the job asked for ("" for a whole GPU).
var JobLabels = []string{"jobid", "user", "gpu", "uuid", "slice"}

// metric is one exported quantity: its name, help, type and where its
// value comes from. The tables below are the one list of what the
// endpoint exports (the dashboard's test reads them through Names).
type metric[T any] struct {
	name, help string
	kind       prometheus.ValueType
	value      func(*T) float64
	only       func(*T) bool // nil: always exported
	desc       *prometheus.Desc
}

var jobMetrics = []*metric[JobGPU]{
	{name: "softmig_job_slice_bytes", kind: prometheus.GaugeValue,
		help:  "Memory slice of the job on the GPU.",
		value: func(j *JobGPU) float64 { return float64(j.SliceBytes) }},
	{name: "softmig_job_memory_used_bytes", kind: prometheus.GaugeValue,
		help:  "GPU memory the job's processes hold, as NVML reports it.",
		value: func(j *JobGPU) float64 { return float64(j.UsedBytes) }},
	{name: "softmig_job_memory_peak_bytes", kind: prometheus.GaugeValue,
		help:  "Most GPU memory the job's processes held at once, as NVML reported it.",
		value: func(j *JobGPU) float64 { return float64(j.PeakBytes) }},
	{name: "softmig_job_sm_limit_ratio", kind: prometheus.GaugeValue,
		help:  "Share of the GPU's time the job is given, 0 to 1 (0: no limit).",
		value: func(j *JobGPU) float64 { return j.SMLimit }},
	{name: "softmig_job_gpu_time_seconds_total", kind: prometheus.CounterValue,
		help:  "GPU time the job has used.",
		value: func(j *JobGPU) float64 { return j.GPUTime.Seconds() }},
	{name: "softmig_job_paused_seconds_total", kind: prometheus.CounterValue,
		help:  "Time the job was paused or throttled to hold it to its share.",
		value: func(j *JobGPU) float64 { return j.Paused.Seconds() }},
	{name: "softmig_job_lent_seconds_total", kind: prometheus.CounterValue,
		help:  "Time the job ran beyond its share on GPU time other jobs left idle (GPUs whose time policy lends).",
		value: func(j *JobGPU) float64 { return j.Lent.Seconds() },
		only:  func(j *JobGPU) bool { return j.Lending }},
	{name: "softmig_job_guard_kills_total", kind: prometheus.CounterValue,
		help:  "Processes of the job softmig-guard killed.",
		value: func(j *JobGPU) float64 { return float64(j.GuardKills) }},
	{name: "softmig_job_self_reported_oom_refusals_total", kind: prometheus.CounterValue,
		help:  "Allocations libsoftmig.so refused the job for want of room in its slice. Self-reported: read from the job's region or log, which its user can write.",
		value: func(j *JobGPU) float64 { return float64(j.SelfReportedOOMRefusals) }},
}

var nodeMetrics = []*metric[Snapshot]{
	{name: "softmig_guard_rounds_total", kind: prometheus.CounterValue,
		help:  "Rounds softmig-guard has completed (each reads every job's use from NVML).",
		value: func(s *Snapshot) float64 { return float64(s.Node.Rounds) }},
	{name: "softmig_guard_round_seconds_total", kind: prometheus.CounterValue,
		help:  "Time softmig-guard has spent in its rounds.",
		value: func(s *Snapshot) float64 { return s.Node.RoundTime.Seconds() }},
	{name: "softmig_guard_last_round_seconds", kind: prometheus.GaugeValue,
		help:  "How long softmig-guard's last round took.",
		value: func(s *Snapshot) float64 { return s.Node.LastRound.Seconds() }},
	{name: "softmig_guard_last_round_timestamp_seconds", kind: prometheus.GaugeValue,
		help:  "When softmig-guard's last round ended (Unix time): the age of every figure here.",
		value: func(s *Snapshot) float64 { return float64(s.Taken.UnixNano()) / 1e9 }},
	{name: "softmig_guard_nvml_errors_total", kind: prometheus.CounterValue,
		help:  "NVML calls of softmig-guard that failed.",
		value: func(s *Snapshot) float64 { return float64(s.Node.NVMLErrors) }},
}

func init() {
	for _, m := range jobMetrics {
		m.desc = prometheus.NewDesc(m.name, m.help, JobLabels, nil)
	}
	for _, m := range nodeMetrics {
		m.desc = prometheus.NewDesc(m.name, m.help, nil, nil)
	}
}

// Names lists every metric name the snapshot collector exports, besides
// the process_* metrics of the daemon (its CPU time among them) and
// softmig_build_info that Handler adds.
func Names() []string {
	var n []string
	for _, m := range nodeMetrics {
		n = append(n, m.name)
	}
	for _, m := range jobMetrics {
		n = append(n, m.name)
	}
	return n
}

// Collector renders the Snapshot its source returns at each collection.
type Collector struct {
	source func() Snapshot
}

// NewCollector returns a collector of the snapshots source returns.
func NewCollector(source func() Snapshot) *Collector { return &Collector{source: source} }

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range nodeMetrics {
		ch <- m.desc
	}
	for _, m := range jobMetrics {
		ch <- m.desc
	}
}

// Collect takes one snapshot and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.source()
	for _, m := range nodeMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(&s))
	}
	for i := range s.Jobs {
		j := &s.Jobs[i]
		labels := []string{j.JobID, j.User, strconv.Itoa(j.GPU), j.UUID, j.Slice}
		if err := checkLabels(labels); err != nil {
			// One error for the job (the handler logs it), its
			// series left out, every other job served.
			ch <- prometheus.NewInvalidMetric(jobMetrics[0].desc, fmt.Errorf("job %q on GPU %d left out: %w", j.JobID, j.GPU, err))
			continue
		}
		pairs := labelPairs(labels)
		for _, m := range jobMetrics {
			if m.only == nil || m.only(j) {
				ch <- jobSample{desc: m.desc, kind: m.kind, value: m.value(j), labels: pairs}
			}
		}
	}
}

// jobSample is one figure of a job. Unlike a const metric it shares its
// label pairs with the job's other figures: a node of 256 jobs is 2,300
// samples, and making their labels once per job rather than once per
// sample is a third of the scrape.
type jobSample struct {
	desc   *prometheus.Desc
	kind   prometheus.ValueType
	value  float64
	labels []*dto.LabelPair
}

func (s jobSample) Desc() *prometheus.Desc { return s.desc }

func (s jobSample) Write(out *dto.Metric) error {
	v := s.value
	out.Label = s.labels
	if s.kind == prometheus.CounterValue {
		out.Counter = &dto.Counter{Value: &v}
	} else {
		out.Gauge = &dto.Gauge{Value: &v}
	}
	return nil
}

// labelSorted is JobLabels sorted by name, as the exposition wants them,
// with each one's place in JobLabels.
var labelSorted = func() []int {
	idx := make([]int, len(JobLabels))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return JobLabels[idx[a]] < JobLabels[idx[b]] })
	return idx
}()

func labelPairs(values []string) []*dto.LabelPair {
	pairs := make([]*dto.LabelPair, len(values))
	for k, i := range labelSorted {
		name, value := JobLabels[i], values[i]
		pairs[k] = &dto.LabelPair{Name: &name, Value: &value}
	}
	return pairs
}

// checkLabels refuses what Prometheus cannot carry in a label value.
func checkLabels(values []string) error {
	for i, v := range values {
		if !utf8.ValidString(v) {
			return fmt.Errorf("label %s=%q is not valid UTF-8", JobLabels[i], v)
		}
	}
	return nil
}
