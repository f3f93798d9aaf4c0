// SPDX-License-Identifier: Apache-2.0

// write: the prolog's command, which writes a job's config and region.

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/siteconf"
	"github.com/softmig/softmig/internal/slurm"
)

// errFailedClosed marks a job whose config was written with SOFTMIG_DISABLED.
var errFailedClosed = errors.New("GPU disabled for this job (failed closed)")

// exitFailedClosed is softmig-conf write's exit status for a job whose
// config was written failed closed; the prolog still exits 0.
const exitFailedClosed = 3

// failedClosed is write's error for job id failed closed with reason.
func failedClosed(id string, reason error) error {
	err := fmt.Errorf("job %s: %w: %w", id, errFailedClosed, reason)
	return &cmdline.Exit{Code: exitFailedClosed, Msg: "softmig-conf: " + err.Error(), Err: err}
}

type writeCmd struct {
	DryRun  bool          `help:"Print the config, write nothing."`
	JobID   string        `name:"job-id" help:"Job id (default: $SLURM_JOB_ID)." placeholder:"ID"`
	JobInfo string        `name:"job-info" help:"Output of 'scontrol show job -d -o <id>' ('-': standard input); default: run scontrol." placeholder:"FILE"`
	UID     string        `name:"uid" help:"The job's user id, owner of its region (default: $SLURM_JOB_UID, else scontrol's UserId)." placeholder:"UID"`
	GID     string        `name:"gid" help:"The job's group id (default: $SLURM_JOB_GID, else 0)." placeholder:"GID"`
	GPUs    string        `name:"gpus" help:"The job's GPU indices in CUDA order (default: $SLURM_JOB_GPUS)." placeholder:"LIST"`
	Node    string        `help:"This node's Slurm name (default: $SLURMD_NODENAME)." placeholder:"NAME"`
	Timeout time.Duration `help:"Time limit for scontrol." default:"30s"`
}

// job is what write learned about the job.
type job struct {
	id, user, node string
	uid, gid       int
	info           *slurm.Job
	gpus           []int
	devs           []device // CUDA order; sliced ones with PerGPU set
}

