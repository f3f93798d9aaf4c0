// SPDX-License-Identifier: Apache-2.0

package smi

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/softmig/softmig/internal/job"
	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/jobpath"
	"github.com/softmig/softmig/internal/region"
)

// Scope is who is asking: a job (or a user with limits in the environment),
// which sees its slice, or an admin outside any job, who sees everything.
type Scope struct {
	InSlice    bool   // a job's or an environment's slice applies
	JobID      string // "" outside a job
	Limits     *jobconf.Config
	ConfigPath string // the job config read, "" if none
	Region     *region.Region
	// Visible is CUDA_VISIBLE_DEVICES split at commas; nil when unset.
	Visible []string

	procRoot string
	uid      int
	owners   map[uint32]bool
}

// Env is the host the scope is resolved on; tests pass their own.
type Env struct {
	ProcRoot  string                      // "/proc"
	ConfDir   string                      // defs.RunDir()
	LookupEnv func(string) (string, bool) // os.LookupEnv
	UID       int
}

func (e Env) getenv(k string) string {
	v, _ := e.LookupEnv(k)
	return v
}

// ResolveScope finds the caller's job and limits. An error means the job's
// view cannot be built safely; callers must then show nothing (fail closed).
func ResolveScope(e Env) (*Scope, error) {
	s := &Scope{procRoot: e.ProcRoot, uid: e.UID, owners: map[uint32]bool{}}
	id, inJob, err := job.Self(e.ProcRoot, e.getenv)
	if err != nil {
		return nil, err
	}
	if v, ok := e.LookupEnv("CUDA_VISIBLE_DEVICES"); ok {
		s.Visible = strings.Split(v, ",")
		if v == "" {
			s.Visible = []string{}
		}
	}
	env, envSet, envErr := jobconf.FromEnv(e.getenv)
	if inJob {
		s.InSlice, s.JobID = true, id
		path := jobpath.Conf(e.ConfDir, id)
		cfg, err := jobconf.Load(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if envErr != nil {
				return nil, &ConfigError{"environment", envErr.Error()}
			}
			s.Limits = env
		case err != nil:
			return nil, &ConfigError{path, err.Error()}
		case cfg.Disabled != "":
			return nil, &ConfigError{path, cfg.Disabled}
		default:
			s.ConfigPath = path
			s.Limits = jobconf.Tighten(cfg, env)
		}
	} else {
		if envErr != nil {
			return nil, &ConfigError{"environment", envErr.Error()}
		}
		s.InSlice, s.Limits = envSet, env
	}
	if s.InSlice {
		s.Region = openRegion(s, e)
	}
	return s, nil
}

// ConfigError is an unsafe, unparsable or disabled job config, or a bad
// limit in the environment: the job gets no GPU and softmig-smi shows nothing.
type ConfigError struct {
	Path, Reason string
}

func (e *ConfigError) Error() string {
	return "GPU disabled for this process: " + e.Path + ": " + e.Reason + "; contact your cluster administrators"
}

// openRegion opens the job's region where contract 4 puts it; any problem
// leaves nil (usage then comes from NVML's process list).
func openRegion(s *Scope, e Env) *region.Region {
	path := jobpath.LocalRegion(e.getenv, e.UID, s.JobID)
	if s.Limits != nil && s.Limits.Region != "" && s.ConfigPath != "" {
		path = s.Limits.Region
	}
	r, err := region.Open(path)
	if err != nil {
		return nil
	}
	if s.JobID != "" && r.Job() != "" && r.Job() != s.JobID {
		return nil
	}
	return r
}

// Owns reports whether pid belongs to the scope's job. Any doubt (the
// process is gone, its files are unreadable) is a no: fail closed.
func (s *Scope) Owns(pid uint32) bool {
	if v, ok := s.owners[pid]; ok {
		return v
	}
	v := s.owns(pid)
	s.owners[pid] = v
	return v
}

func (s *Scope) owns(pid uint32) bool {
	id, ok, err := job.FromProc(s.procRoot, int(pid))
	if s.JobID != "" {
		return err == nil && ok && id == s.JobID
	}
	// Outside a job with limits in the environment: the user's own
	// processes that are in no job.
	if ok {
		return false
	}
	fi, serr := os.Stat(filepath.Join(s.procRoot, strconv.FormatUint(uint64(pid), 10)))
	if serr != nil {
		return false
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	return st != nil && int(st.Uid) == s.uid
}

// Ordinal maps a device to its CUDA ordinal under CUDA_VISIBLE_DEVICES
// (indices or UUIDs, as CUDA parses them: up to the first invalid entry).
// Without the variable, the ordinal is the NVML index. NA: not visible.
func (s *Scope) Ordinal(d *Device, all []*Device) int {
	if s.Visible == nil {
		return d.Index
	}
	for ord, v := range s.Visible {
		v = strings.TrimSpace(v)
		var match *Device
		if n, err := strconv.Atoi(v); err == nil {
			if n < 0 || n >= len(all) {
				return NA
			}
			match = all[n]
		} else if strings.HasPrefix(v, "GPU-") {
			for _, o := range all {
				if strings.HasPrefix(o.UUID, v) {
					if match != nil { // ambiguous prefix: CUDA stops here
						return NA
					}
					match = o
				}
			}
		}
		if match == nil {
			return NA
		}
		if match == d {
			return ord
		}
	}
	return NA
}

// Apply rewrites sys into the job's view: totals and free memory are the
// slice, used memory and utilisation are the job's, and only the job's
// processes remain. Outside a slice it leaves sys unchanged.
func (s *Scope) Apply(sys *System) {
	if !s.InSlice {
		return
	}
	for _, d := range sys.Devices {
		ord := s.Ordinal(d, sys.Devices)
		si := &SliceInfo{Ordinal: ord, Limit: s.Limits.MemoryFor(ord), SMLimit: s.Limits.SMFor(ord)}
		d.Slice = si
		var procs []Process
		var sum uint64
		for _, p := range d.Procs {
			if s.Owns(p.PID) {
				procs = append(procs, p)
				sum += p.UsedMem
			}
		}
		d.Procs = procs
		used := sum
		if s.Region != nil {
			if entry := s.Region.DevEntry(d.UUID); entry >= 0 {
				used, si.FromRegion = s.Region.Used(entry), true
			}
		}
		total := d.MemTotal
		if si.Limit > 0 && (!d.MemOK || si.Limit < total) {
			total = si.Limit
		}
		d.MemOK = d.MemOK || si.Limit > 0
		d.MemTotal, d.MemReserved, d.MemUsed = total, 0, used
		d.MemFree = 0
		if used < total {
			d.MemFree = total - used
		}
		// Utilisation: the job's processes' SM and memory shares of the
		// last second; N/A when the driver gives no per-process samples.
		d.UtilGPU, d.UtilMem = NA, NA
		if d.ProcUtilOK {
			var sm, mem int
			var kept []ProcUtil
			for _, u := range d.ProcUtil {
				if s.Owns(u.PID) {
					sm += u.SM
					mem += u.Mem
					kept = append(kept, u)
				}
			}
			d.ProcUtil = kept
			d.UtilGPU, d.UtilMem = min(sm, 100), min(mem, 100)
		} else {
			d.ProcUtil = nil
		}
	}
}
