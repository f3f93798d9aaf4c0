package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"golang.org/x/sys/unix"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/siteconf"
	"github.com/softmig/softmig/internal/slurm"
)

// errFailedClosed marks a job whose config was written with SOFTMIG_DISABLED.
var errFailedClosed = errors.New("GPU disabled for this job (failed closed)")

// exitCode is returned when kong asked to exit (after --help).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

type cli struct {
	Version cmdline.VersionFlag `help:"Print the version (the library's softmig_version) and exit."`
	siteconf.Flag
	Scontrol string `help:"scontrol command (default: paths.scontrol, scontrol)." placeholder:"CMD"`

	Write   writeCmd   `cmd:"" help:"Write the config of the job in the prolog environment."`
	Remove  removeCmd  `cmd:"" help:"Remove a job's config and shared region (epilog). Idempotent."`
	Show    showCmd    `cmd:"" help:"Check and print a job's config."`
	Check   checkCmd   `cmd:"" help:"Validate the site config (and gres.conf, NVML) and print the slices it offers; exit 1 on any problem."`
	Paths   pathsCmd   `cmd:"" help:"Print the directories built in: run_dir=DIR and log_dir=DIR, one per line."`
	GresLua gresLuaCmd `cmd:"" name:"gres-lua" help:"Print softmig_types.lua, the table of GPU types that softmig_gres.lua reads, from the site config."`
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

type removeCmd struct {
	JobID string `arg:"" name:"jobid" help:"Job id."`
}

type showCmd struct {
	JSON  bool   `name:"json" help:"Print the config as the library reads it, as one JSON object."`
	JobID string `arg:"" name:"jobid" help:"Job id."`
}

type checkCmd struct {
	JSON     bool   `name:"json" help:"Print the verdict (ok, errors, warnings) and the slices offered as one JSON object."`
	GresConf string `name:"gres-conf" default:"/etc/slurm/gres.conf" placeholder:"FILE" help:"Slurm's gres.conf, compared with the site config when readable."`
	Node     string `help:"This node's Slurm name, to pick its gres.conf lines (default: $SLURMD_NODENAME, else the short host name)." placeholder:"NAME"`
}

type pathsCmd struct{}

type gresLuaCmd struct{}

// app carries what a command needs from the outside world.
type app struct {
	cli    *cli
	env    func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	memory memoryFunc
	gpus   gpusFunc
	now    func() time.Time
	// The directories the library trusts, fixed at build time; tests
	// point them at temporary ones (no flag can).
	runDir, logDir string
}

func sysEnv() func(string) string { return os.Getenv }

func run(args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return newApp(env, stdin, stdout, stderr).run(args)
}

func newApp(env func(string) string, stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{env: env, stdin: stdin, stdout: stdout, stderr: stderr, memory: nvmlMemory, gpus: nvmlGPUs, now: time.Now,
		runDir: defs.RunDir(), logDir: defs.LogDir()}
}

func (a *app) run(args []string) error {
	a.cli = &cli{}
	ctx, _, err := cmdline.Parse(a.cli, args, a.stdout, a.stderr,
		kong.Name("softmig-conf"),
		kong.Description("Write, remove, show and check SoftMig job configs (see softmig-conf(1))."),
		kong.UsageOnError(),
	)
	var ex *cmdline.Exit
	if errors.As(err, &ex) {
		return exitCode(ex.Code)
	}
	if err != nil {
		return err
	}
	switch ctx.Command() {
	case "write":
		return a.write(&a.cli.Write)
	case "remove <jobid>":
		return a.remove(a.cli.Remove.JobID)
	case "show <jobid>":
		if a.cli.Show.JSON {
			return a.showJSON(a.cli.Show.JobID)
		}
		return a.show(a.cli.Show.JobID)
	case "check":
		if a.cli.Check.JSON {
			return a.checkJSON(&a.cli.Check)
		}
		return a.check(&a.cli.Check)
	case "paths":
		fmt.Fprintf(a.stdout, "run_dir=%s\nlog_dir=%s\n", a.runDir, a.logDir)
		return nil
	case "gres-lua":
		return a.gresLua()
	}
	return fmt.Errorf("unknown command %q", ctx.Command())
}

var reJobID = regexp.MustCompile(`^[0-9]+(_[0-9]+)?$`)

func checkJobID(id string) error {
	if !reJobID.MatchString(id) {
		return fmt.Errorf("job id %q: want digits, or <jobid>_<taskid> (is SLURM_JOB_ID set?)", id)
	}
	return nil
}

// hostPaths are where softmig-conf reads and writes.
type hostPaths struct {
	RunDir, RegionDir, LogDir, Scontrol string
}

// paths returns the site config (with the error joining its vital
// problems) and the paths to use: the build-time directories, and
// scontrol from the flag over the site config over the default.
func (a *app) paths() (*siteconf.Config, hostPaths, error) {
	site, err := a.cli.Flag.Load()
	p := a.dirs()
	if site != nil && err == nil {
		p.Scontrol = site.Paths.Scontrol
	}
	if a.cli.Scontrol != "" {
		p.Scontrol = a.cli.Scontrol
	}
	return site, p, err
}

// dirs are the paths without the site config: the built-in directories.
func (a *app) dirs() hostPaths {
	return hostPaths{RunDir: a.runDir, RegionDir: a.runDir, LogDir: a.logDir, Scontrol: siteconf.Defaults().Scontrol}
}

func confPath(p hostPaths, id string) string   { return filepath.Join(p.RunDir, id+".conf") }
func regionPath(p hostPaths, id string) string { return filepath.Join(p.RegionDir, id+".region") }
func logPath(p hostPaths, id string) string    { return filepath.Join(p.LogDir, id+".log") }

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
	return c, notes, err
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
		return fmt.Errorf("job %s: %w: %w", j.id, errFailedClosed, reason)
	}
	if err := ensureDir(paths.RunDir); err != nil {
		return fmt.Errorf("job %s: %v; and cannot fail closed: %w", j.id, reason, err)
	}
	jobconf.Remove(regionPath(paths, j.id))
	if err := jobconf.Write(confPath(paths, j.id), c); err != nil {
		return fmt.Errorf("job %s: %v; and cannot fail closed: %w", j.id, reason, err)
	}
	a.logError(paths, j, c.Disabled)
	fmt.Fprintf(a.stdout, "# %s\n", confPath(paths, j.id))
	a.stdout.Write(c.Marshal())
	return fmt.Errorf("job %s: %w: %w", j.id, errFailedClosed, reason)
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

