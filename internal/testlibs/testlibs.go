// SPDX-License-Identifier: Apache-2.0

// Package testlibs builds tiny shared objects and programs with the C
// compiler for tests of the installer: a good preload library, broken ones,
// and a program that reports which library it has preloaded.
package testlibs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/defs"
)

// Good is a passive library that answers softmig_version() with version
// and was built with the tools' facts (BuildInfo).
func Good(version string) string {
	return `const char *softmig_version(void) { return "` + version + `"; }` + "\n" + BuildInfo(defs.Facts())
}

// BuildInfo defines softmig_build_info, the facts a library was built with
// (preload/version.c), as facts (see defs.Facts).
func BuildInfo(facts string) string {
	return `const char softmig_build_info[] = "version=test ` + facts + `";` + "\n"
}

// Crashing is a library whose constructor writes through a NULL pointer:
// every process that preloads it dies of SIGSEGV before main. (Both the pointer
// and the store are volatile: GCC deletes a plain store through NULL.)
const Crashing = `
const char *softmig_version(void) { return "crash"; }
__attribute__((constructor)) static void boom(void) { volatile int *volatile p = 0; *p = 1; }
`

// NoVersion is a well-formed library that does not export softmig_version.
const NoVersion = `int softmig_other(void) { return 1; }` + "\n"

// Hidden defines softmig_version with hidden visibility (not exported).
const Hidden = `__attribute__((visibility("hidden"))) const char *softmig_version(void) { return "h"; }
int keep(void) { return softmig_version()[0]; }
`

// Noisy is a library that is not passive: its constructor sets the umask.
const Noisy = `
#include <sys/stat.h>
const char *softmig_version(void) { return "noisy"; }
__attribute__((constructor)) static void noisy(void) { umask(0); }
`

// Starter is a program that prints the softmig_version() of the library it
// has preloaded and exits 3 when there is none.
const Starter = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
int main(void) {
	const char *(*v)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "softmig_version");
	if (!v) { fputs("no softmig_version in this process\n", stderr); return 3; }
	puts(v());
	return 0;
}
`

// NeedCC skips the test when there is no C compiler.
func NeedCC(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler (cc) to build test libraries")
	}
}

// Lib compiles src into dir/name as a shared object named libsoftmig.so
// (its soname) and returns its path. extra are more compiler arguments.
func Lib(t testing.TB, dir, name, src string, extra ...string) string {
	t.Helper()
	return compile(t, dir, name, src, append([]string{"-shared", "-fPIC", "-Wl,-soname,libsoftmig.so"}, extra...)...)
}

// Program compiles src into dir/name as an executable and returns its path.
func Program(t testing.TB, dir, name, src string) string {
	t.Helper()
	return compile(t, dir, name, src, "-ldl")
}

func compile(t testing.TB, dir, name, src string, flags ...string) string {
	t.Helper()
	NeedCC(t)
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	args := append([]string{"-O1", "-o", out, c}, flags...)
	if b, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
		t.Fatalf("cc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// Truncated writes the first half of the file at src to dir/name.
func Truncated(t testing.TB, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	if err := os.WriteFile(out, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// FakeLibc builds dir/libc.so.6, a stand-in for an older glibc: it defines
// one symbol in each of the given symbol versions (GLIBC_2.2.5, GLIBC_2.17,
// ...; each node inherits the one before, as glibc's do) and nothing else.
func FakeLibc(t testing.TB, dir string, versions ...string) string {
	t.Helper()
	var src, script strings.Builder
	for i, v := range versions {
		fmt.Fprintf(&src, "int fake_%d(void) { return %d; }\n", i, i)
		fmt.Fprintf(&script, "%s { global: fake_%d;", v, i)
		if i == 0 {
			script.WriteString(" local: *;")
		}
		script.WriteString(" }")
		if i > 0 {
			script.WriteString(" " + versions[i-1])
		}
		script.WriteString(";\n")
	}
	m := filepath.Join(dir, "libc.map")
	if err := os.WriteFile(m, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return compile(t, dir, "libc.so.6", src.String(), "-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libc.so.6", "-Wl,--version-script="+m)
}
