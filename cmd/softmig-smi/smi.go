// SPDX-License-Identifier: Apache-2.0

// Softmig-smi is nvidia-smi for a GPU slice.
//
// Synopsis:
//
//	softmig-smi [nvidia-smi options] [--real PATH] [--config FILE] [--slices]
//
// Description:
//
// Installed in place of nvidia-smi, it shows a job its slice: memory totals
// and free memory are the job's memory limit, used memory and utilisation
// are the job's, and only the job's processes (found by cgroup) are listed.
// Outside a job it shows what nvidia-smi shows, followed by a table of the
// slices on each GPU (job, user, memory slice and use, SM limit and use),
// or, where the site config says smi.outside_job: none, only to root; a
// node where no NVIDIA driver answers is said to be one.
// It implements the default table, -L, -i, -l/--loop, -lms, -q (with -d
// MEMORY, UTILIZATION, PIDS, TEMPERATURE, POWER, CLOCK), -f, and
// --query-gpu/--query-compute-apps with --format=csv[,noheader][,nounits],
// in nvidia-smi's layout; any other option runs the real nvidia-smi.
//
// Options:
//
//	--real PATH         the real nvidia-smi (env SOFTMIG_NVIDIA_SMI, site config
//	                    paths.nvidia_smi_real, default /usr/bin/nvidia-smi.real)
//	--config FILE       site config (default /etc/softmig/softmig.yaml), read
//	                    with siteconf.Load like every SoftMig tool
//	--slices            print only the table of slices (CSV with --format)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/gpu"

	"github.com/alecthomas/kong"

	"github.com/softmig/softmig/cmd/softmig-smi/smi"
	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/siteconf"
)

type cli struct {
	ListGPUs  bool   `name:"list-gpus" short:"L" help:"List the GPUs."`
	ID        string `name:"id" short:"i" placeholder:"ID" help:"Show only these GPUs: indices, UUIDs or PCI bus ids, comma-separated."`
	Loop      int    `name:"loop" short:"l" placeholder:"SEC" help:"Repeat every SEC seconds until interrupted (default 5)."`
	LoopMs    int    `name:"loop-ms" placeholder:"MS" help:"Repeat every MS milliseconds until interrupted."`
	Query     bool   `name:"query" short:"q" help:"Show details (memory, utilisation, processes, ...)."`
	Display   string `name:"display" short:"d" placeholder:"TYPES" help:"With -q: only MEMORY, UTILIZATION, PIDS, TEMPERATURE, POWER, CLOCK."`
	QueryGPU  string `name:"query-gpu" placeholder:"FIELDS" help:"Print GPU fields (memory.total, memory.used, memory.free, utilization.gpu, name, index, uuid, pci.bus_id, ...)."`
	QueryApps string `name:"query-compute-apps" placeholder:"FIELDS" help:"Print process fields (pid, process_name, used_memory, gpu_uuid, gpu_bus_id, ...)."`
	Format    string `name:"format" placeholder:"csv[,noheader][,nounits]" help:"Output format of the queries."`
	Filename  string `name:"filename" short:"f" placeholder:"FILE" help:"Write to FILE instead of standard output."`

	Real string `name:"real" placeholder:"PATH" help:"The real nvidia-smi, run for every other option (env SOFTMIG_NVIDIA_SMI, site config paths.nvidia_smi_real, default: the first nvidia-smi in PATH that is not softmig-smi, else /usr/bin/nvidia-smi)."`
	// Tests only: the library reads job configs in defs.RunDir() alone.
	SoftmigDir string `name:"softmig-dir" hidden:"" placeholder:"DIR" help:"(tests) Directory of the job configs and regions instead of the built-in one."`
	siteconf.Flag
	Slices bool `name:"slices" help:"Print only the table of slices (CSV with --format)."`
}

// nvidia-smi's exit statuses.
const (
	exitArgs       = 2
	exitPermission = 4
	exitNotFound   = 6
	exitDriver     = 9
	exitNoLibrary  = 12
	exitOther      = 255
)

// deps is the host, replaceable in tests.
type deps struct {
	open     func(procRoot string) (smi.Source, error)
	env      smi.Env
	exec     func(path string, argv []string) error
	selfExe  string
	ctx      context.Context
	maxLoops int    // tests: stop after this many iterations (0: never)
	outside  string // smi.outside_job of the site config (outside.go)
}

func hostDeps(ctx context.Context) deps {
	return deps{
		open: func(procRoot string) (smi.Source, error) { return smi.OpenNVML(procRoot) },
		env: smi.Env{ProcRoot: "/proc", ConfDir: defs.RunDir(), LookupEnv: os.LookupEnv,
			UID: os.Getuid()},
		exec:    func(path string, argv []string) error { return syscall.Exec(path, argv, os.Environ()) },
		selfExe: "/proc/self/exe",
		ctx:     ctx,
	}
}

