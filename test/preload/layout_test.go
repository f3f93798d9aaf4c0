// SPDX-License-Identifier: Apache-2.0

package preloadtest

// The shape of preload/, held by tests (issues 15 and 23): its files
// depend on each other without a loop, each is small enough to read in
// one sitting, every internal name says which file defines it, each file
// includes only headers whose names it uses, every header stands alone,
// real.c alone looks symbols up, and the memory hooks reach the
// accounting only through slice.h.  A file depends on another when it
// uses a symbol the other defines, as the linker sees it: each file is
// compiled alone and its ELF symbols read.

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testutil"
)

// maxLines is the most a file of preload/ may hold.
const maxLines = 400

// objSymbols is what one compiled file defines (internal or exported, as
// the version script says) and what it needs.
type objSymbols struct {
	defines, internal, needs []string
}

// ccFlags compile a file of preload/ as the build does (its warnings are
// the build's to enforce).
func ccFlags(root string) []string {
	return []string{"-std=c11", "-D_GNU_SOURCE", "-fPIC",
		fmt.Sprintf("-DSM_RUN_DIR=%q", defs.RunDir()), fmt.Sprintf("-DSM_LOG_DIR=%q", defs.LogDir()),
		"-I", filepath.Join(root, "preload")}
}

func needCC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler (cc) on PATH: install gcc to check preload's layout")
	}
}

// preloadSources returns preload/*.c (or *.h) of the checkout.
func preloadSources(t *testing.T, glob string) []string {
	t.Helper()
	root := testutil.Root(t)
	srcs, err := filepath.Glob(filepath.Join(root, "preload", glob))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no preload/%s under %s: %v", glob, root, err)
	}
	return srcs
}

var compiled struct {
	sync.Mutex
	objs map[string]objSymbols
}

// compilePreload compiles every preload/*.c on its own (once per test
// binary) and returns the symbols of each, by file name.
func compilePreload(t *testing.T) map[string]objSymbols {
	t.Helper()
	needCC(t)
	compiled.Lock()
	defer compiled.Unlock()
	if compiled.objs != nil {
		return compiled.objs
	}
	root := testutil.Root(t)
	exported := exportPatterns(t, filepath.Join(root, "preload", "exports.map"))
	dir := t.TempDir()
	out := map[string]objSymbols{}
	for _, src := range preloadSources(t, "*.c") {
		obj := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c")+".o")
		args := append(ccFlags(root), "-O0", "-c", "-o", obj, src)
		if b, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
			t.Fatalf("cc %s: %v\n%s", src, err, b)
		}
		f, err := elf.Open(obj)
		if err != nil {
			t.Fatal(err)
		}
		syms, err := f.Symbols()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", obj, err)
		}
		var s objSymbols
		for _, sym := range syms {
			bind := elf.ST_BIND(sym.Info)
			if bind != elf.STB_GLOBAL && bind != elf.STB_WEAK {
				continue
			}
			// A versioned reference (glibc_compat.h) is named name@VERSION.
			name, _, _ := strings.Cut(sym.Name, "@")
			switch {
			case sym.Section == elf.SHN_UNDEF:
				s.needs = append(s.needs, name)
			case matchesAny(exported, name):
				s.defines = append(s.defines, name)
			default:
				s.defines = append(s.defines, name)
				s.internal = append(s.internal, name)
			}
		}
		out[filepath.Base(src)] = s
	}
	compiled.objs = out
	return out
}

// exportPatterns reads the global: patterns of the version script.
func exportPatterns(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pats []string
	global := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "global:":
			global = true
		case line == "local:":
			global = false
		case global && strings.HasSuffix(line, ";"):
			pats = append(pats, strings.TrimSuffix(line, ";"))
		}
	}
	if err := sc.Err(); err != nil || len(pats) == 0 {
		t.Fatalf("%s: no global: patterns (%v)", file, err)
	}
	return pats
}

