package preloadtest

// The shape of preload/, held by tests (issue 15): its files depend on
// each other without a loop, each is small enough to read in one sitting,
// and the memory hooks reach the accounting only through slice.h.  A file
// depends on another when it uses a symbol the other defines, as the
// linker sees it: each file is compiled alone and its ELF symbols read.

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testutil"
)

// maxLines is the most a file of preload/ may hold.
const maxLines = 400

// objSymbols is what one compiled file defines and what it needs.
type objSymbols struct {
	defines, needs []string
}

// compilePreload compiles every preload/*.c on its own and returns the
// symbols of each, by file name.
func compilePreload(t *testing.T) map[string]objSymbols {
	t.Helper()
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler (cc) on PATH: install gcc to check preload's layout")
	}
	root := testutil.Root(t)
	srcs, err := filepath.Glob(filepath.Join(root, "preload", "*.c"))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no preload/*.c under %s: %v", root, err)
	}
	dir := t.TempDir()
	out := map[string]objSymbols{}
	for _, src := range srcs {
		obj := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c")+".o")
		cc := exec.Command("cc", "-std=c11", "-D_GNU_SOURCE", "-fPIC", "-O0", "-c",
			fmt.Sprintf("-DSM_RUN_DIR=%q", defs.RunDir()), fmt.Sprintf("-DSM_LOG_DIR=%q", defs.LogDir()),
			"-I", filepath.Join(root, "preload"), "-o", obj, src)
		if b, err := cc.CombinedOutput(); err != nil {
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
			if sym.Section == elf.SHN_UNDEF {
				s.needs = append(s.needs, sym.Name)
			} else {
				s.defines = append(s.defines, sym.Name)
			}
		}
		out[filepath.Base(src)] = s
	}
	return out
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
