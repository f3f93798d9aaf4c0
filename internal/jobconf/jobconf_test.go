// SPDX-License-Identifier: Apache-2.0

package jobconf

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/softmig/softmig/internal/testutil"
)

func intp(n int) *int    { return &n }
func boolp(b bool) *bool { return &b }

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     *Config
	}{
		{"empty", "", &Config{}},
		{"comments and blanks", "# job 1\n\n   # x\n", &Config{}},
		{"quarter", "# h\nCUDA_DEVICE_MEMORY_LIMIT=12288M\nCUDA_DEVICE_SM_LIMIT=25\n",
			&Config{MemoryLimit: 12 << 30, SMLimit: intp(25)}},
		{"spaces trimmed", "  CUDA_DEVICE_MEMORY_LIMIT =  16g  \n", &Config{MemoryLimit: 16 << 30}},
		{"per device", "CUDA_DEVICE_MEMORY_LIMIT_0=1G\nCUDA_DEVICE_MEMORY_LIMIT_15=2048M\nCUDA_DEVICE_SM_LIMIT_1=50",
			&Config{DeviceMemoryLimit: map[int]uint64{0: 1 << 30, 15: 2 << 30}, DeviceSMLimit: map[int]int{1: 50}}},
		{"all keys", "ACTIVE_OOM_KILLER=1\nSOFTMIG_LOG_LEVEL=4\nSOFTMIG_REGION=/var/run/softmig/7.region\nSOFTMIG_DISABLED=no GPU for you\nCUDA_DEVICE_SM_LIMIT=0\nSOFTMIG_UID=1000",
			&Config{ActiveOOMKiller: boolp(true), LogLevel: intp(4), Region: "/var/run/softmig/7.region", Disabled: "no GPU for you", SMLimit: intp(0), UID: intp(1000)}},
		{"crlf-free value with =", "SOFTMIG_DISABLED=a=b", &Config{Disabled: "a=b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tc.in))
			if err != nil {
				t.Fatalf("Parse(%q) error %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no equals", "CUDA_DEVICE_MEMORY_LIMIT\n", "line 1"},
		{"unknown key", "# c\nFOO=1\n", "line 2: FOO: unknown key"},
		{"duplicate", "CUDA_DEVICE_SM_LIMIT=1\nCUDA_DEVICE_SM_LIMIT=2\n", "first on line 1"},
		{"zero memory", "CUDA_DEVICE_MEMORY_LIMIT=0", "greater than 0"},
		{"bad size", "CUDA_DEVICE_MEMORY_LIMIT=1.5g", "invalid size"},
		{"sm over 100", "CUDA_DEVICE_SM_LIMIT=101", "0 to 100"},
		{"sm negative", "CUDA_DEVICE_SM_LIMIT=-1", "0 to 100"},
		{"sm plus", "CUDA_DEVICE_SM_LIMIT=+5", "0 to 100"},
		{"device 16", "CUDA_DEVICE_MEMORY_LIMIT_16=1g", "unknown key"},
		{"device 01", "CUDA_DEVICE_MEMORY_LIMIT_01=1g", "unknown key"},
		{"oom 2", "ACTIVE_OOM_KILLER=2", "not 0 or 1"},
		{"log 5", "SOFTMIG_LOG_LEVEL=5", "0 to 4"},
		{"relative region", "SOFTMIG_REGION=x.region", "absolute"},
		{"unclean region", "SOFTMIG_REGION=/a/../b", "absolute"},
		{"empty disabled", "SOFTMIG_DISABLED=", "empty reason"},
		{"long line", "# " + strings.Repeat("x", MaxLineLength), "longer than"},
		{"big file", strings.Repeat("#\n", MaxFileSize), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tc.in))
			if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %+v, %v; want ErrSyntax containing %q", c, err, tc.want)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	c := &Config{
		Comments:          []string{"SoftMig job config", "evil\nSOFTMIG_DISABLED=x"},
		Disabled:          "bad\nline",
		MemoryLimit:       12 << 30,
		DeviceMemoryLimit: map[int]uint64{1: 6 << 30, 0: 12<<30 + 1},
		SMLimit:           intp(25),
		DeviceSMLimit:     map[int]int{1: 12, 0: 25},
		ActiveOOMKiller:   boolp(false),
		LogLevel:          intp(2),
		Region:            "/var/run/softmig/1.region",
		UID:               intp(1000),
	}
	out := c.Marshal()
	want := `# SoftMig job config
# evil SOFTMIG_DISABLED=x
SOFTMIG_DISABLED=bad line
CUDA_DEVICE_MEMORY_LIMIT=12288M
CUDA_DEVICE_MEMORY_LIMIT_0=12884901889
CUDA_DEVICE_MEMORY_LIMIT_1=6144M
CUDA_DEVICE_SM_LIMIT=25
CUDA_DEVICE_SM_LIMIT_0=25
CUDA_DEVICE_SM_LIMIT_1=12
ACTIVE_OOM_KILLER=0
SOFTMIG_LOG_LEVEL=2
SOFTMIG_REGION=/var/run/softmig/1.region
SOFTMIG_UID=1000
`
	if string(out) != want {
		t.Fatalf("Marshal =\n%s\nwant\n%s", out, want)
	}
	back, err := Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	c.Comments, c.Disabled = nil, "bad line"
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("Parse(Marshal(c)) = %+v, want %+v", back, c)
	}
	if got := len(c.Lines()); got != 11 {
		t.Fatalf("Lines() has %d lines, want 11", got)
	}
}

