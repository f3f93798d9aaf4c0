// SPDX-License-Identifier: Apache-2.0

package jobconf

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testutil"
	"github.com/softmig/softmig/internal/testvec"
)

// verdict is Load's answer in the vectors' form (testvec.ConfCase.Check).
func verdict(path string) string {
	c, err := Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "absent"
	case errors.Is(err, ErrUnsafe):
		return "unsafe: " + err.Error()
	case errors.Is(err, ErrSyntax):
		return "invalid: " + err.Error()
	case err != nil:
		return "error: " + err.Error()
	case c.Disabled != "":
		return "disabled: " + path + ": " + c.Disabled
	}
	return "ok " + values(c).String()
}

// values is c as the library applies it to each CUDA ordinal.
func values(c *Config) testvec.Values {
	var v testvec.Values
	for d := 0; d < defs.MaxDevices; d++ {
		v.Mem[d] = c.MemoryLimit
		if m, ok := c.DeviceMemoryLimit[d]; ok {
			v.Mem[d] = m
		}
		v.SM[d], _ = c.SMLimitFor(d)
		v.Slot[d] = c.SlotFor(d).String()
	}
	v.OOM = c.ActiveOOMKiller != nil && *c.ActiveOOMKiller
	if c.LogLevel != nil {
		v.Log = *c.LogLevel
	}
	v.Region = c.Region
	return v
}

// TestVectors: Load gives every job-config vector its verdict and values;
// test/preload's TestConfVectors holds the library to the same lines.
func TestVectors(t *testing.T) {
	used := map[string]bool{}
	for _, c := range testvec.ConfCases(t) {
		used[c.Conf] = true
		dir, name := c.Lay(t)
		if msg := c.Check(verdict(filepath.Join(dir, name))); msg != "" {
			t.Error(msg)
		}
	}
	// Every config file in testdata/jobconf is a vector.
	files, _ := filepath.Glob(filepath.Join(testutil.Root(t), "testdata/jobconf/*.conf"))
	for _, f := range files {
		if !used[filepath.Base(f)] {
			t.Errorf("%s: no line of %s uses it", f, testvec.ConfFile)
		}
	}
	if len(files) < 70 {
		t.Errorf("only %d config files", len(files))
	}
}

// The vectors' unsafe verdicts come from the checks, not from the setup
// failing: a safe layout of the same file is ok.
func TestVectorsSafeBaseline(t *testing.T) {
	testutil.NeedRoot(t, "job configs must be root-owned")
	for _, c := range testvec.ConfCases(t) {
		if c.Verdict != "unsafe" || c.Conf == "-" {
			continue
		}
		c.Setup = nil
		dir, name := c.Lay(t)
		if got := verdict(filepath.Join(dir, name)); !strings.HasPrefix(got, "ok ") {
			t.Errorf("%s laid out safely: %s", c.Line, got)
		}
	}
}
