// SPDX-License-Identifier: Apache-2.0

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

// LibcDefines returns the symbol versions a libc.so.6 file defines: the
// names of its version definitions (.gnu.version_d), which the loader
// matches a program's needs against.
func LibcDefines(path string) (map[string]bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	set := map[string]bool{}
	names, err := versionDefinitions(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "GLIBC_2") {
			set[n] = true
		}
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("%s: defines no GLIBC_ symbol versions: not glibc's libc.so.6", path)
	}
	return set, nil
}

// versionDefinitions reads the names of the version definitions of f
// (Elf_Verdef entries, the same in 32 and 64 bits: vd_cnt at 6, vd_aux at
// 12, vd_next at 16; each entry's first Elf_Verdaux names it).
func versionDefinitions(f *elf.File) ([]string, error) {
	sec := f.SectionByType(elf.SHT_GNU_VERDEF)
	if sec == nil {
		return nil, nil
	}
	if int(sec.Link) >= len(f.Sections) {
		return nil, errors.New("bad .gnu.version_d link")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, err
	}
	strs, err := f.Sections[sec.Link].Data()
	if err != nil {
		return nil, err
	}
	bo := f.ByteOrder
	var names []string
	for off := 0; off >= 0 && off+20 <= len(data); {
		cnt, aux, next := bo.Uint16(data[off+6:]), int(bo.Uint32(data[off+12:])), int(bo.Uint32(data[off+16:]))
		if a := off + aux; cnt > 0 && a >= off && a+8 <= len(data) {
			names = append(names, cString(strs, int(bo.Uint32(data[a:]))))
		}
		if next <= 0 {
			break
		}
		off += next
	}
	return names, nil
}

// cString is the NUL-terminated string at off in a string table.
func cString(tab []byte, off int) string {
	if off < 0 || off >= len(tab) {
		return ""
	}
	end := off
	for end < len(tab) && tab[end] != 0 {
		end++
	}
	return string(tab[off:end])
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
