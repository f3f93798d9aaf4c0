// SPDX-License-Identifier: Apache-2.0

// Package jobconf reads and writes the per-job config
// <run dir>/<jobid>.conf (defs.RunDir(); docs/contracts.md, section 2): KEY=VALUE
// lines that tell libsoftmig.so a job's limits, written only by root.
package jobconf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/size"
)

// Keys of the job config.
const (
	KeyMemoryLimit   = "CUDA_DEVICE_MEMORY_LIMIT"
	KeySMLimit       = "CUDA_DEVICE_SM_LIMIT"
	KeyOOMKiller     = "ACTIVE_OOM_KILLER"
	KeyLogLevel      = "SOFTMIG_LOG_LEVEL"
	KeyRegion        = "SOFTMIG_REGION"
	KeyDisabled      = "SOFTMIG_DISABLED"
	KeySMSlot        = "SOFTMIG_SM_SLOT" // and SOFTMIG_SM_SLOT_<i>
	KeyGPU           = "SOFTMIG_GPU"     // only as SOFTMIG_GPU_<i>
	KeyUID           = "SOFTMIG_UID"
	KeyTimePolicy    = "SOFTMIG_TIME_POLICY"
	KeySlice         = "SOFTMIG_SLICE" // only as SOFTMIG_SLICE_<i>
	MaxDevices       = defs.MaxDevices
	MaxFileSize      = 64 << 10
	MaxLineLength    = 4096
	MaxRegionPath    = 511 // bytes of SOFTMIG_REGION (the library's buffer holds 512)
	maxDisabledBytes = 512
)

// Time policies (SOFTMIG_TIME_POLICY, docs/compute.md).
const (
	TimeCap  = "cap"  // a job never gets more than its share, like MIG
	TimeLend = "lend" // time idle jobs leave goes to busy ones
)