func requireRoot(t *testing.T) {
	testutil.NeedRoot(t, "job configs must be root-owned")
}

func TestWriteLoad(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "42.conf")
	c := &Config{MemoryLimit: 1 << 30, SMLimit: intp(50)}
	if err := Write(path, c); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != 0o644 || st.Uid != 0 || st.Gid != 0 {
		t.Fatalf("written %v uid %d gid %d, want -rw-r--r-- root:root", fi.Mode(), st.Uid, st.Gid)
	}
	got, err := Load(path)
	if err != nil || got.MemoryLimit != 1<<30 || *got.SMLimit != 50 {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary file left behind: %v", entries)
	}

	// A symlink at the target is replaced, its target is left alone.
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "43.conf")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := Write(link, c); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("Write followed the symlink: victim now %q", b)
	}
	if fi, _ := os.Lstat(link); !fi.Mode().IsRegular() {
		t.Fatalf("%s is %v after Write, want a regular file", link, fi.Mode())
	}

	// A symlinked directory is refused.
	ldir := filepath.Join(t.TempDir(), "run")
	if err := os.Symlink(dir, ldir); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(ldir, "44.conf"), c); err == nil {
		t.Fatal("Write through a symlinked directory succeeded")
	}

	if err := Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := Remove(path); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if _, err := Load(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of removed config: %v, want ErrNotExist", err)
	}
}

func TestLoadUnsafe(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir, path string)
		want  string
	}{
		{"symlink", func(t *testing.T, dir, path string) {
			if err := os.WriteFile(path+".real", []byte(""), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(path+".real", path); err != nil {
				t.Fatal(err)
			}
		}, "symlink"},
		{"not root", func(t *testing.T, dir, path string) {
			if err := os.WriteFile(path, []byte(""), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, "owned by uid 65534"},
		{"group writable", func(t *testing.T, dir, path string) {
			if err := os.WriteFile(path, []byte(""), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o664); err != nil {
				t.Fatal(err)
			}
		}, "mode 0664"},
		{"other writable", func(t *testing.T, dir, path string) {
			if err := os.WriteFile(path, []byte(""), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, 0o646); err != nil {
				t.Fatal(err)
			}
		}, "mode 0646"},
		{"fifo", func(t *testing.T, dir, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"dir writable", func(t *testing.T, dir, path string) {
			if err := os.WriteFile(path, []byte(""), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		}, "mode 0777"},
		{"dir not root", func(t *testing.T, dir, path string) {
			if err := os.WriteFile(path, []byte(""), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, "owned by uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "1.conf")
			tc.setup(t, dir, path)
			c, err := Load(path)
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %+v, %v; want ErrUnsafe containing %q", c, err, tc.want)
			}
		})
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "2.conf")
	if err := os.WriteFile(path, []byte("BOGUS=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load of unparsable config: %v, want ErrSyntax naming the path", err)
	}
}