func matchesAny(pats []string, name string) bool {
	for _, p := range pats {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// dependencies maps each file to the files whose symbols it uses.
func dependencies(objs map[string]objSymbols) map[string][]string {
	home := map[string]string{}
	for file, s := range objs {
		for _, name := range s.defines {
			home[name] = file
		}
	}
	deps := map[string][]string{}
	for file, s := range objs {
		seen := map[string]bool{}
		for _, name := range s.needs {
			if h, ok := home[name]; ok && h != file && !seen[h] {
				seen[h] = true
				deps[file] = append(deps[file], h)
			}
		}
		sort.Strings(deps[file])
	}
	return deps
}

// findLoop returns one loop in deps as a path (first file repeated at
// the end), or nil.
func findLoop(deps map[string][]string) []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path, loop []string
	var visit func(string) bool
	visit = func(f string) bool {
		state[f] = onPath
		path = append(path, f)
		for _, g := range deps[f] {
			switch state[g] {
			case onPath:
				for i, p := range path {
					if p == g {
						loop = append(append([]string{}, path[i:]...), g)
					}
				}
				return true
			case unseen:
				if visit(g) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		state[f] = done
		return false
	}
	files := make([]string, 0, len(deps))
	for f := range deps {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		if state[f] == unseen && visit(f) {
			return loop
		}
	}
	return nil
}

func TestPreloadHasNoDependencyLoop(t *testing.T) {
	deps := dependencies(compilePreload(t))
	if loop := findLoop(deps); loop != nil {
		t.Fatalf("preload/ files depend on each other in a loop: %s\n"+
			"move what both need below them (see CONTRIBUTING.md, Where things live)", strings.Join(loop, " -> "))
	}
	// The check must see the graph, or it proves nothing.
	if len(deps["slice.c"]) == 0 || len(deps["hook_mem.c"]) == 0 {
		t.Fatalf("no dependencies found (slice.c: %v, hook_mem.c: %v)", deps["slice.c"], deps["hook_mem.c"])
	}
}

func TestFindLoopFindsOne(t *testing.T) {
	deps := map[string][]string{"a.c": {"b.c"}, "b.c": {"c.c"}, "c.c": {"a.c"}, "d.c": {"a.c"}}
	loop := findLoop(deps)
	if got := strings.Join(loop, " -> "); got != "a.c -> b.c -> c.c -> a.c" {
		t.Fatalf("findLoop = %q; want a.c -> b.c -> c.c -> a.c", got)
	}
	delete(deps, "c.c")
	if loop := findLoop(deps); loop != nil {
		t.Fatalf("findLoop found %v in a graph without one", loop)
	}
}

// The memory hooks reach the accounting through slice.h alone: besides
// the driver's functions (real_*), the hook prologue (sm_init, sm_mode,
// sm_depth, the symbol tables) and the device of the current context,
// every library symbol they use is a sm_slice_* function.
func TestMemoryHooksGoThroughTheSlice(t *testing.T) {
	objs := compilePreload(t)
	prologue := map[string]bool{
		"sm_init": true, "sm_mode": true, "sm_depth": true,
		"sm_real_cuda": true, "sm_real_nvml": true, "sm_dev_current": true,
		"sm_config": true, // the job id: NVML's process lists are the job's only inside one
	}
	library := map[string]bool{}
	for _, s := range objs {
		for _, name := range s.defines {
			library[name] = true
		}
	}
	for _, file := range []string{"hook_mem.c", "hook_ctx.c", "hook_info.c", "hook_nvml.c"} {
		s, ok := objs[file]
		if !ok {
			t.Fatalf("preload/%s is gone: update this test with the memory hooks' files", file)
		}
		slice := 0
		for _, name := range s.needs {
			switch {
			case !library[name], strings.HasPrefix(name, "real_"), prologue[name]:
			case strings.HasPrefix(name, "sm_slice_"):
				slice++
			default:
				t.Errorf("preload/%s uses %s: memory hooks go through slice.h", file, name)
			}
		}
		if slice == 0 {
			t.Errorf("preload/%s uses no sm_slice_* function: is it still a memory hook?", file)
		}
	}
}

func TestPreloadFilesAreSmall(t *testing.T) {
	root := testutil.Root(t)
	files, err := filepath.Glob(filepath.Join(root, "preload", "*.[ch]"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no preload/*.[ch] under %s: %v", root, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "\n"); n > maxLines {
			t.Errorf("preload/%s has %d lines (at most %d): split it by concern", filepath.Base(f), n, maxLines)
		}
	}
}

// prefixExceptions are the internal names that need not name their file,
// each with its file and the reason.
var prefixExceptions = map[string]struct{ file, why string }{
	"sm_parse_size": {"size.c", "the simulator links preload/size.c and calls it by this name (sim/sim.h)"},
}

// homeOf returns the file (stem) an internal name says it lives in: its
// name without "sm_" is the stem, or starts with the stem and "_", the
// longest such stem winning (sm_slice_view_total names slice_view.c,
// sm_slice_admit slice.c; real_cuInit real.c); "" when it names none.
func homeOf(name string, stems []string) string {
	n := strings.TrimPrefix(name, "sm_")
	home := ""
	for _, s := range stems {
		if (n == s || strings.HasPrefix(n, s+"_")) && len(s) > len(home) {
			home = s
		}
	}
	return home
}

func TestHomeOf(t *testing.T) {
	stems := []string{"slice", "slice_view", "real", "region", "region_x"}
	for name, want := range map[string]string{
		"sm_slice_view_total": "slice_view", "sm_slice_view": "slice_view", "sm_slice_admit": "slice",
		"real_cuInit": "real", "sm_region": "region", "sm_regionx": "", "sm_ledger_used": "",
	} {
		if got := homeOf(name, stems); got != want {
			t.Errorf("homeOf(%q) = %q; want %q", name, got, want)
		}
	}
}

// Every internal function and variable of the library is named after the
// file that defines it (sm_region_* in region.c, sm_ledger_* in ledger.c),
// so that a name says where to look; the hooks and what exports.map
// exports keep their APIs' names.
func TestPreloadNamesSayWhereTheyLive(t *testing.T) {
	objs := compilePreload(t)
	var stems []string
	for file := range objs {
		stems = append(stems, strings.TrimSuffix(file, ".c"))
	}
	checked := 0
	for file, s := range objs {
		stem := strings.TrimSuffix(file, ".c")
		for _, name := range s.internal {
			checked++
			home := homeOf(name, stems)
			if ex, ok := prefixExceptions[name]; ok {
				if ex.file != file || home == stem {
					t.Errorf("prefixExceptions[%q] (%s, %s): preload/%s defines it and its name says %q: "+
						"drop the exception", name, ex.file, ex.why, file, home)
				}
				continue
			}
			switch home {
			case stem:
			case "":
				t.Errorf("preload/%s defines %s, whose name says no file: name it sm_%s_...", file, name, stem)
			default:
				t.Errorf("preload/%s defines %s, whose name says %s.c: rename it sm_%s_... or move it there",
					file, name, home, stem)
			}
		}
	}
	for name, ex := range prefixExceptions {
		if s, ok := objs[ex.file]; !ok || !contains(s.internal, name) {
			t.Errorf("prefixExceptions[%q]: preload/%s does not define it: drop the exception", name, ex.file)
		}
	}
	// The check must see the library's internals, or it proves nothing.
	if checked < 100 || !contains(objs["region.c"].internal, "sm_region_lock") {
		t.Fatalf("only %d internal symbols found (region.c: %v)", checked, objs["region.c"].internal)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// real.c alone looks symbols up: every driver and NVML function reaches
// the library through its tables (real_<name>), and no other file opens a
// library or asks the dynamic linker for a symbol.
func TestOnlyRealLooksSymbolsUp(t *testing.T) {
	objs := compilePreload(t)
	lookup := map[string]bool{"dlopen": true, "dlmopen": true, "dlsym": true, "dlvsym": true, "dladdr": true,
		"dladdr1": true, "dlerror": true, "dlinfo": true, "dlclose": true}
	for file, s := range objs {
		if file == "real.c" {
			continue
		}
		for _, name := range s.needs {
			if lookup[name] {
				t.Errorf("preload/%s calls %s: look symbols up through real.c (real.h)", file, name)
			}
		}
	}
	if s := objs["real.c"]; !contains(s.needs, "dlopen") || !contains(s.needs, "dlvsym") {
		t.Fatalf("real.c needs no dlopen or dlvsym (%v): the check sees nothing", s.needs)
	}
}

var includeLine = regexp.MustCompile(`(?m)^#include "([^"]+)"[^\n]*$`)

// ccCheck compiles src (named name, so that its own includes resolve in
// preload/) for syntax only, with the build's flags and then flags.
func ccCheck(root, dir, name, src string, flags ...string) error {
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		return err
	}
	args := append(append(ccFlags(root), flags...), "-fsyntax-only", file)
	if b, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%w\n%s", err, b)
	}
	return nil
}

var (
	cComment = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	// What a header of preload/ declares, in the library's style.
	declared = []*regexp.Regexp{
		regexp.MustCompile(`(?m)^#\s*define\s+(\w+)`),
		regexp.MustCompile(`(?m)^(?:hidden|SOFTMIG_EXPORT|static inline)\b[^;{=]*?(\w+)\s*\(`),
		regexp.MustCompile(`(?m)^(?:SOFTMIG_EXPORT\s+)?extern\b[^;(]*?(\w+)\s*(?:\[[^\]]*\])?\s*;`),
		regexp.MustCompile(`(?m)^(?:typedef\s+)?(?:struct|enum|union)\s+(\w+)\s*\{`),
		regexp.MustCompile(`(?m)^\}\s*(\w+)\s*;`),
		regexp.MustCompile(`(?m)^typedef\b[^;{]*?(\w+)\s*;`),
		regexp.MustCompile(`\bX\((\w+),`), // real.h's lists: the function, and real_<name>
	}
	enumBody = regexp.MustCompile(`\benum\b[^{;]*\{([^}]*)\}`)
	leadName = regexp.MustCompile(`^\s*(\w+)`)
)

// declaredIn returns the names a header declares: macros, functions,
// variables, tags, typedefs, enumerators (not its include guard).
func declaredIn(text string) []string {
	text = cComment.ReplaceAllString(text, "")
	seen := map[string]bool{}
	for _, re := range declared {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			seen[m[1]] = true
			if strings.HasPrefix(re.String(), `\bX\(`) {
				seen["real_"+m[1]] = true
			}
		}
	}
	for _, m := range enumBody.FindAllStringSubmatch(text, -1) {
		for _, item := range strings.Split(m[1], ",") {
			if n := leadName.FindStringSubmatch(item); n != nil {
				seen[n[1]] = true
			}
		}
	}
	var names []string
	for n := range seen {
		if !strings.HasPrefix(n, "SOFTMIG_") || !strings.HasSuffix(n, "_H") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func TestDeclaredIn(t *testing.T) {
	got := strings.Join(declaredIn(`#ifndef SOFTMIG_X_H
#define SOFTMIG_X_H
#define SM_A 1 /* hidden int sm_comment(void); */
enum sm_e { SM_B = 1, SM_C };
struct sm_s {
	int f;
};
struct sm_fwd;
typedef struct CUs_st *CUs;
extern hidden const struct sm_s *const sm_v;
hidden void sm_f(int a,
		 int b);
static inline int sm_i(void) { return 0; }
#define SM_LIST(X) X(cuA, (int a))
#endif`), " ")
	want := "CUs SM_A SM_B SM_C SM_LIST cuA real_cuA sm_e sm_f sm_i sm_s sm_v"
	if got != want {
		t.Fatalf("declaredIn = %q; want %q", got, want)
	}
}

// parallel runs each job on all CPUs and returns their results in order.
func parallel(n int, job func(i int) string) []string {
	out := make([]string, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = job(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// A file of preload/ (a .c or a header) includes a header of the library
// only if it uses something that header declares: each header's names are
// poisoned (#pragma GCC poison) after the file's includes, and the file
// must then fail to compile.  A name that reaches the file only inside
// another header's macro does not count (GCC does not complain about it
// there).  X.c always includes X.h, and compiles on its own with
// -Wmissing-prototypes.  glibc_compat.h is included for its effect on the
// symbols' versions, not for names.
func TestPreloadIncludesAreUsed(t *testing.T) {
	needCC(t)
	root := testutil.Root(t)
	names := map[string][]string{}
	for _, h := range preloadSources(t, "*.h") {
		b, err := os.ReadFile(h)
		if err != nil {
			t.Fatal(err)
		}
		names[filepath.Base(h)] = declaredIn(string(b))
	}
	type job struct{ file, header, src string }
	var jobs []job
	for _, path := range append(preloadSources(t, "*.c"), preloadSources(t, "*.h")...) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		file, src := filepath.Base(path), string(b)
		own := strings.TrimSuffix(file, ".c") + ".h"
		if strings.HasSuffix(file, ".c") {
			if _, ok := names[own]; ok && !strings.Contains(src, "#include \""+own+"\"") {
				t.Errorf("preload/%s does not include its own header %s", file, own)
			}
			jobs = append(jobs, job{file, "", src})
		}
		incs := includeLine.FindAllStringSubmatchIndex(src, -1)
		if len(incs) == 0 {
			continue
		}
		after := incs[len(incs)-1][1]
		for _, m := range incs {
			header := src[m[2]:m[3]]
			if header == own || header == "glibc_compat.h" {
				continue
			}
			if len(names[header]) == 0 {
				t.Errorf("preload/%s includes %s, which declares nothing this test can find", file, header)
				continue
			}
			poison := "\n#pragma GCC poison " + strings.Join(names[header], " ") + "\n"
			jobs = append(jobs, job{file, header, src[:after] + poison + src[after:]})
		}
	}
	results := parallel(len(jobs), func(i int) string {
		j := jobs[i]
		dir, err := os.MkdirTemp("", "softmig-include-")
		if err != nil {
			return err.Error()
		}
		defer os.RemoveAll(dir)
		name := j.file
		if strings.HasSuffix(name, ".h") {
			name += ".c"
		}
		if j.header == "" {
			if err := ccCheck(root, dir, name, j.src, "-Werror=missing-prototypes"); err != nil {
				return fmt.Sprintf("preload/%s does not compile on its own with -Wmissing-prototypes: %v", j.file, err)
			}
			return ""
		}
		// -w: poisoning a macro is a warning, which says nothing here.
		err = ccCheck(root, dir, name, j.src, "-w")
		switch {
		case err == nil:
			return fmt.Sprintf("preload/%s includes %s but uses nothing it declares: drop the include", j.file, j.header)
		case !strings.Contains(err.Error(), "attempt to use poisoned"):
			return fmt.Sprintf("preload/%s does not compile with %s's names poisoned, for another reason: %v",
				j.file, j.header, err)
		}
		return ""
	})
	for _, r := range results {
		if r != "" {
			t.Error(r)
		}
	}
	if len(jobs) < 2*len(preloadSources(t, "*.c")) {
		t.Fatalf("only %d compilations for %d files: are the includes found?", len(jobs), len(preloadSources(t, "*.c")))
	}
}

// Every header of preload/ compiles on its own: it includes what its own
// declarations need, so that a file includes only what it uses.
func TestPreloadHeadersStandAlone(t *testing.T) {
	needCC(t)
	root := testutil.Root(t)
	headers := preloadSources(t, "*.h")
	results := parallel(len(headers), func(i int) string {
		dir, err := os.MkdirTemp("", "softmig-header-")
		if err != nil {
			return err.Error()
		}
		defer os.RemoveAll(dir)
		h := filepath.Base(headers[i])
		if err := ccCheck(root, dir, "alone.c", "#include \""+h+"\"\n"); err != nil {
			return fmt.Sprintf("preload/%s does not compile on its own: %v", h, err)
		}
		return ""
	})
	for _, r := range results {
		if r != "" {
			t.Error(r)
		}
	}
}