func (a *app) write(w *writeCmd) error {
	site, paths, siteErr := a.paths()
	if site != nil {
		// Keys the limits do not depend on: the job keeps its slice.
		for _, w := range site.Warnings {
			fmt.Fprintf(a.stderr, "softmig-conf: warning: %s\n", w)
		}
	}
	j := job{id: firstOf(w.JobID, a.env("SLURM_JOB_ID")), node: firstOf(w.Node, a.env("SLURMD_NODENAME")), uid: -1}
	if err := checkJobID(j.id); err != nil {
		return err
	}
	if !w.DryRun && os.Geteuid() != 0 {
		return errors.New("write must run as root (the library trusts only root-owned configs); use --dry-run to see the config")
	}
	envGPUs := firstOf(w.GPUs, a.env("SLURM_JOB_GPUS"))
	j.user = a.env("SLURM_JOB_USER")
	if v := firstOf(w.UID, a.env("SLURM_JOB_UID")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("uid %q is not a number", v)
		}
		j.uid = n
	}
	j.gid = 0
	if v := firstOf(w.GID, a.env("SLURM_JOB_GID")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("gid %q is not a number", v)
		}
		j.gid = n
	}

	info, infoErr := a.jobInfo(w, paths, j.id)
	if infoErr == nil {
		j.info = info
		if j.uid < 0 {
			j.uid = info.UID
		}
		if j.user == "" {
			j.user = info.User
		}
	}
	var gres []slurm.Gres
	if infoErr == nil {
		gres, infoErr = info.NodeGres(j.node)
	}
	hasGPU := strings.TrimSpace(envGPUs) != "" || hasGPUGres(gres)
	if !hasGPU {
		if infoErr != nil {
			fmt.Fprintf(a.stderr, "softmig-conf: job %s: %v; the job has no GPU in its environment, so it needs no config\n", j.id, infoErr)
		}
		fmt.Fprintf(a.stdout, "# job %s has no GPU on this node: no SoftMig config\n", j.id)
		if w.DryRun {
			return nil
		}
		return a.removeFiles(paths, j.id)
	}

	// From here on the job has a GPU: it gets a config, failed closed if need be.
	c, notes, err := a.compute(site, siteErr, infoErr, gres, envGPUs, &j)
	if err != nil {
		return a.failClosed(w, paths, &j, err)
	}
	if j.uid < 0 {
		return a.failClosed(w, paths, &j, errors.New("the job's user id is unknown (no SLURM_JOB_UID, no UserId from scontrol)"))
	}
	c.Region = regionPath(paths, j.id)
	uid := j.uid
	c.UID = &uid // the library fails closed for this user's processes outside any job
	c.Comments = append(a.header(&j, gres), notes...)
	if w.DryRun {
		// Without the lock: what the job would get now.
		c.Comments = append(c.Comments, assignSlots(c, j.devs, site.Policy.SMLimit, heldSlots(paths.RunDir, j.id, a.stderr), j.id, a.stderr)...)
		fmt.Fprintf(a.stdout, "# dry run: would write %s\n", confPath(paths, j.id))
		_, err := a.stdout.Write(c.Marshal())
		return err
	}
	if err := ensureDir(paths.RunDir); err != nil {
		return err
	}
	if paths.RegionDir != paths.RunDir {
		if err := ensureDir(paths.RegionDir); err != nil {
			return err
		}
	}
	if err := createRegion(c.Region, j.uid, j.gid); err != nil {
		return a.failClosed(w, paths, &j, fmt.Errorf("cannot create the shared region: %w", err))
	}
	if fi, err := os.Stat(paths.LogDir); err == nil && fi.IsDir() {
		if err := claimLog(logPath(paths, j.id), j.uid, j.gid); err != nil {
			fmt.Fprintf(a.stderr, "softmig-conf: warning: job %s: cannot make its log its own: %v\n", j.id, err)
		}
	}
	// Time slots: held under the lock until the config is in place, so
	// that concurrent prologs never hand out the same unit.
	policy := site.Policy.SMLimit
	var held map[int][]heldSlot
	if unlock, err := lockSlots(paths.RunDir); err != nil {
		fmt.Fprintf(a.stderr, "softmig-conf: warning: job %s: %v: no time slots\n", j.id, err)
		policy = siteconf.SMNone // SOFTMIG_GPU_<i> only
	} else {
		defer unlock()
		held = heldSlots(paths.RunDir, j.id, a.stderr)
	}
	c.Comments = append(c.Comments, assignSlots(c, j.devs, policy, held, j.id, a.stderr)...)
	if err := jobconf.Write(confPath(paths, j.id), c); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "# %s\n", confPath(paths, j.id))
	_, err = a.stdout.Write(c.Marshal())
	return err
}

func (a *app) compute(site *siteconf.Config, siteErr, infoErr error, gres []slurm.Gres, envGPUs string, j *job) (*jobconf.Config, []string, error) {
	if siteErr != nil {
		return nil, nil, fmt.Errorf("site config: %w", siteErr)
	}
	if infoErr != nil {
		return nil, nil, infoErr
	}
	order, err := parseOrder(envGPUs)
	if err != nil {
		return nil, nil, err
	}
	devs, err := devices(gres, order)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range devs {
		j.gpus = append(j.gpus, d.Index)
	}
	c, notes, err := limits(site, devs, a.memory)
	j.devs = devs
	if err == nil && hasSMLimit(c) {
		// softmig-guard's time authority reads it (docs/compute.md).
		c.TimePolicy = site.TimeFor(j.info.Fields["Partition"], slicedTypes(devs))
		notes = append(notes, "time policy "+c.TimePolicy+" (softmig.yaml: partitions.<name>.time, gpus.<type>.time, policy.time)")
	}
	return c, notes, err
}

func hasSMLimit(c *jobconf.Config) bool {
	if c.SMLimit != nil && *c.SMLimit > 0 && *c.SMLimit < 100 {
		return true
	}
	for _, n := range c.DeviceSMLimit {
		if n > 0 && n < 100 {
			return true
		}
	}
	return false
}

// slicedTypes lists the GPU types of the job's sliced GPUs.
func slicedTypes(devs []device) []string {
	var types []string
	for _, d := range devs {
		if !d.Whole {
			types = append(types, d.Type)
		}
	}
	return types
}

func hasGPUGres(gres []slurm.Gres) bool {
	for _, g := range gres {
		if (g.Name == "gpu" || g.Name == "shard") && g.Count > 0 {
			return true
		}
	}
	return false
}

