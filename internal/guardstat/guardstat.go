// SPDX-License-Identifier: Apache-2.0

// Package guardstat is softmig-guard's status file, <run dir>/softmig-guard.status:
// what the node daemon is doing, for softmig-smi's admin view. One
// KEY=VALUE per line, written by the guard (root, 0644) every few seconds
// by rename, so a reader never sees half of it.
package guardstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Name is the file's name in the run directory.
const Name = "softmig-guard.status"

// Every is how often the guard writes it; a file older than Stale is a
// guard that stopped.
const (
	Every = 5 * time.Second
	Stale = 3 * Every
)

// Status is the guard's view of itself.
type Status struct {
	PID            int
	Started        time.Time
	Updated        time.Time
	TimeAuthority  bool
	GPUs           int
	Looks          uint64
	LookMean       time.Duration
	LookMax        time.Duration
	CPU            time.Duration // the guard's user+system time so far
	NVMLCalls      uint64
	NVMLCPU        time.Duration // the part of CPU spent inside NVML's calls
	NVMLErrors     uint64
	Kills          uint64
	Pauses         uint64
	MapsReads      uint64
	MapsOverBudget uint64
}

// CPUShare is the guard's average share of one core since it started.
func (s *Status) CPUShare() float64 {
	up := s.Updated.Sub(s.Started)
	if up <= 0 {
		return 0
	}
	return float64(s.CPU) / float64(up)
}

// NVMLShare is the part of CPUShare spent inside NVML's calls: the
// driver's cost, not the guard's own work.
func (s *Status) NVMLShare() float64 {
	up := s.Updated.Sub(s.Started)
	if up <= 0 {
		return 0
	}
	return float64(s.NVMLCPU) / float64(up)
}

// Write replaces dir's status file.
func Write(dir string, s *Status) error {
	kv := map[string]string{
		"pid":              strconv.Itoa(s.PID),
		"started":          strconv.FormatInt(s.Started.UnixMilli(), 10),
		"updated":          strconv.FormatInt(s.Updated.UnixMilli(), 10),
		"time_authority":   strconv.FormatBool(s.TimeAuthority),
		"gpus":             strconv.Itoa(s.GPUs),
		"looks":            strconv.FormatUint(s.Looks, 10),
		"look_mean_us":     strconv.FormatInt(s.LookMean.Microseconds(), 10),
		"look_max_us":      strconv.FormatInt(s.LookMax.Microseconds(), 10),
		"cpu_ms":           strconv.FormatInt(s.CPU.Milliseconds(), 10),
		"nvml_calls":       strconv.FormatUint(s.NVMLCalls, 10),
		"nvml_cpu_ms":      strconv.FormatInt(s.NVMLCPU.Milliseconds(), 10),
		"nvml_errors":      strconv.FormatUint(s.NVMLErrors, 10),
		"kills":            strconv.FormatUint(s.Kills, 10),
		"pauses":           strconv.FormatUint(s.Pauses, 10),
		"maps_reads":       strconv.FormatUint(s.MapsReads, 10),
		"maps_over_budget": strconv.FormatUint(s.MapsOverBudget, 10),
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("# softmig-guard's status (softmig-guard(8)); rewritten every few seconds\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, kv[k])
	}
	path := filepath.Join(dir, Name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Read reads dir's status file; it must be root's and writable only by it.
func Read(dir string) (*Status, error) {
	path := filepath.Join(dir, Name)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o022 != 0 || !ownedByRoot(fi) {
		return nil, fmt.Errorf("%s: not a regular file of root's, writable only by it", path)
	}
	s := &Status{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		u := uint64(n)
		switch k {
		case "pid":
			s.PID = int(n)
		case "started":
			s.Started = time.UnixMilli(n)
		case "updated":
			s.Updated = time.UnixMilli(n)
		case "time_authority":
			s.TimeAuthority = v == "true"
		case "gpus":
			s.GPUs = int(n)
		case "looks":
			s.Looks = u
		case "look_mean_us":
			s.LookMean = time.Duration(n) * time.Microsecond
		case "look_max_us":
			s.LookMax = time.Duration(n) * time.Microsecond
		case "cpu_ms":
			s.CPU = time.Duration(n) * time.Millisecond
		case "nvml_calls":
			s.NVMLCalls = u
		case "nvml_cpu_ms":
			s.NVMLCPU = time.Duration(n) * time.Millisecond
		case "nvml_errors":
			s.NVMLErrors = u
		case "kills":
			s.Kills = u
		case "pauses":
			s.Pauses = u
		case "maps_reads":
			s.MapsReads = u
		case "maps_over_budget":
			s.MapsOverBudget = u
		}
	}
	return s, sc.Err()
}
