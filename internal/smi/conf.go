package smi

// A minimal, read-only reader of the job config (contract 2) and of sizes
// (contract 3). internal/jobconf and internal/size are the project's full
// implementations; this one only needs what softmig-smi displays, and is to
// be replaced by them when they land.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/softmig/softmig/internal/jobconf"
)

// Limits are a job's limits; 0 means no limit.
type Limits struct {
	Mem    uint64
	MemDev map[int]uint64
	SM     int
	SMDev  map[int]int
	Region string
}

// MemFor is the memory limit of CUDA ordinal ord (NA: a device the job's
// CUDA cannot see, which only the all-device limit covers).
func (l *Limits) MemFor(ord int) uint64 {
	if v, ok := l.MemDev[ord]; ok && ord >= 0 {
		return v
	}
	return l.Mem
}

// SMFor is the SM limit of CUDA ordinal ord; 0 and 100 mean none.
func (l *Limits) SMFor(ord int) int {
	v := l.SM
	if d, ok := l.SMDev[ord]; ok && ord >= 0 {
		v = d
	}
	if v >= 100 {
		return 0
	}
	return v
}

// ParseSize parses contract 3's sizes: digits, then an optional binary unit.
func ParseSize(s string) (uint64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: want digits with an optional unit (16g, 12288M, 512k)", s)
	}
	n, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	unit := strings.ToLower(s[i:])
	var shift uint
	if unit != "" {
		switch unit[0] {
		case 'k':
			shift = 10
		case 'm':
			shift = 20
		case 'g':
			shift = 30
		case 't':
			shift = 40
		}
		rest := unit
		if shift > 0 {
			rest = unit[1:]
		}
		switch {
		case rest == "" && shift > 0, rest == "b", rest == "ib" && shift > 0:
		default:
			return 0, fmt.Errorf("size %q: unknown unit %q (use k, m, g, t, optionally followed by B or iB)", s, s[i:])
		}
	}
	if shift > 0 && n > math.MaxUint64>>shift {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n << shift, nil
}

var configKeys = map[string]bool{
	"CUDA_DEVICE_MEMORY_LIMIT": true, "CUDA_DEVICE_SM_LIMIT": true,
	"ACTIVE_OOM_KILLER": true, "SOFTMIG_LOG_LEVEL": true, "SOFTMIG_REGION": true,
	"SOFTMIG_SM_SLOT": true, "SOFTMIG_UID": true,
}

// ordinalKey splits "CUDA_DEVICE_MEMORY_LIMIT_3" into the base key and 3.
func ordinalKey(k string) (base string, ord int, ok bool) {
	for _, b := range []string{"CUDA_DEVICE_MEMORY_LIMIT_", "CUDA_DEVICE_SM_LIMIT_", "SOFTMIG_SM_SLOT_", "SOFTMIG_GPU_"} {
		if rest, found := strings.CutPrefix(k, b); found {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n > 15 || strconv.Itoa(n) != rest {
				return "", 0, false
			}
			return strings.TrimSuffix(b, "_"), n, true
		}
	}
	return "", 0, false
}

// set applies one key; it is shared by the config and the environment.
func (l *Limits) set(k, v string) error {
	base, ord, per := ordinalKey(k)
	if !per {
		base, ord = k, NA
	}
	switch base {
	case "CUDA_DEVICE_MEMORY_LIMIT":
		n, err := ParseSize(v)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%s: a memory limit must be greater than 0", k)
		}
		if ord == NA {
			l.Mem = n
		} else {
			if l.MemDev == nil {
				l.MemDev = map[int]uint64{}
			}
			l.MemDev[ord] = n
		}
	case "CUDA_DEVICE_SM_LIMIT":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			return fmt.Errorf("%s=%q: want an integer from 0 to 100", k, v)
		}
		if ord == NA {
			l.SM = n
		} else {
			if l.SMDev == nil {
				l.SMDev = map[int]int{}
			}
			l.SMDev[ord] = n
		}
	case "SOFTMIG_REGION":
		if !filepath.IsAbs(v) {
			return fmt.Errorf("SOFTMIG_REGION=%q: want an absolute path", v)
		}
		l.Region = v
	case "ACTIVE_OOM_KILLER":
		if v != "0" && v != "1" {
			return fmt.Errorf("ACTIVE_OOM_KILLER=%q: want 0 or 1", v)
		}
	case "SOFTMIG_SM_SLOT":
		// A time slot: softmig-smi shows the SM limit, the slot only has to
		// be valid.
		if _, err := jobconf.ParseSlot(v); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	case "SOFTMIG_GPU":
		if !per {
			return fmt.Errorf("%s: give it per device, as SOFTMIG_GPU_<i>", k)
		}
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > jobconf.MaxGPUIndex || strconv.Itoa(n) != v {
			return fmt.Errorf("%s=%q: want a Slurm GPU index from 0 to %d", k, v, jobconf.MaxGPUIndex)
		}
	case "SOFTMIG_UID":
		if n, err := strconv.Atoi(v); err != nil || n < 0 || strconv.Itoa(n) != v {
			return fmt.Errorf("SOFTMIG_UID=%q: want a user id", v)
		}
	case "SOFTMIG_LOG_LEVEL":
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 4 {
			return fmt.Errorf("SOFTMIG_LOG_LEVEL=%q: want 0 to 4", v)
		}
	default:
		return fmt.Errorf("unknown key %q", k)
	}
	return nil
}