// jobInfo reads the job's scontrol line from --job-info or runs scontrol.
func (a *app) jobInfo(w *writeCmd, paths hostPaths, id string) (*slurm.Job, error) {
	var data []byte
	var err error
	switch w.JobInfo {
	case "-":
		data, err = io.ReadAll(a.stdin)
	case "":
		ctx, cancel := context.WithTimeout(context.Background(), w.Timeout)
		defer cancel()
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, paths.Scontrol, "show", "job", "-d", "-o", id)
		cmd.Stderr = &stderr
		data, err = cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s show job -d -o %s: %w: %s", paths.Scontrol, id, err, strings.TrimSpace(stderr.String()))
		}
	default:
		data, err = os.ReadFile(w.JobInfo)
	}
	if err != nil {
		return nil, err
	}
	return slurm.FindJob(string(data), id)
}

func (a *app) header(j *job, gres []slurm.Gres) []string {
	h := []string{
		"SoftMig job config, written by softmig-conf for the Slurm prolog; do not edit.",
		fmt.Sprintf("job=%s user=%s uid=%d node=%s date=%s", j.id, orDash(j.user), j.uid, orDash(j.node), a.now().UTC().Format(time.RFC3339)),
	}
	if j.info != nil {
		if j.info.ArrayJobID != "" {
			h = append(h, fmt.Sprintf("array=%s_%s", j.info.ArrayJobID, j.info.ArrayTaskID))
		}
		h = append(h, fmt.Sprintf("request=%s allocation=%s", orDash(j.info.TresPerNode), gresList(gres)))
	}
	return h
}

// failClosed writes a config that makes the library refuse the GPU to this
// job with reason, logs the error and returns errFailedClosed.
func (a *app) failClosed(w *writeCmd, paths hostPaths, j *job, reason error) error {
	node := j.node
	if node == "" {
		node, _ = os.Hostname()
	}
	c := &jobconf.Config{
		Comments: append(a.header(j, nil), "FAILED CLOSED: "+reason.Error()),
		Disabled: fmt.Sprintf("the Slurm prolog on %s could not set up this job's GPU slice: %v", node, reason),
	}
	if w.DryRun {
		fmt.Fprintf(a.stdout, "# dry run: would write %s\n", confPath(paths, j.id))
		a.stdout.Write(c.Marshal())
		return failedClosed(j.id, reason)
	}
	if err := ensureDir(paths.RunDir); err != nil {
		return fmt.Errorf("job %s: %w; and cannot fail closed: %w", j.id, reason, err)
	}
	// A region left behind is never mapped: the config disables the GPU.
	_ = jobconf.Remove(regionPath(paths, j.id))
	if err := jobconf.Write(confPath(paths, j.id), c); err != nil {
		return fmt.Errorf("job %s: %w; and cannot fail closed: %w", j.id, reason, err)
	}
	a.logError(paths, j, c.Disabled)
	fmt.Fprintf(a.stdout, "# %s\n", confPath(paths, j.id))
	a.stdout.Write(c.Marshal())
	return failedClosed(j.id, reason)
}

// ensureDir creates dir (0755) when missing and checks that it is a
// root-owned directory that only root can write.
func ensureDir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err == nil {
		return os.Chmod(dir, 0o755)
	} else if !errors.Is(err, os.ErrExist) {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: dir, Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%q is not a directory (a symlink?): remove it; softmig-conf creates it", dir)
	case st.Uid != 0:
		return fmt.Errorf("%q is owned by uid %d: chown root:root %s", dir, st.Uid, dir)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%q is writable by group or others: chmod 755 %s", dir, dir)
	}
	return nil
}

// createRegion creates the job's shared region: empty, owned by the job's
// user, mode 0600, never through a symlink. A leftover file is replaced.
func createRegion(path string, uid, gid int) error {
	for try := 0; ; try++ {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) && try == 0 {
			if err := os.Remove(path); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return &os.PathError{Op: "create", Path: path, Err: err}
		}
		defer unix.Close(fd)
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return &os.PathError{Op: "chown", Path: path, Err: err}
		}
		if err := unix.Fchmod(fd, 0o600); err != nil {
			return &os.PathError{Op: "chmod", Path: path, Err: err}
		}
		return nil
	}
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
