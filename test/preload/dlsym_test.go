// SPDX-License-Identifier: Apache-2.0

package preloadtest

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// dlsym is the one libc function the library interposes (preload/exports.map
// exports only dlsym, softmig_version and the driver's cu*/nvml* names).  On
// every path, found or not, with an error pending or not, with a loadable
// libcuda.so.1 (the simulator's) or none, passive or active, it leaves
// errno and dlerror() exactly as glibc's dlsym does: test/cprog/dl_errstate
// prints both after each of its lookups and must print the same bytes with
// and without the library.
func TestDlsymLeavesErrnoAndDlerror(t *testing.T) {
	r := newRig(t)
	for _, libpath := range []string{"sim", "none"} {
		for _, limit := range []string{"", "CUDA_DEVICE_MEMORY_LIMIT=1g"} {
			name := "libcuda=" + libpath + " limit=" + limit
			t.Run(name, func(t *testing.T) {
				extra := []string{"SLURM_JOB_ID=" + uniqueJob()}
				if limit != "" {
					extra = append(extra, limit)
				}
				if libpath == "none" {
					extra = append(extra, "LD_LIBRARY_PATH=")
				}
				without := runOut(t, r.cmd(false, extra, "dl_errstate"))
				with := runOut(t, r.cmd(true, extra, "dl_errstate"))
				if with != without {
					t.Fatalf("dl_errstate differs with the library:\n%s", lineDiff(without, with))
				}
				loaded := strings.Contains(without, "dlopen-libcuda found=1")
				if loaded != (libpath == "sim") {
					t.Fatalf("libcuda.so.1 loadable=%v, want %v:\n%s", loaded, libpath == "sim", without)
				}
			})
		}
	}
	// The library went active in the run with a limit and a driver: the
	// lookups above went through its hooks, not around them.
	if !strings.Contains(readFile(t, r.dir+"/softmig.log"), `msg="process start"`) {
		t.Fatal("the library never initialised: the active paths were not exercised")
	}
}

// runOut runs a program that must exit 0 and returns its stdout.
func runOut(t *testing.T, c *exec.Cmd) string {
	t.Helper()
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", c.Path, err, out.String(), errb.String())
	}
	return out.String()
}

// lineDiff lists the lines that differ, "-" without the library, "+" with.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var d strings.Builder
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			d.WriteString("- " + x + "\n+ " + y + "\n")
		}
	}
	return d.String()
}