func main() {
	cmdline.Main("softmig-smi", func(args []string, stdout, stderr io.Writer) error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := runWith(hostDeps(ctx), args, stdout, stderr)
		if err != nil && !errors.As(err, new(*cmdline.Exit)) {
			// Printed as it is, as nvidia-smi prints its errors.
			return &cmdline.Exit{Code: 1, Msg: err.Error()}
		}
		return err
	})
}

func runWith(d deps, args []string, stdout, stderr io.Writer) error {
	kargs, realArgs, implemented := normalize(args)
	var c cli
	_, parser, perr := cmdline.Parse(&c, kargs, stdout, stderr, kong.Name("softmig-smi"),
		kong.Description("nvidia-smi for a GPU slice: a job sees its slice and its own processes; an admin sees every slice."))
	var ex *cmdline.Exit
	if errors.As(perr, &ex) {
		if ex.Code == 0 {
			return nil
		}
		return &cmdline.Exit{Code: ex.Code, Msg: ""}
	}
	if perr != nil && parser == nil {
		return perr
	}
	if perr != nil {
		if !implemented {
			return passthrough(d, &c, realArgs)
		}
		return &cmdline.Exit{Code: exitArgs, Msg: "softmig-smi: " + perr.Error()}
	}
	site, show := readSite(c.Flag, stderr)
	d.outside = show.OutsideJob
	if c.SoftmigDir != "" {
		d.env.ConfDir = c.SoftmigDir
	}
	if c.Real == "" {
		c.Real, _ = d.env.LookupEnv("SOFTMIG_NVIDIA_SMI")
	}
	if c.Real == "" {
		c.Real = site.NvidiaSmiReal
	}
	if c.Real == "" {
		path, _ := d.env.LookupEnv("PATH")
		if c.Real = findReal(path, d.selfExe); c.Real == "" {
			c.Real = "nvidia-smi (none found in PATH or /usr/bin apart from softmig-smi)"
		}
	}
	if isVersion(realArgs) {
		// Ours first; then the driver's, as nvidia-smi --version prints it.
		fmt.Fprintf(stdout, "softmig-smi %s\n", defs.Version())
		if _, err := os.Stat(c.Real); err != nil {
			return nil
		}
	}
	p, ok := plan(&c)
	if !implemented || !ok {
		return passthrough(d, &c, realArgs)
	}
	return execute(d, &c, p, stdout, stderr)
}

// readSite reads the site config as every tool does (siteconf.Load) for
// the keys softmig-smi uses, paths.nvidia_smi_real and smi.outside_job. A
// file that cannot be read as YAML, or a bad value of those keys, is
// reported on stderr;
// the site's other problems are softmig-conf check's to report.
func readSite(f siteconf.Flag, stderr io.Writer) (siteconf.Paths, siteconf.SMI) {
	site, err := f.Load()
	switch {
	case site == nil && errors.Is(err, fs.ErrNotExist):
		return siteconf.Paths{}, siteconf.SMI{}
	case site == nil:
		fmt.Fprintf(stderr, "softmig-smi: warning: %v (see softmig-conf check)\n", err)
		return siteconf.Paths{}, siteconf.SMI{}
	}
	for _, w := range site.Warnings {
		if strings.Contains(w, "paths.nvidia_smi_real") || strings.Contains(w, "smi.outside_job") {
			fmt.Fprintf(stderr, "softmig-smi: warning: %s\n", w)
		}
	}
	return site.Paths, site.SMI
}

// passthrough runs the real nvidia-smi with the arguments softmig-smi does
// not implement. Inside a job the preload library keeps filtering what the
// real nvidia-smi's NVML calls report.
func passthrough(d deps, c *cli, realArgs []string) error {
	if fi, err := os.Stat(c.Real); err != nil {
		return &cmdline.Exit{Code: exitOther, Msg: fmt.Sprintf("softmig-smi: the real nvidia-smi is needed for %q but %v; set --real, SOFTMIG_NVIDIA_SMI or paths.nvidia_smi_real in %s",
			strings.Join(realArgs, " "), err, c.Config)}
	} else if self, err := os.Stat(d.selfExe); err == nil && os.SameFile(fi, self) {
		return &cmdline.Exit{Code: exitOther, Msg: fmt.Sprintf("softmig-smi: %q is softmig-smi itself, not the real nvidia-smi; set --real, SOFTMIG_NVIDIA_SMI or paths.nvidia_smi_real in %s", c.Real, c.Config)}
	}
	if err := d.exec(c.Real, append([]string{c.Real}, realArgs...)); err != nil {
		return &cmdline.Exit{Code: exitOther, Msg: fmt.Sprintf("softmig-smi: running %q: %v", c.Real, err)}
	}
	return nil
}

