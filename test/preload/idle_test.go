package preloadtest

import (
	"debug/elf"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

// A process that never touches CUDA notices nothing: no files, threads,
// signal handlers or umask change, even with limits set.
func TestInvisibleWhenIdle(t *testing.T) {
	r := newRig(t, "CUDA_DEVICE_MEMORY_LIMIT=1g", "SLURM_JOB_ID=77")
	without, err := r.cmd(false, nil, "dl_idle").Output()
	if err != nil {
		t.Fatal(err)
	}
	with, err := r.cmd(true, nil, "dl_idle").Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(with) != string(without) {
		t.Fatalf("with the library: %s without: %s", with, without)
	}
	if readFile(t, r.regionPath("77")) != "" || readFile(t, r.dir+"/softmig.log") != "" {
		t.Fatal("an idle process created a region or a log")
	}
	// /bin/true and a shell run unchanged.
	out, err := r.cmd(true, nil, "dl_idle").Output()
	if err != nil || len(out) == 0 {
		t.Fatal(err)
	}
}

// The library must load in old-distro containers: it may need no glibc
// symbol version newer than GLIBC_2.17, and exports only its hooks.
func TestGlibcVersionsAndExports(t *testing.T) {
	testutil.Build(t, "lib")
	f, err := elf.Open(testutil.Path(t, "build/libsoftmig.so"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var exported int
	for _, s := range syms {
		if strings.HasPrefix(s.Version, "GLIBC_") {
			parts := strings.Split(strings.TrimPrefix(s.Version, "GLIBC_"), ".")
			minor, _ := strconv.Atoi(parts[1])
			if len(parts) < 2 || parts[0] != "2" || minor > 17 {
				t.Errorf("%s needs %s (newer than GLIBC_2.17)", s.Name, s.Version)
			}
		}
		if s.Section != elf.SHN_UNDEF && elf.ST_BIND(s.Info) == elf.STB_GLOBAL {
			exported++
			if s.Name != "dlsym" && s.Name != "softmig_version" && s.Name != "softmig_build_info" &&
				!strings.HasPrefix(s.Name, "cu") && !strings.HasPrefix(s.Name, "nvml") {
				t.Errorf("exports %s", s.Name)
			}
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	// Every NEEDED library is one more file to open at every process start
	// on the node; libdl and libpthread are referenced weakly instead.
	if strings.Join(libs, " ") != "libc.so.6" {
		t.Errorf("NEEDED %v, want only libc.so.6", libs)
	}
	// ... and every symbol they provided before glibc 2.34 is weak, so the
	// library loads on such a node even with LD_BIND_NOW.
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF && (strings.HasPrefix(s.Name, "dl") && s.Name != "dlsym" ||
			strings.HasPrefix(s.Name, "pthread_mutexattr") || s.Name == "pthread_create" ||
			s.Name == "pthread_mutex_timedlock" || s.Name == "pthread_mutex_consistent") &&
			elf.ST_BIND(s.Info) != elf.STB_WEAK {
			t.Errorf("%s is a strong reference: it would need libdl/libpthread before glibc 2.34", s.Name)
		}
	}
	if exported < 60 {
		t.Errorf("only %d exported symbols", exported)
	}
	if _, err := os.Stat(testutil.Path(t, "build/libsoftmig.so")); err != nil {
		t.Fatal(err)
	}
}

func TestOtherPreloadsKeepRTLDNext(t *testing.T) {
	// dlsym(RTLD_NEXT, ...) must answer relative to the caller, not to
	// libsoftmig.so (see test/cprog/dl_rtldnext.c).
	r := newRig(t)
	out, err := r.cmd(true, nil, "dl_rtldnext").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "next=libsoftmig.so default=libsoftmig.so getpid=libc.so.6" {
		t.Fatalf("dl_rtldnext: %v %q", err, out)
	}
}
