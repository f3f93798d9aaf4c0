// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/softmig/softmig/internal/testutil"
)

// pulseSrc finds the driver's own cuMemAlloc_v2 in libcuda's dynamic
// symbol table (no dlsym, no cuGetProcAddress: nothing the library hooks),
// then, with the library loaded and in the way of everything else, takes
// far more than the slice for a little less than the guard's grace period,
// gives it back for a little more than a round, and again.
const pulseSrc = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *want;
static void *found;

static int lookup(struct dl_phdr_info *i, size_t size, void *data)
{
	(void)size; (void)data;
	if (!strstr(i->dlpi_name, "libcuda.so"))
		return 0;
	for (int k = 0; k < i->dlpi_phnum; k++) {
		if (i->dlpi_phdr[k].p_type != PT_DYNAMIC)
			continue;
		ElfW(Sym) *sym = 0;
		const char *str = 0;
		for (ElfW(Dyn) *d = (void *)(i->dlpi_addr + i->dlpi_phdr[k].p_vaddr); d->d_tag != DT_NULL; d++) {
			if (d->d_tag == DT_SYMTAB) sym = (void *)d->d_un.d_ptr;
			if (d->d_tag == DT_STRTAB) str = (const char *)d->d_un.d_ptr;
		}
		for (ElfW(Sym) *p = sym; (const char *)p < str; p++)
			if (p->st_name && p->st_value && !strcmp(str + p->st_name, want)) {
				found = (void *)(i->dlpi_addr + p->st_value);
				return 1;
			}
	}
	return 0;
}

static void *real(const char *name)
{
	want = name; found = 0;
	dl_iterate_phdr(lookup, 0);
	if (!found) { fprintf(stderr, "no %s\n", name); exit(2); }
	return found;
}

static void nap(long ms) { struct timespec t = {ms / 1000, (ms % 1000) * 1000000L}; nanosleep(&t, 0); }