func (a *app) removeFiles(paths hostPaths, id string) error {
	return errors.Join(jobconf.Remove(confPath(paths, id)), jobconf.Remove(regionPath(paths, id)))
}

func (a *app) remove(id string) error {
	if err := checkJobID(id); err != nil {
		return err
	}
	// The directories are built in: remove needs no site config.
	return a.removeFiles(a.dirs(), id)
}

func (a *app) show(id string) error {
	if err := checkJobID(id); err != nil {
		return err
	}
	paths := a.dirs()
	path := confPath(paths, id)
	c, err := jobconf.Load(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no config for job %s at %s: its processes run without SoftMig limits (unless set in their environment)", id, path)
	}
	if err != nil {
		return fmt.Errorf("%w: the library refuses the GPU to this job", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "# %s (root-owned, safe)\n", path)
	a.stdout.Write(raw)
	if c.Disabled != "" {
		fmt.Fprintf(a.stdout, "# status: GPU disabled for this job: %s\n", c.Disabled)
	}
	a.showSlots(c, paths.RunDir, id)
	if c.Region != "" {
		if fi, err := os.Lstat(c.Region); err != nil {
			fmt.Fprintf(a.stdout, "# region: %v\n", err)
		} else {
			fmt.Fprintf(a.stdout, "# region: %s, %d bytes, %v\n", c.Region, fi.Size(), fi.Mode())
		}
	}
	return nil
}

// showSlots prints the time slots of job id's config c and warns of a slot
// that strays from the SM limit or overlaps another job's on its GPU.
func (a *app) showSlots(c *jobconf.Config, runDir, id string) {
	var warnings []string
	held := heldSlots(runDir, id, io.Discard)
	for _, o := range sortedOrds(c.DeviceGPU) {
		gpu := c.DeviceGPU[o]
		s := c.SlotFor(o)
		if len(s) == 0 {
			fmt.Fprintf(a.stdout, "# CUDA device %d = GPU %d: no time slot\n", o, gpu)
			continue
		}
		fmt.Fprintf(a.stdout, "# CUDA device %d = GPU %d: time slot %s (%d%% of the period)\n", o, gpu, s, s.Len())
		for _, h := range held[gpu] {
			if overlap(s, h.slot) {
				warnings = append(warnings, fmt.Sprintf("GPU %d: overlaps job %s's time slot %s", gpu, h.job, h.slot))
			}
		}
	}
	for _, w := range append(slotWarnings(c), warnings...) {
		fmt.Fprintf(a.stdout, "# warning: %s\n", w)
	}
}

// checkSlots prints the time slots the configs in runDir hold and warns,
// on stderr, of overlapping slots and of slots that stray from their SM
// limit. Warnings do not make check fail.
func (a *app) checkSlots(runDir string) {
	paths, _ := filepath.Glob(filepath.Join(runDir, "*.conf"))
	if len(paths) == 0 {
		return
	}
	lines, warnings := slotOverlaps(runDir, a.stderr)
	for _, p := range paths {
		c, err := jobconf.Load(p)
		if err != nil {
			continue // noted by slotOverlaps
		}
		for _, w := range slotWarnings(c) {
			warnings = append(warnings, p+": "+w)
		}
	}
	fmt.Fprintf(a.stdout, "time slots in %s: %d held\n", runDir, len(lines))
	for _, l := range lines {
		fmt.Fprintf(a.stdout, "  %s\n", l)
	}
	for _, w := range warnings {
		fmt.Fprintf(a.stderr, "softmig-conf: warning: %s\n", w)
	}
}

func sortedOrds[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