// ParseConfig parses a job config (contract 2).
func ParseConfig(r io.Reader) (*Limits, error) {
	l := &Limits{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	sc.Buffer(make([]byte, 0, 4096), 4096)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, _, per := ordinalKey(k); !per && !configKeys[k] {
			return nil, fmt.Errorf("line %d: unknown key %q", n, k)
		}
		if seen[k] {
			return nil, fmt.Errorf("line %d: %s given twice", n, k)
		}
		seen[k] = true
		if err := l.set(k, v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return l, nil
}

// ErrNoConfig means the job has no config file.
var ErrNoConfig = errors.New("no job config")

// LoadConfig reads the job config at path after contract 2's safety checks.
// A missing file gives ErrNoConfig; an unsafe or unparsable one a
// *ConfigError.
func LoadConfig(path string) (*Limits, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoConfig
	}
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, &ConfigError{path, "a symlink"}
		}
		return nil, &ConfigError{path, err.Error()}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &ConfigError{path, err.Error()}
	}
	if reason := unsafeFile(fi); reason != "" {
		return nil, &ConfigError{path, reason}
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil {
		return nil, &ConfigError{path, err.Error()}
	} else if reason := unsafeDir(di); reason != "" {
		return nil, &ConfigError{path, "directory " + reason}
	}
	l, err := ParseConfig(f)
	if err != nil {
		return nil, &ConfigError{path, err.Error()}
	}
	return l, nil
}

func unsafeFile(fi os.FileInfo) string {
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return "not a regular file"
	case st == nil || st.Uid != 0:
		return "not owned by root"
	case fi.Mode().Perm()&0o022 != 0:
		return "writable by group or others"
	}
	return ""
}

func unsafeDir(fi os.FileInfo) string {
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case st == nil || st.Uid != 0:
		return "not owned by root"
	case fi.Mode().Perm()&0o002 != 0 && fi.Mode()&os.ModeSticky == 0:
		return "writable by others"
	}
	return ""
}

// ConfigError is an unsafe or unparsable job config: the job gets no GPU.
type ConfigError struct {
	Path, Reason string
}

func (e *ConfigError) Error() string {
	return "GPU disabled for this process: " + e.Path + ": " + e.Reason + "; contact your cluster administrators"
}

// envKeys are the limit variables read from the environment.
func limitsFromEnv(getenv func(string) string) (l *Limits, set bool, err error) {
	l = &Limits{}
	keys := []string{"CUDA_DEVICE_MEMORY_LIMIT", "CUDA_DEVICE_SM_LIMIT"}
	for i := 0; i < 16; i++ {
		keys = append(keys, fmt.Sprintf("CUDA_DEVICE_MEMORY_LIMIT_%d", i), fmt.Sprintf("CUDA_DEVICE_SM_LIMIT_%d", i))
	}
	for _, k := range keys {
		v := getenv(k)
		if v == "" {
			continue
		}
		set = true
		if e := l.set(k, v); e != nil && err == nil {
			err = fmt.Errorf("environment variable %w", e)
		}
	}
	return l, set, err
}

// tighten lets env only lower cfg's limits (contract 2).
func tighten(cfg, env *Limits) *Limits {
	out := *cfg
	out.MemDev = map[int]uint64{}
	out.SMDev = map[int]int{}
	for k, v := range cfg.MemDev {
		out.MemDev[k] = v
	}
	for k, v := range cfg.SMDev {
		out.SMDev[k] = v
	}
	lowerMem := func(cur, v uint64) uint64 {
		if v > 0 && (cur == 0 || v < cur) {
			return v
		}
		return cur
	}
	lowerSM := func(cur, v int) int {
		if v > 0 && v < 100 && (cur == 0 || cur >= 100 || v < cur) {
			return v
		}
		return cur
	}
	out.Mem = lowerMem(cfg.Mem, env.Mem)
	out.SM = lowerSM(cfg.SMFor(NA), env.SMFor(NA))
	for ord := 0; ord < 16; ord++ {
		if m := lowerMem(cfg.MemFor(ord), env.MemFor(ord)); m != out.Mem {
			out.MemDev[ord] = m
		}
		if s := lowerSM(cfg.SMFor(ord), env.SMFor(ord)); s != out.SM {
			out.SMDev[ord] = s
		}
	}
	return &out
}
