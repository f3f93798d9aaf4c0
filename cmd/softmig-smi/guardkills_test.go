// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/softmig/softmig/cmd/softmig-smi/smi"
)

func TestPrintGuardKills(t *testing.T) {
	dir := t.TempDir()
	old := guardLogDir
	guardLogDir = func() string { return dir }
	defer func() { guardLogDir = old }()
	log := `ts=2026-11-30T22:38:03.000000Z level=event job=42 pid=7 dev=0 msg="oom refused" api=cuMemAlloc_v2 requested=1 used=2 limit=3 suppressed=0
ts=2026-11-30T22:38:04.000000Z level=event job=42 pid=5908 dev=0 msg="guard kill" reason=escape gpu=1 used=14273216512 limit=12884901888 pids=5908,5909 over_ms=500 cause=x
garbage line
ts=2026-11-30T22:38:05.000000Z level=event job=43 pid=1 dev=0 msg="guard kill" reason=over_slice gpu=1 used=1 limit=1 pids=1 over_ms=500
`
	if err := os.WriteFile(filepath.Join(dir, "42.log"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printGuardKills(&b, []smi.SliceRow{{Job: "42"}, {Job: "42"}, {Job: "7"}})
	got := b.String()
	if strings.Count(got, "job ") != 1 || !strings.Contains(got, "job 42         GPU 1  escape     used  13612MiB  slice  12288MiB  pids 5908,5909") {
		t.Errorf("printGuardKills:\n%s", got)
	}
	b.Reset()
	printGuardKills(&b, []smi.SliceRow{{Job: "7"}})
	if b.Len() != 0 {
		t.Errorf("no kills: printed %q", b.String())
	}
}