// what softmig-smi will print
type mode int

const (
	modeTable mode = iota
	modeList
	modeDetail
	modeQueryGPU
	modeQueryApps
	modeSlices
)

type planT struct {
	mode    mode
	query   *smi.Query
	format  smi.Format
	csv     bool
	display map[string]bool
}

// plan checks the combination of options; ok is false when the real
// nvidia-smi must answer (including with its own error text).
func plan(c *cli) (p planT, ok bool) {
	n := 0
	for _, b := range []bool{c.ListGPUs, c.Query, c.QueryGPU != "", c.QueryApps != "", c.Slices} {
		if b {
			n++
		}
	}
	if n > 1 || (c.Display != "" && !c.Query) || c.Loop < 0 || c.LoopMs < 0 {
		return p, false
	}
	if c.Format != "" {
		if p.format, ok = smi.ParseFormat(c.Format); !ok {
			return p, false
		}
		p.csv = true
		if c.QueryGPU == "" && c.QueryApps == "" && !c.Slices {
			return p, false
		}
	}
	switch {
	case c.ListGPUs:
		if c.ID != "" {
			return p, false // nvidia-smi's "Option -i is not valid for this command"
		}
		p.mode = modeList
	case c.Query:
		p.mode = modeDetail
		if c.Display != "" {
			if p.display, _, ok = smi.ParseDisplay(c.Display); !ok {
				return p, false
			}
		}
	case c.QueryGPU != "" || c.QueryApps != "":
		if !p.csv {
			return p, false
		}
		p.mode = modeQueryGPU
		list, apps := c.QueryGPU, false
		if c.QueryApps != "" {
			p.mode, list, apps = modeQueryApps, c.QueryApps, true
		}
		if p.query, _, ok = smi.ParseQuery(list, apps); !ok {
			return p, false
		}
	case c.Slices:
		p.mode = modeSlices
	default:
		p.mode = modeTable
	}
	return p, true
}

