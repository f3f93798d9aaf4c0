// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/defs"
)

// ls names the site config problem that fails GPU jobs closed; a warning
// (jobs keep their slices) or a missing file says nothing.
func TestLsNotesSiteConfig(t *testing.T) {
	site := filepath.Join(t.TempDir(), "softmig.yaml")
	if err := os.WriteFile(site, []byte("gpus:\n  l40s:\n    shards: 4\npaths:\n  run_dir: /srv/softmig\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runT(t, "-d", logs, "--config", site, "ls")
	if err != nil || !strings.Contains(stderr, "softmig-log: note: GPU jobs on this node fail closed") || !strings.Contains(stderr, site+":5: paths.run_dir") {
		t.Fatalf("ls with a moved run dir: %v, stderr %q", err, stderr)
	}
	if err := os.WriteFile(site, []byte("gpus:\n  l40s:\n    shards: 4\npaths:\n  nvidia_smi_real: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runT(t, "-d", logs, "--config", site, "ls"); err != nil || stderr != "" {
		t.Fatalf("ls with a warning only: %v, stderr %q", err, stderr)
	}
}

// The default log directory is the one built in (defs.LogDir).
func TestDefaultDirIsBuiltIn(t *testing.T) {
	out, _, _ := runT(t, "--help")
	if !strings.Contains(out, "(default: "+defs.LogDir()+",") {
		t.Fatalf("help does not show %s as the default --dir:\n%s", defs.LogDir(), out)
	}
}
