// SPDX-License-Identifier: Apache-2.0

package testvec

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testutil"
)

// ConfFile is the vector file of job configs; the configs themselves are
// the files it names in testdata/jobconf/.
const ConfFile = "testdata/jobconf/cases.tsv"

// ConfCase is one job-config vector: a config file laid out as Setup says,
// and the verdict both parsers must give.
type ConfCase struct {
	Line
	Conf    string   // file in testdata/jobconf/, or "-" for none
	Setup   []string // how the file and its directory are made (see Lay)
	Verdict string   // ok, disabled, invalid, unsafe or absent
	Want    string   // ok: the values (ConfValues); else a text the reason holds, "-" for any
}

// ConfCases reads ConfFile.
func ConfCases(t testing.TB) []ConfCase {
	var out []ConfCase
	for _, l := range Lines(t, ConfFile, 4) {
		c := ConfCase{Line: l, Conf: l.Fields[0], Verdict: l.Fields[2], Want: strings.Join(l.Fields[3:], "\t")}
		if l.Fields[1] != "-" {
			c.Setup = strings.Split(l.Fields[1], ",")
		}
		switch c.Verdict {
		case "ok", "disabled", "invalid", "unsafe", "absent":
		default:
			t.Fatalf("%s: verdict %q, want ok, disabled, invalid, unsafe or absent", l, c.Verdict)
		}
		out = append(out, c)
	}
	return out
}

// Lay makes the case's run directory and config under a new temporary
// directory and returns the directory and the file name (42.conf). The
// directory is root's, mode 0755, and the file root's, mode 0644, holding
// testdata/jobconf/<Conf>, unless Setup says otherwise:
//
//	mode=0NNN, uid=N         the file's mode and owner
//	dirmode=0NNN, diruid=N   the directory's
//	symlink                  the file is a symlink to a safe copy elsewhere
//	dirsymlink               the directory is a symlink to a safe one holding the file
//	fifo, directory          a FIFO or a directory stands at the file's path
//	nofile, nodir            no file, no directory
//	pad=N                    the content is padded with comment lines to N bytes
//
// It must run as root (tests run as root, CI too).
func (c ConfCase) Lay(t testing.TB) (dir, name string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("%s: laying out root-owned and foreign-owned configs needs root", c.Line)
	}
	base := t.TempDir()
	dir, name = filepath.Join(base, "run"), "42.conf"
	var content []byte
	if c.Conf != "-" {
		var err error
		content, err = os.ReadFile(filepath.Join(testutil.Root(t), filepath.Dir(ConfFile), c.Conf))
		if err != nil {
			t.Fatal(err)
		}
	}
	set := map[string]string{}
	for _, s := range c.Setup {
		k, v, _ := strings.Cut(s, "=")
		set[k] = v
	}
	num := func(k string, base int) int {
		n, err := strconv.ParseInt(set[k], base, 32)
		if err != nil {
			t.Fatalf("%s: setup %s=%q: not a number", c.Line, k, set[k])
		}
		return int(n)
	}
	if v, ok := set["pad"]; ok {
		n, _ := strconv.Atoi(v)
		for len(content) < n {
			line := "#" + strings.Repeat("x", min(78, n-len(content)-2)) + "\n"
			if n-len(content) < 2 {
				line = "\n"
			}
			content = append(content, line...)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: laying out the case: %v", c.Line, err)
		}
	}
	target := dir
	if _, ok := set["dirsymlink"]; ok {
		target = filepath.Join(base, "real")
		must(os.Symlink(target, dir))
	}
	if _, ok := set["nodir"]; ok {
		return dir, name
	}
	must(os.Mkdir(target, 0o755))
	must(os.Chmod(target, 0o755))
	path := filepath.Join(target, name)
	switch _, file := set["nofile"]; {
	case file:
	case has(set, "fifo"):
		must(syscall.Mkfifo(path, 0o644))
	case has(set, "directory"):
		must(os.Mkdir(path, 0o755))
	case has(set, "symlink"):
		other := filepath.Join(base, "elsewhere")
		must(os.Mkdir(other, 0o755))
		must(os.WriteFile(filepath.Join(other, name), content, 0o644))
		must(os.Symlink(filepath.Join(other, name), path))
	default:
		must(os.WriteFile(path, content, 0o644))
		must(os.Chmod(path, 0o644))
	}
	if has(set, "mode") {
		must(os.Chmod(path, os.FileMode(num("mode", 8))))
	}
	if has(set, "uid") {
		must(os.Lchown(path, num("uid", 10), num("uid", 10)))
	}
	if has(set, "dirmode") {
		must(os.Chmod(target, os.FileMode(num("dirmode", 8))))
	}
	if has(set, "diruid") {
		must(os.Lchown(target, num("diruid", 10), num("diruid", 10)))
	}
	return dir, name
}

func has(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// Check compares a parser's answer with the case: got is "ok <values>",
// "absent", or "<verdict>: <reason>". It returns "" or what differs.
func (c ConfCase) Check(got string) string {
	verdict, rest, _ := strings.Cut(got, " ")
	verdict = strings.TrimSuffix(verdict, ":")
	switch {
	case verdict != c.Verdict:
		return fmt.Sprintf("%s: got %q, want verdict %s (%s)", c.Line, got, c.Verdict, c.Want)
	case verdict == "ok" && rest != c.Want:
		return fmt.Sprintf("%s: values %q, want %q", c.Line, rest, c.Want)
	case verdict != "ok" && c.Want != "-" && !strings.Contains(rest, c.Want):
		return fmt.Sprintf("%s: %s reason %q does not say %q", c.Line, verdict, rest, c.Want)
	}
	return ""
}

// Values is a config as the library applies it, per CUDA ordinal.
type Values struct {
	Mem    [defs.MaxDevices]uint64 // 0: no limit
	SM     [defs.MaxDevices]int    // 1-99; 0 (and 100): no limit
	Slot   [defs.MaxDevices]string // "A-B[,C-D]", "" none
	OOM    bool
	Log    int
	Region string
}

// String writes v as the vectors do: "mem<i>[-<j>]=<bytes>" for each run
// of devices with the same memory limit, then "sm..." and "slot..." the
// same way, then "oom=1", "log=<n>", "region=<path>" when set; "-" when
// nothing is.
func (v Values) String() string {
	var out []string
	runs := func(name string, val func(int) string) {
		for i := 0; i < defs.MaxDevices; {
			x := val(i)
			if x == "" {
				i++
				continue
			}
			j := i
			for j+1 < defs.MaxDevices && val(j+1) == x {
				j++
			}
			if i == j {
				out = append(out, fmt.Sprintf("%s%d=%s", name, i, x))
			} else {
				out = append(out, fmt.Sprintf("%s%d-%d=%s", name, i, j, x))
			}
			i = j + 1
		}
	}
	runs("mem", func(i int) string {
		if v.Mem[i] == 0 {
			return ""
		}
		return strconv.FormatUint(v.Mem[i], 10)
	})
	runs("sm", func(i int) string {
		if v.SM[i] <= 0 || v.SM[i] >= 100 {
			return ""
		}
		return strconv.Itoa(v.SM[i])
	})
	runs("slot", func(i int) string { return v.Slot[i] })
	if v.OOM {
		out = append(out, "oom=1")
	}
	if v.Log != 0 {
		out = append(out, "log="+strconv.Itoa(v.Log))
	}
	if v.Region != "" {
		out = append(out, "region="+v.Region)
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}
