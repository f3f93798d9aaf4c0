// SPDX-License-Identifier: Apache-2.0

package metrics

import (
	"errors"
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
	kind       dto.MetricType
	value      func(*T) float64
	only       func(*T) bool // nil: always exported
}

var jobMetrics = []*metric[JobGPU]{
	{name: "softmig_job_slice_bytes", kind: dto.MetricType_GAUGE,
		help:  "Memory slice of the job on the GPU.",
		value: func(j *JobGPU) float64 { return float64(j.SliceBytes) }},
	{name: "softmig_job_memory_used_bytes", kind: dto.MetricType_GAUGE,
		help:  "GPU memory the job's processes hold, as NVML reports it.",
		value: func(j *JobGPU) float64 { return float64(j.UsedBytes) }},
	{name: "softmig_job_memory_peak_bytes", kind: dto.MetricType_GAUGE,
		help:  "Most GPU memory the job's processes held at once, as NVML reported it.",
		value: func(j *JobGPU) float64 { return float64(j.PeakBytes) }},
	{name: "softmig_job_sm_limit_ratio", kind: dto.MetricType_GAUGE,
		help:  "Share of the GPU's time the job is given, 0 to 1 (0: no limit).",
		value: func(j *JobGPU) float64 { return j.SMLimit }},
	{name: "softmig_job_gpu_time_seconds_total", kind: dto.MetricType_COUNTER,
		help:  "GPU time the job has used.",
		value: func(j *JobGPU) float64 { return j.GPUTime.Seconds() }},
	{name: "softmig_job_paused_seconds_total", kind: dto.MetricType_COUNTER,
		help:  "Time the job was paused or throttled to hold it to its share.",
		value: func(j *JobGPU) float64 { return j.Paused.Seconds() }},
	{name: "softmig_job_lent_seconds_total", kind: dto.MetricType_COUNTER,
		help:  "Time the job ran beyond its share on GPU time other jobs left idle (GPUs whose time policy lends).",
		value: func(j *JobGPU) float64 { return j.Lent.Seconds() },
		only:  func(j *JobGPU) bool { return j.Lending }},
	{name: "softmig_job_guard_kills_total", kind: dto.MetricType_COUNTER,
		help:  "Processes of the job softmig-guard killed.",
		value: func(j *JobGPU) float64 { return float64(j.GuardKills) }},
	{name: "softmig_job_self_reported_oom_refusals_total", kind: dto.MetricType_COUNTER,
		help:  "Allocations libsoftmig.so refused the job for want of room in its slice. Self-reported: read from the job's region or log, which its user can write.",
		value: func(j *JobGPU) float64 { return float64(j.SelfReportedOOMRefusals) }},
}

var nodeMetrics = []*metric[Snapshot]{
	{name: "softmig_guard_rounds_total", kind: dto.MetricType_COUNTER,
		help:  "Rounds softmig-guard has completed (each reads every job's use from NVML).",
		value: func(s *Snapshot) float64 { return float64(s.Node.Rounds) }},
	{name: "softmig_guard_round_seconds_total", kind: dto.MetricType_COUNTER,
		help:  "Time softmig-guard has spent in its rounds.",
		value: func(s *Snapshot) float64 { return s.Node.RoundTime.Seconds() }},
	{name: "softmig_guard_last_round_seconds", kind: dto.MetricType_GAUGE,
		help:  "How long softmig-guard's last round took.",
		value: func(s *Snapshot) float64 { return s.Node.LastRound.Seconds() }},
	{name: "softmig_guard_last_round_timestamp_seconds", kind: dto.MetricType_GAUGE,
		help:  "When softmig-guard's last round ended (Unix time): the age of every figure here.",
		value: func(s *Snapshot) float64 { return float64(s.Taken.UnixNano()) / 1e9 }},
	{name: "softmig_guard_nvml_errors_total", kind: dto.MetricType_COUNTER,
		help:  "NVML calls of softmig-guard that failed.",
		value: func(s *Snapshot) float64 { return float64(s.Node.NVMLErrors) }},
}

// Names lists every metric name a snapshot is rendered into, besides the
// process_* metrics of the daemon (its CPU time among them) and
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

// Gatherer renders the Snapshot source returns at each Gather, for a
// daemon that serves other metrics beside these (prometheus.Gatherers).
func Gatherer(source func() Snapshot) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		s := source()
		return Families(&s)
	})
}

// Families renders a snapshot: one family per metric of the tables above,
// in their order, the jobs in the snapshot's order. It builds the families
// itself rather than through a prometheus.Registry, whose per-sample checks
// were half the cost of a scrape of 256 jobs; the checks that matter are
// made here once per job. A job whose labels Prometheus cannot carry, or
// that the snapshot lists twice for one GPU, is left out and named in the
// error; every other job is rendered.
func Families(s *Snapshot) ([]*dto.MetricFamily, error) {
	var errs []error
	out := make([]*dto.MetricFamily, 0, len(nodeMetrics)+len(jobMetrics))
	for _, m := range nodeMetrics {
		f := family(m.name, m.help, m.kind, 1)
		f.Metric = append(f.Metric, sample(m.kind, m.value(s), nil))
		out = append(out, f)
	}
	jobs := make([]*dto.MetricFamily, len(jobMetrics))
	for k, m := range jobMetrics {
		jobs[k] = family(m.name, m.help, m.kind, len(s.Jobs))
	}
	seen := make(map[[2]string]bool, len(s.Jobs))
	for i := range s.Jobs {
		j := &s.Jobs[i]
		labels := []string{j.JobID, j.User, strconv.Itoa(j.GPU), j.UUID, j.Slice}
		key := [2]string{j.JobID, labels[2]}
		if err := checkLabels(labels); err != nil {
			errs = append(errs, fmt.Errorf("job %q on GPU %d left out: %w", j.JobID, j.GPU, err))
			continue
		}
		if seen[key] {
			errs = append(errs, fmt.Errorf("job %q on GPU %d is in the snapshot twice: the second left out", j.JobID, j.GPU))
			continue
		}
		seen[key] = true
		pairs := labelPairs(labels)
		for k, m := range jobMetrics {
			if m.only == nil || m.only(j) {
				jobs[k].Metric = append(jobs[k].Metric, sample(m.kind, m.value(j), pairs))
			}
		}
	}
	for _, f := range jobs {
		if len(f.Metric) > 0 {
			out = append(out, f)
		}
	}
	return out, errors.Join(errs...)
}

func family(name, help string, kind dto.MetricType, n int) *dto.MetricFamily {
	return &dto.MetricFamily{Name: &name, Help: &help, Type: kind.Enum(), Metric: make([]*dto.Metric, 0, n)}
}

// sample is one value. The label pairs are shared by a job's samples: a
// node of 256 jobs is 2,300 samples, and making the pairs once per job
// rather than once per sample saves a third of the allocations.
func sample(kind dto.MetricType, v float64, labels []*dto.LabelPair) *dto.Metric {
	m := &dto.Metric{Label: labels}
	if kind == dto.MetricType_COUNTER {
		m.Counter = &dto.Counter{Value: &v}
	} else {
		m.Gauge = &dto.Gauge{Value: &v}
	}
	return m
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
