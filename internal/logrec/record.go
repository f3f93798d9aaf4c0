// SPDX-License-Identifier: Apache-2.0

// Package logrec reads and writes SoftMig log records, the logfmt lines that
// libsoftmig.so appends to /var/log/softmig/<jobid>.log (contract 5 in
// docs/contracts.md).
//
// Parse turns one line into a Record; a Reader yields the records of a file
// together with reports of the lines it skipped (garbage, lines from
// interleaved writers, a partial last line), each with its line number; an
// Encoder writes records in the exact format. The Encoder is the reference
// implementation of the format: a line is in canonical form when
// Format(Parse(line)) returns it unchanged, which is what the tests of the C
// writer check.
//
// Quoting beyond the contract: values are quoted when they hold a space, '=',
// '"', are empty, or hold a control byte; inside quotes the escapes are \" and
// \\ (contract) plus \n, \r, \t and \xHH for other control bytes, so that a
// value (an executable path, say) can never start a line of its own.
package logrec

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Level is the level of a record.
type Level uint8

// The levels, in the order SOFTMIG_LOG_LEVEL enables them.
const (
	LevelError Level = iota + 1
	LevelEvent
	LevelWarn
	LevelDebug
	LevelInfo
	LevelTrace
)

var levelNames = [...]string{"", "error", "event", "warn", "debug", "info", "trace"}

// Levels lists every level, error first.
var Levels = []Level{LevelError, LevelEvent, LevelWarn, LevelDebug, LevelInfo, LevelTrace}

