// SPDX-License-Identifier: Apache-2.0

// Package defs holds the build-time facts of a SoftMig node that the
// library and the Go tools must agree on: the directory the library trusts
// for job configs, the log directory, and the fixed numbers of the shared
// formats. The paths come from defs.mk beside this file (the Makefile's
// definition, overridable as `make RUNDIR=...`), so there is one home for
// each; a test compares the numbers with the C headers.
package defs

import (
	_ "embed"
	"fmt"
	"strings"
	"time"
)

//go:embed defs.mk
var defsMk string

// Set at link time by the Makefile (-ldflags -X) when it overrides defs.mk;
// empty means the embedded default.
var (
	runDir string
	logDir string
)

// Fixed numbers of the contracts; preload/region_abi.h and preload/slot.h
// hold the C side (TestMatchesCHeaders).
const (
	MaxDevices  = 16              // devices per job: SM_MAX_DEVICES
	SlotPeriod  = 1 * time.Second // compute period of time slots: SM_SLOT_PERIOD_NS
	MaxJobIDLen = 31              // characters of a job id: SM_JOB_MAX - 1 (its C buffer)
)

var defaults = parse(defsMk)

// RunDir is where job configs live and the only place the library reads them.
func RunDir() string { return pick(runDir, "RUNDIR") }

// LogDir is where per-job logs live.
func LogDir() string { return pick(logDir, "LOGDIR") }

func pick(linked, key string) string {
	if linked != "" {
		return linked
	}
	return defaults[key]
}

// parse reads the `NAME ?= value` lines of defs.mk.
func parse(mk string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(mk, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "?=")
		if !ok {
			panic(fmt.Sprintf("internal/defs/defs.mk: %q is not NAME ?= value", line))
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m
}