func execute(d deps, c *cli, p planT, stdout, stderr io.Writer) error {
	scope, err := smi.ResolveScope(d.env)
	if err != nil {
		var ce *smi.ConfigError
		if errors.As(err, &ce) {
			return &cmdline.Exit{Code: exitPermission, Msg: "softmig: " + ce.Error()}
		}
		return &cmdline.Exit{Code: exitPermission, Msg: "softmig-smi: cannot tell which job this process belongs to (" + err.Error() + "); showing nothing; contact your cluster administrators"}
	}
	outside := scope.JobID == "" && !scope.InSlice
	if outside {
		if err := outsideJob(d.outside, d.env.UID, c.Config); err != nil {
			return err
		}
	}
	src, err := d.open(d.env.ProcRoot)
	if outside && err != nil {
		return outsideNVMLError(err)
	}
	if err != nil {
		return nvmlError(err)
	}
	// Closing NVML once the output is written has nothing left to report.
	defer func() { _ = src.Close() }()

	out := stdout
	if c.Filename != "" {
		f, err := os.Create(c.Filename)
		if err != nil {
			return &cmdline.Exit{Code: exitArgs, Msg: fmt.Sprintf("softmig-smi: %v", err)}
		}
		defer f.Close()
		out = f
	}
	need := needs(c, p, scope, d.env.ConfDir)
	interval := time.Duration(c.Loop) * time.Second
	if c.LoopMs > 0 {
		interval = time.Duration(c.LoopMs) * time.Millisecond
	}
	for i := 0; ; i++ {
		sys, err := src.Snapshot(need)
		if err != nil {
			return nvmlError(err)
		}
		allDevs := sys.Devices
		sys.Attached = len(allDevs)
		scope.Apply(sys)
		if c.ID != "" {
			sel, ok := selectDevices(sys.Devices, c.ID)
			if !ok {
				return &cmdline.Exit{Code: exitNotFound, Msg: "No devices were found"}
			}
			sys.Devices = sel
		}
		if err := render(out, stderr, sys, allDevs, scope, d, c, p, i == 0); err != nil {
			return err
		}
		if interval <= 0 || (d.maxLoops > 0 && i+1 >= d.maxLoops) {
			return nil
		}
		select {
		case <-d.ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// needs is what the snapshot must read: only the values printed, so that
// -L and a short --query-gpu cost as few NVML calls as nvidia-smi's.
func needs(c *cli, p planT, scope *smi.Scope, confDir string) smi.Need {
	var need smi.Need
	switch p.mode {
	case modeTable:
		need = smi.NeedTable
		if _, err := os.Stat(confDir); err == nil && !scope.InSlice {
			need |= smi.NeedProcUtil // the slices' SM use
		}
	case modeList:
		need = 0
	case modeDetail:
		need = smi.DetailNeeds(p.display)
	case modeQueryGPU, modeQueryApps:
		need = p.query.Needs()
	case modeSlices:
		need = smi.NeedProcs | smi.NeedProcUtil
	}
	if c.ID != "" {
		need |= smi.NeedPCI // -i may name a PCI bus id
	}
	if scope.InSlice {
		// the job's used memory and utilisation come from its processes
		if need&smi.NeedMem != 0 {
			need |= smi.NeedProcs
		}
		if need&smi.NeedUtil != 0 {
			need |= smi.NeedProcs | smi.NeedProcUtil
		}
	}
	return need
}

func render(out, stderr io.Writer, sys *smi.System, allDevs []*smi.Device, scope *smi.Scope, d deps, c *cli, p planT, first bool) error {
	switch p.mode {
	case modeList:
		smi.List(out, sys)
	case modeDetail:
		smi.Detail(out, sys, p.display)
	case modeQueryGPU, modeQueryApps:
		if first && !p.format.NoHeader {
			p.query.Header(out)
		}
		p.query.Rows(out, sys, p.format)
	case modeTable, modeSlices:
		if p.mode == modeTable {
			smi.Table(out, sys)
			if _, err := os.Stat(d.env.ConfDir); scope.InSlice || err != nil {
				return nil // a job's view, or a node without SoftMig
			}
		}
		full := &smi.System{Time: sys.Time, Devices: allDevs}
		rows, warnings := smi.Slices(full, d.env.ConfDir, d.env.ProcRoot)
		rows = filterRows(rows, sys, scope)
		for _, w := range warnings {
			fmt.Fprintln(stderr, "softmig-smi: warning:", w)
		}
		if p.csv {
			if !first {
				p.format.NoHeader = true
			}
			smi.SlicesCSV(out, rows, p.format)
		} else {
			smi.SlicesTable(out, rows)
			if !scope.InSlice {
				printGuardStatus(out, d.env.ConfDir, time.Now())
			}
			printGuardKills(out, rows)
		}
	}
	return nil
}

// filterRows keeps the rows of the shown devices, and inside a job only the
// job's own.
func filterRows(rows []smi.SliceRow, sys *smi.System, scope *smi.Scope) []smi.SliceRow {
	shown := map[int]bool{}
	for _, d := range sys.Devices {
		shown[d.Index] = true
	}
	var out []smi.SliceRow
	for _, r := range rows {
		if scope.InSlice && r.Job != scope.JobID {
			continue
		}
		if r.GPU != smi.NA && !shown[r.GPU] {
			continue
		}
		out = append(out, r)
	}
	return out
}

// selectDevices applies -i: indices, UUIDs or PCI bus ids.
func selectDevices(devs []*smi.Device, ids string) ([]*smi.Device, bool) {
	var sel []*smi.Device
	for _, id := range strings.Split(ids, ",") {
		id = strings.TrimSpace(id)
		var found *smi.Device
		for _, d := range devs {
			if n, err := strconv.Atoi(id); err == nil && n == d.Index ||
				strings.EqualFold(id, d.UUID) || busMatch(id, d.BusID) {
				found = d
				break
			}
		}
		if found == nil {
			return nil, false
		}
		sel = append(sel, found)
	}
	return sel, true
}

// busMatch compares PCI bus ids with or without the domain's leading zeros.
func busMatch(a, b string) bool {
	norm := func(s string) string {
		s = strings.ToLower(s)
		parts := strings.Split(s, ":")
		if len(parts) == 3 {
			dom, _ := strconv.ParseUint(parts[0], 16, 32)
			return fmt.Sprintf("%08x:%s:%s", dom, parts[1], parts[2])
		}
		if len(parts) == 2 {
			return "00000000:" + s
		}
		return s
	}
	return strings.Contains(a, ":") && norm(a) == norm(b)
}

// nvmlError turns a failure to reach NVML into nvidia-smi's own message.
func nvmlError(err error) error {
	if errors.Is(err, gpu.ErrNoLibrary) {
		return &cmdline.Exit{Code: exitNoLibrary, Msg: "NVIDIA-SMI couldn't find libnvidia-ml.so library in your system. Please make sure that the NVIDIA Display Driver is properly installed and present in your system.\nPlease also try adding directory that contains libnvidia-ml.so to your system PATH."}
	}
	var ne *gpu.Error
	if errors.As(err, &ne) && ne.Call == "nvmlInit" {
		return &cmdline.Exit{Code: exitDriver, Msg: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."}
	}
	return &cmdline.Exit{Code: exitOther, Msg: "softmig-smi: " + err.Error()}
}