int main(int argc, char **argv)
{
	unsigned long long size = strtoull(argv[1], 0, 0);
	long over = atol(argv[2]), under = atol(argv[3]), rounds = atol(argv[4]);
	if (!dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL)) return 2;
	int (*init)(unsigned) = real("cuInit");
	int (*get)(int *, int) = real("cuDeviceGet");
	int (*ctx)(void **, unsigned, int) = real("cuCtxCreate_v2");
	int (*alloc)(unsigned long long *, size_t) = real("cuMemAlloc_v2");
	int (*release)(unsigned long long) = real("cuMemFree_v2");
	int dev; void *c; unsigned long long p;
	if (init(0) || get(&dev, 0) || ctx(&c, 0, dev)) return 3;
	for (long r = 0; r < rounds; r++) {
		if (alloc(&p, size)) { printf("alloc failed\n"); return 4; }
		if (r == 0) { printf("ready\n"); fflush(stdout); }
		nap(over);
		release(p);
		nap(under);
	}
	printf("survived\n");
	fflush(stdout);
	getchar();
	return 0;
}
`

// A job's process that gets around the library in-process (the library is
// mapped, so the guard sees no escape) and holds 30 GiB of a 48 GiB GPU on
// a 12 GiB slice in pulses shorter than the grace period, with a round
// under the slice between them: more than half the time over its slice,
// where other jobs' allocations fail. It must be killed all the same.
func TestAttackPulsesUnderTheGrace(t *testing.T) {
	t.Parallel()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build the pulsing client")
	}
	n := newNode(t)
	bin := filepath.Join(n.dir, "pulse")
	src := bin + ".c"
	testutil.Must(t, os.WriteFile(src, []byte(pulseSrc), 0o644))
	if out, err := exec.Command(cc, "-o", bin, src, "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("pulsing client: %v\n%s", err, out)
	}
	j := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	g := n.guard()
	argv := []string{"setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
		bin, fmt.Sprint(30 << 30), "400", "300", "12"}
	c := n.startArgv(j, []string{"LD_PRELOAD=" + n.lib()}, argv)
	if c.ready.IsZero() {
		t.Fatalf("pulsing client did not start: %q", c.lines)
	}
	select {
	case <-c.exited:
		t.Logf("killed %s after its first pulse", c.exitAt.Sub(c.ready).Round(time.Millisecond))
	case <-time.After(12 * 700 * time.Millisecond):
		t.Fatalf("pulsing over its slice (30 GiB of 12 GiB, 400 ms of every 700 ms) for 8 s, never killed:\n%s", g.output())
	}
	wantKillEvent(t, g, j, c.pid(), reasonOver)
}

// Escaped processes (no library) one after another, each gone after
// 400 ms, before the grace period: one escape of the job, killed all the
// same.
func TestAttackChainOfShortEscapes(t *testing.T) {
	t.Parallel()
	n := newNode(t)
	j := n.job(slicedConf)
	g := n.guard()
	for i := 0; i < 8; i++ {
		c := n.start(j, false, nil, "cuclient", "init", "dev:0", "alloc:1g", "ready", "hold")
		select {
		case <-c.exited:
			t.Logf("escaped process %d killed %s after it was ready", i+1, c.exitAt.Sub(c.ready).Round(time.Millisecond))
			wantKillEvent(t, g, j, c.pid(), reasonEscape)
			return
		case <-time.After(400 * time.Millisecond):
		}
		c.stop()
	}
	t.Fatalf("8 escaped processes of 400 ms each, none killed:\n%s", g.output())
}

// suidSrc takes 30 GiB without the library, then, before the grace period
// is over, execs a setuid-root program (here a copy of sleep; su or sudo
// waiting at a password prompt do as well), keeping the memory (the pid
// and its driver file stay): the process now has effective uid 0.
const suidSrc = `#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	(void)argc;
	void *h = dlopen("libcuda.so.1", RTLD_NOW);
	int (*init)(unsigned) = dlsym(h, "cuInit");
	int (*get)(int *, int) = dlsym(h, "cuDeviceGet");
	int (*ctx)(void **, unsigned, int) = dlsym(h, "cuCtxCreate_v2");
	int (*alloc)(unsigned long long *, size_t) = dlsym(h, "cuMemAlloc_v2");
	int dev; void *c; unsigned long long p;
	if (!alloc || init(0) || get(&dev, 0) || ctx(&c, 0, dev) || alloc(&p, strtoull(argv[1], 0, 0)))
		return 3;
	printf("ready\n");
	fflush(stdout);
	execv(argv[2], argv + 2);
	return 4;
}
`

// A job's process that runs a setuid-root program after taking more than
// its slice is still the user's: killed.
func TestAttackSetuidRootAfterAllocating(t *testing.T) {
	t.Parallel()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	n := newNode(t)
	bin := filepath.Join(n.dir, "suid")
	testutil.Must(t, os.WriteFile(bin+".c", []byte(suidSrc), 0o644))
	if out, err := exec.Command(cc, "-o", bin, bin+".c", "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	sleep := filepath.Join(n.dir, "suidsleep")
	data, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Skip("no /bin/sleep to make a setuid-root program of")
	}
	testutil.Must(t, os.WriteFile(sleep, data, 0o755))
	if err := os.Chmod(sleep, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	j := n.job(slicedConf)
	g := n.guard()
	c := n.startArgv(j, nil, []string{"setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups",
		bin, fmt.Sprint(30 << 30), sleep, "30"})
	if c.ready.IsZero() {
		t.Fatalf("client did not start: %q", c.lines)
	}
	time.Sleep(100 * time.Millisecond)
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid()))
	if !strings.Contains(string(st), fmt.Sprintf("Uid:\t%d\t0\t", nobody)) {
		t.Skipf("the setuid-root program did not run setuid (nosuid mount?): %q", st)
	}
	took := c.killedWithin(t, 3*time.Second)
	t.Logf("setuid root after 30 GiB: killed %s after crossing", took.Round(time.Millisecond))
	wantKillEvent(t, g, j, c.pid(), reasonEscape, reasonOver)
}