func (l Level) String() string {
	if int(l) < len(levelNames) && l != 0 {
		return levelNames[l]
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Valid reports whether l is one of the six levels.
func (l Level) Valid() bool { return l >= LevelError && l <= LevelTrace }

// Verbosity returns the lowest SOFTMIG_LOG_LEVEL (0-4) at which records of
// level l are written: error and event 0, warn 1, debug 2, info 3, trace 4.
func (l Level) Verbosity() int {
	switch l {
	case LevelError, LevelEvent:
		return 0
	case LevelWarn:
		return 1
	case LevelDebug:
		return 2
	case LevelInfo:
		return 3
	}
	return 4
}

// ErrLevel is returned for a level name that is not one of the six.
var ErrLevel = errors.New("unknown level (want error, event, warn, debug, info or trace)")

// ParseLevel returns the level named s.
func ParseLevel(s string) (Level, error) {
	for _, l := range Levels {
		if levelNames[l] == s {
			return l, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrLevel, s)
}

// NoDev is Record.Dev for a record about no particular device (dev=-).
const NoDev = -1

// NoJob is Record.Job for a process outside a job (job=-).
const NoJob = "-"

// Field is one key=value pair after the fixed header keys.
type Field struct {
	Key, Value string
}

// Record is one log line.
type Record struct {
	Time   time.Time
	Level  Level
	Job    string // job id, "12345" or "12345_7", or NoJob
	PID    int
	Dev    int // CUDA ordinal, or NoDev
	Msg    string
	Fields []Field // further keys, in line order
}

// Get returns the value of key among the record's further fields.
func (r *Record) Get(key string) (string, bool) {
	for _, f := range r.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// ErrMissingKey and ErrBadValue are wrapped by Record.Int.
var (
	ErrMissingKey = errors.New("missing key")
	ErrBadValue   = errors.New("bad value")
)

// Int returns the value of key as a non-negative decimal integer (sizes in
// bytes, durations in milliseconds, pids, percentages).
func (r *Record) Int(key string) (int64, error) {
	v, ok := r.Get(key)
	if !ok {
		return 0, fmt.Errorf("%w %s", ErrMissingKey, key)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || v[0] == '+' {
		return 0, fmt.Errorf("%w %s=%q: want a non-negative integer", ErrBadValue, key, v)
	}
	return n, nil
}

// The events written at the default level (contract 5), read by
// `softmig-log summary`.
const (
	MsgProcessStart = "process start"
	MsgDeviceAttach = "device attach"
	MsgOOMRefused   = "oom refused"
	MsgOOMKill      = "oom kill"
	MsgThrottle     = "throttle"
	MsgProcessExit  = "process exit"
	MsgConfigError  = "config error"
	MsgGuardKill    = "guard kill" // written by softmig-guard
	// Written by softmig-guard's time authority (docs/compute.md).
	MsgTimePause  = "time pause"  // the job ran outside its windows: frozen until repaid
	MsgTimeResume = "time resume" // the job repaid and runs again
	MsgGPUTime    = "gpu time"    // every 10 s: what the job was given and used
	// MsgTimeAuthority: a process stops or starts following the node's
	// time authority on a device (state=down: its static slot rules).
	MsgTimeAuthority = "time authority"
)

// eventKeys lists, per event, the further keys it must carry and whether
// they are integers. "dev" in the contract's table is the header field: the
// event must name a device.
var eventKeys = map[string]struct {
	dev  bool
	ints []string
	strs []string
}{
	MsgProcessStart:  {strs: []string{"exe"}, ints: []string{"uid"}},
	MsgDeviceAttach:  {dev: true, strs: []string{"uuid"}, ints: []string{"mem_limit", "sm_limit"}},
	MsgOOMRefused:    {dev: true, strs: []string{"api"}, ints: []string{"requested", "used", "limit", "suppressed"}},
	MsgOOMKill:       {dev: true, ints: []string{"target"}},
	MsgThrottle:      {dev: true, ints: []string{"throttled_ms", "sm_limit"}},
	MsgProcessExit:   {dev: true, ints: []string{"peak", "throttled_ms"}},
	MsgConfigError:   {strs: []string{"reason"}},
	MsgGuardKill:     {strs: []string{"reason", "pids"}, ints: []string{"gpu", "used", "limit"}},
	MsgTimePause:     {dev: true, strs: []string{"pids"}, ints: []string{"gpu", "share", "debt_ms"}},
	MsgTimeResume:    {dev: true, ints: []string{"gpu", "paused_ms"}},
	MsgGPUTime:       {dev: true, strs: []string{"policy"}, ints: []string{"gpu", "share", "window_ms", "used_ms", "lent_ms", "paused_ms"}},
	MsgTimeAuthority: {dev: true, strs: []string{"state", "reason", "path"}},
}

// IsEvent reports whether msg is one of the events of contract 5.
func IsEvent(msg string) bool {
	_, ok := eventKeys[msg]
	return ok
}

// ErrEvent is wrapped by CheckEvent.
var ErrEvent = errors.New("malformed event")

// CheckEvent verifies that an event record carries the keys contract 5 lists
// for it, with integer values where they are sizes, durations or ids. It
// returns nil for records that are not events.
func (r *Record) CheckEvent() error {
	spec, ok := eventKeys[r.Msg]
	if !ok {
		return nil
	}
	if spec.dev && r.Dev == NoDev {
		return fmt.Errorf("%w %q: dev=- (the event must name a device)", ErrEvent, r.Msg)
	}
	for _, k := range spec.strs {
		if _, ok := r.Get(k); !ok {
			return fmt.Errorf("%w %q: %w %s", ErrEvent, r.Msg, ErrMissingKey, k)
		}
	}
	for _, k := range spec.ints {
		if _, err := r.Int(k); err != nil {
			return fmt.Errorf("%w %q: %w", ErrEvent, r.Msg, err)
		}
	}
	if r.Msg == MsgConfigError {
		// path= (a config or region file) or var= (an environment
		// variable) only when the failure is about one: a process
		// without libdl, say, is about neither.
		if r.Level != LevelError {
			return fmt.Errorf("%w %q: level=%s, want error", ErrEvent, r.Msg, r.Level)
		}
	}
	return nil
}
