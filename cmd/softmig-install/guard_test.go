package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/testutil"
)

func TestGuardUnit(t *testing.T) {
	files, notes := guardFiles("/opt/sm", testutil.Root(t))
	if len(files) != 1 || files[0].path != guardUnit || !files[0].conf {
		t.Fatalf("guardFiles = %+v, %q; want the unit, site-owned", files, notes)
	}
	unit := string(files[0].data)
	for _, want := range []string{"ExecStart=/opt/sm/bin/softmig-guard\n", "ReadWritePaths=-" + defs.LogDir() + "\n", "WantedBy=multi-user.target"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "@") {
		t.Errorf("unit keeps a placeholder:\n%s", unit)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "systemctl enable --now softmig-guard") {
		t.Errorf("notes = %q; want the enable hint", notes)
	}
	if files, notes := guardFiles("/opt/sm", t.TempDir()); len(files) != 0 || len(notes) != 1 {
		t.Errorf("without the template: %+v %q; want a note only", files, notes)
	}
}

func TestFindProcess(t *testing.T) {
	proc := t.TempDir()
	for pid, comm := range map[string]string{"12": "bash\n", "34": "softmig-guard\n", "self": "x\n"} {
		if err := os.MkdirAll(filepath.Join(proc, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, pid, "comm"), []byte(comm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := 34
	if os.Getuid() != 0 {
		want = 0 // the directories are not root's
	}
	if got := findProcess(proc, guardName); got != want {
		t.Errorf("findProcess = %d; want %d", got, want)
	}
	if got := findProcess(proc, "nothing"); got != 0 {
		t.Errorf("findProcess(nothing) = %d; want 0", got)
	}
}
