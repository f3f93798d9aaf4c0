package elfcheck

import (
	"debug/elf"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrGlibcTooOld is wrapped when a program needs symbol versions the C
// library at hand does not define: the loader would refuse to start it.
var ErrGlibcTooOld = errors.New("needs a newer glibc")

// LibcNeeds returns the glibc symbol versions (GLIBC_2.34, ...) the ELF
// file at path needs from libc.so.6, oldest first.
func LibcNeeds(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := f.ImportedSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	set := map[string]bool{}
	for _, s := range syms {
		if s.Library == "libc.so.6" && strings.HasPrefix(s.Version, "GLIBC_") {
			set[s.Version] = true
		}
	}
	return sortedVersions(set), nil
}

// LibcDefines returns the symbol versions a libc.so.6 file defines.
func LibcDefines(path string) (map[string]bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	set := map[string]bool{}
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && strings.HasPrefix(s.Version, "GLIBC_") {
			set[s.Version] = true
		}
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("%s: defines no GLIBC_ symbol versions: not glibc's libc.so.6", path)
	}
	return set, nil
}

// CheckLibc returns an error wrapping ErrGlibcTooOld, naming the newest
// missing version, when the program at path needs a glibc symbol version
// the libc.so.6 at libc does not define (what the loader checks).
func CheckLibc(path, libc string) error {
	needs, err := LibcNeeds(path)
	if err != nil {
		return err
	}
	defs, err := LibcDefines(libc)
	if err != nil {
		return err
	}
	var missing []string
	for _, v := range needs {
		if !defs[v] {
			missing = append(missing, v)
		}
	}
	if missing != nil {
		have := sortedVersions(defs)
		return fmt.Errorf("%w: it needs %s, and %s goes up to %s", ErrGlibcTooOld,
			missing[len(missing)-1], libc, have[len(have)-1])
	}
	return nil
}

// FindLibc returns the libc.so.6 below root whose ELF machine is the one of
// the program at like, searching where distributions put it.
func FindLibc(root, like string) (string, error) {
	want, err := machineOf(like)
	if err != nil {
		return "", err
	}
	var tried []string
	for _, pat := range []string{"lib64", "usr/lib64", "lib/*-linux-gnu*", "usr/lib/*-linux-gnu*", "lib", "usr/lib"} {
		dirs, _ := filepath.Glob(filepath.Join(root, pat))
		for _, d := range dirs {
			p := filepath.Join(d, "libc.so.6")
			tried = append(tried, p)
			if m, err := machineOf(p); err == nil && m == want {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("no libc.so.6 for %s below %s (looked at %s)", want, root, strings.Join(tried, ", "))
}

func machineOf(path string) (elf.Machine, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.Machine, nil
}

// sortedVersions orders GLIBC_x.y[.z] names by number.
func sortedVersions(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return versionLess(out[i], out[j]) })
	return out
}

func versionLess(a, b string) bool {
	pa := strings.Split(strings.TrimPrefix(a, "GLIBC_"), ".")
	pb := strings.Split(strings.TrimPrefix(b, "GLIBC_"), ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}
