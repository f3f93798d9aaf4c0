// SPDX-License-Identifier: Apache-2.0

// Package jobpath names a job's files: its config and region in the run
// directory, its log in the log directory, the log's fallbacks, and the
// region of a process without a job config. The one definition of these
// names in Go; preload/paths.c is the library's, and testdata/paths.tsv
// holds both to the same names.
package jobpath

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/softmig/softmig/internal/job"
)

const (
	confSuffix   = ".conf"
	regionSuffix = ".region"
	logSuffix    = ".log"
	// localDirMax is the longest SLURM_TMPDIR or TMPDIR a local region
	// lies in; the library takes /tmp for a longer one.
	localDirMax = 256
)

// Conf is job's config in runDir (defs.RunDir()), written by root.
func Conf(runDir, job string) string { return filepath.Join(runDir, job+confSuffix) }

// Region is job's region in runDir, where it lies unless the config names one.
func Region(runDir, job string) string { return filepath.Join(runDir, job+regionSuffix) }

// Log is job's log in logDir (defs.LogDir()). A pattern for job ("123_*")
// gives the pattern of its logs.
func Log(logDir, job string) string { return filepath.Join(logDir, job+logSuffix) }

// TmpLog is where the library logs for job when the log directory cannot
// be had: in the job's SLURM_TMPDIR.
func TmpLog(slurmTmpdir, job string) string {
	return slurmTmpdir + "/softmig_" + job + logSuffix
}

// PidLog is the log of a process in no job.
func PidLog(logDir string, pid int) string {
	return filepath.Join(logDir, "pid"+strconv.Itoa(pid)+logSuffix)
}

// ConfJob returns the job whose config name (a file name in the run
// directory) is, and whether it is one: "<job>.conf" with a valid job id.
func ConfJob(name string) (string, bool) {
	id, ok := strings.CutSuffix(name, confSuffix)
	if !ok || !job.ValidID(id) {
		return "", false
	}
	return id, true
}

// LogJob returns what a log's file name names (a job id, or pid<N> for a
// process in no job), and whether it is a log at all.
func LogJob(name string) (string, bool) {
	return strings.CutSuffix(filepath.Base(name), logSuffix)
}

// LocalRegion is the region of a process without a job config (outside
// Slurm, or on a node without the prolog): softmig-<uid>-<job>.region
// ("nojob" for no job) in SLURM_TMPDIR if absolute, else TMPDIR if
// absolute, else /tmp; /tmp too when the one chosen is longer than 256
// characters. getenv answers "" for an unset variable.
func LocalRegion(getenv func(string) string, uid int, job string) string {
	dir := getenv("SLURM_TMPDIR")
	if !strings.HasPrefix(dir, "/") {
		dir = getenv("TMPDIR")
	}
	if !strings.HasPrefix(dir, "/") || len(dir) > localDirMax {
		dir = "/tmp"
	}
	if job == "" {
		job = "nojob"
	}
	// Not filepath.Join: the library does not clean the variable's value.
	return dir + "/softmig-" + strconv.Itoa(uid) + "-" + job + regionSuffix
}