// reSlice is what a slice's name may be (the library's parser agrees).
var reSlice = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,64}$`)

// blanks are what the parser trims around lines, keys and values, as the
// library does (not Unicode spaces: a key must look the same to both).
const blanks = " \t\r"

var (
	// ErrSyntax is wrapped by every error about the content of a config.
	ErrSyntax = errors.New("invalid job config")
	// ErrUnsafe is wrapped when a config's file or directory could be
	// changed by someone other than root.
	ErrUnsafe = errors.New("unsafe job config")
)

// Config is one job's config. Zero values mean "not set": a memory limit is
// always > 0, and the pointer fields tell unset from 0.
type Config struct {
	Comments          []string       // header comment lines, written as "# <line>"
	MemoryLimit       uint64         // CUDA_DEVICE_MEMORY_LIMIT, bytes; 0 = unset
	DeviceMemoryLimit map[int]uint64 // CUDA_DEVICE_MEMORY_LIMIT_<i>
	SMLimit           *int           // CUDA_DEVICE_SM_LIMIT
	DeviceSMLimit     map[int]int    // CUDA_DEVICE_SM_LIMIT_<i>
	ActiveOOMKiller   *bool          // ACTIVE_OOM_KILLER
	LogLevel          *int           // SOFTMIG_LOG_LEVEL
	Region            string         // SOFTMIG_REGION, absolute path
	Disabled          string         // SOFTMIG_DISABLED: fail closed with this reason
	SMSlot            Slot           // SOFTMIG_SM_SLOT: time slot on every device; nil = unset
	DeviceSMSlot      map[int]Slot   // SOFTMIG_SM_SLOT_<i>
	DeviceGPU         map[int]int    // SOFTMIG_GPU_<i>: Slurm GPU index (IDX) of CUDA device i
	DeviceSlice       map[int]string // SOFTMIG_SLICE_<i>: the slice's name on CUDA device i ("l40s.4"), for metrics
	UID               *int           // SOFTMIG_UID: the job's user (processes of that user outside any job fail closed)
	TimePolicy        string         // SOFTMIG_TIME_POLICY: cap or lend, for softmig-guard's time authority; "" = unset
}

// Parse reads a job config. A key given twice, an unknown key, a bad value,
// a line without "=", a NUL byte, a line over 4096 bytes or a file over
// 64 KiB is an error wrapping ErrSyntax that names the line. The library's
// parser (preload/config.c) gives the same verdicts: testdata/jobconf.
func Parse(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrSyntax, MaxFileSize)
	}
	c := &Config{}
	seen := map[string]int{}
	for n, line := range strings.Split(string(data), "\n") {
		lineno := n + 1
		if len(line) > MaxLineLength {
			return nil, fmt.Errorf("%w: line %d: longer than %d bytes", ErrSyntax, lineno, MaxLineLength)
		}
		if strings.IndexByte(line, 0) >= 0 {
			return nil, fmt.Errorf("%w: line %d: contains a NUL byte", ErrSyntax, lineno)
		}
		line = strings.Trim(line, blanks)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: %q is not KEY=VALUE", ErrSyntax, lineno, line)
		}
		key, val = strings.Trim(key, blanks), strings.Trim(val, blanks)
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("%w: line %d: %s given again (first on line %d)", ErrSyntax, lineno, key, prev)
		}
		seen[key] = lineno
		if err := c.set(key, val); err != nil {
			return nil, fmt.Errorf("%w: line %d: %s: %w", ErrSyntax, lineno, key, err)
		}
	}
	return c, nil
}

func (c *Config) set(key, val string) error {
	if base, dev, ok := deviceKey(key); ok {
		switch base {
		case KeyMemoryLimit:
			n, err := memory(val)
			if err != nil {
				return err
			}
			if c.DeviceMemoryLimit == nil {
				c.DeviceMemoryLimit = map[int]uint64{}
			}
			c.DeviceMemoryLimit[dev] = n
		case KeySMLimit:
			n, err := intRange(val, 0, 100)
			if err != nil {
				return err
			}
			if c.DeviceSMLimit == nil {
				c.DeviceSMLimit = map[int]int{}
			}
			c.DeviceSMLimit[dev] = n
		case KeySMSlot:
			slot, err := ParseSlot(val)
			if err != nil {
				return err
			}
			if c.DeviceSMSlot == nil {
				c.DeviceSMSlot = map[int]Slot{}
			}
			c.DeviceSMSlot[dev] = slot
		case KeyGPU:
			n, err := intRange(val, 0, MaxGPUIndex)
			if err != nil {
				return err
			}
			if c.DeviceGPU == nil {
				c.DeviceGPU = map[int]int{}
			}
			c.DeviceGPU[dev] = n
		case KeySlice:
			if !reSlice.MatchString(val) {
				return fmt.Errorf("%q is not a slice name (letters, digits, '.', '_', '-', ':', '/'; 1 to 64)", val)
			}
			if c.DeviceSlice == nil {
				c.DeviceSlice = map[int]string{}
			}
			c.DeviceSlice[dev] = val
		}
		return nil
	}
	switch key {
	case KeyMemoryLimit:
		n, err := memory(val)
		c.MemoryLimit = n
		return err
	case KeySMLimit:
		n, err := intRange(val, 0, 100)
		c.SMLimit = &n
		return err
	case KeyOOMKiller:
		if val != "0" && val != "1" {
			return fmt.Errorf("%q is not 0 or 1", val)
		}
		b := val == "1"
		c.ActiveOOMKiller = &b
		return nil
	case KeyLogLevel:
		n, err := intRange(val, 0, 4)
		c.LogLevel = &n
		return err
	case KeyRegion:
		if !filepath.IsAbs(val) || filepath.Clean(val) != val || len(val) > MaxRegionPath {
			return fmt.Errorf("%q is not a clean absolute path (no //, /./, /../, trailing /) of at most %d bytes", val, MaxRegionPath)
		}
		c.Region = val
		return nil
	case KeySMSlot:
		slot, err := ParseSlot(val)
		c.SMSlot = slot
		return err
	case KeyGPU, KeySlice:
		return fmt.Errorf("give it per device, as %s_<i> (i = CUDA device ordinal)", key)
	case KeyUID:
		n, err := intRange(val, 0, 1<<31-1)
		c.UID = &n
		return err
	case KeyTimePolicy:
		if val != TimeCap && val != TimeLend {
			return fmt.Errorf("%q: must be %s or %s", val, TimeCap, TimeLend)
		}
		c.TimePolicy = val
		return nil
	case KeyDisabled:
		if val == "" {
			return errors.New("empty reason")
		}
		c.Disabled = val
		return nil
	}
	return errors.New("unknown key")
}

// deviceKey splits "CUDA_DEVICE_MEMORY_LIMIT_3" into its base key and 3.
func deviceKey(key string) (string, int, bool) {
	for _, base := range []string{KeyMemoryLimit, KeySMLimit, KeySMSlot, KeyGPU, KeySlice} {
		rest, ok := strings.CutPrefix(key, base+"_")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(rest)
		if err != nil || i < 0 || i >= defs.MaxDevices || strconv.Itoa(i) != rest {
			return "", 0, false
		}
		return base, i, true
	}
	return "", 0, false
}

func memory(val string) (uint64, error) {
	n, err := size.Parse(val)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errors.New("must be greater than 0")
	}
	return n, nil
}

// intRange parses decimal digits only (no sign or spaces; leading zeros
// allowed, as in sizes and in the library's sm_parse_uint).
func intRange(val string, lo, hi int) (int, error) {
	bad := val == "" || len(strings.TrimLeft(val, "0")) > 9
	for i := 0; i < len(val); i++ {
		bad = bad || val[i] < '0' || val[i] > '9'
	}
	if !bad {
		if n, _ := strconv.Atoi(val); n >= lo && n <= hi {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%q is not an integer from %d to %d", val, lo, hi)
}

// Marshal writes c in the config syntax, in a fixed key order; Parse of
// the result gives c back (comments and SOFTMIG_DISABLED reasons are
// reduced to one printable line).
func (c *Config) Marshal() []byte {
	var b bytes.Buffer
	for _, line := range c.Comments {
		fmt.Fprintf(&b, "# %s\n", oneLine(line, MaxLineLength-2))
	}
	if c.Disabled != "" {
		fmt.Fprintf(&b, "%s=%s\n", KeyDisabled, oneLine(c.Disabled, maxDisabledBytes))
	}
	if c.MemoryLimit != 0 {
		fmt.Fprintf(&b, "%s=%s\n", KeyMemoryLimit, size.Format(c.MemoryLimit))
	}
	for _, i := range sortedKeys(c.DeviceMemoryLimit) {
		fmt.Fprintf(&b, "%s_%d=%s\n", KeyMemoryLimit, i, size.Format(c.DeviceMemoryLimit[i]))
	}
	if c.SMLimit != nil {
		fmt.Fprintf(&b, "%s=%d\n", KeySMLimit, *c.SMLimit)
	}
	for _, i := range sortedKeys(c.DeviceSMLimit) {
		fmt.Fprintf(&b, "%s_%d=%d\n", KeySMLimit, i, c.DeviceSMLimit[i])
	}
	if len(c.SMSlot) > 0 {
		fmt.Fprintf(&b, "%s=%s\n", KeySMSlot, c.SMSlot)
	}
	for _, i := range sortedKeys(c.DeviceSMSlot) {
		fmt.Fprintf(&b, "%s_%d=%s\n", KeySMSlot, i, c.DeviceSMSlot[i])
	}
	for _, i := range sortedKeys(c.DeviceGPU) {
		fmt.Fprintf(&b, "%s_%d=%d\n", KeyGPU, i, c.DeviceGPU[i])
	}
	for _, i := range sortedKeys(c.DeviceSlice) {
		fmt.Fprintf(&b, "%s_%d=%s\n", KeySlice, i, c.DeviceSlice[i])
	}
	if c.ActiveOOMKiller != nil {
		v := 0
		if *c.ActiveOOMKiller {
			v = 1
		}
		fmt.Fprintf(&b, "%s=%d\n", KeyOOMKiller, v)
	}
	if c.LogLevel != nil {
		fmt.Fprintf(&b, "%s=%d\n", KeyLogLevel, *c.LogLevel)
	}
	if c.Region != "" {
		fmt.Fprintf(&b, "%s=%s\n", KeyRegion, c.Region)
	}
	if c.UID != nil {
		fmt.Fprintf(&b, "%s=%d\n", KeyUID, *c.UID)
	}
	if c.TimePolicy != "" {
		fmt.Fprintf(&b, "%s=%s\n", KeyTimePolicy, c.TimePolicy)
	}
	return b.Bytes()
}

// oneLine replaces control characters with spaces, trims and truncates s.
func oneLine(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > limit {
		s = strings.TrimSpace(s[:limit])
	}
	return s
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// Lines returns the config's KEY=VALUE lines, without comments.
func (c *Config) Lines() []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(c.Marshal()))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "#") {
			out = append(out, sc.Text())
		}
	}
	return out
}
