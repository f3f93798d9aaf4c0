// SPDX-License-Identifier: Apache-2.0

package defs

import (
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// cDefine reads `#define NAME value` from a header of the library.
func cDefine(t *testing.T, header, name string) string {
	t.Helper()
	src, err := os.ReadFile("../../preload/" + header)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^#define\s+` + name + `\s+(\S+)`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("preload/%s: no #define %s", header, name)
	}
	return string(m[1])
}

func TestMatchesCHeaders(t *testing.T) {
	if got := cDefine(t, "region_abi.h", "SM_MAX_DEVICES"); got != strconv.Itoa(MaxDevices) {
		t.Errorf("SM_MAX_DEVICES = %s, Go MaxDevices = %d", got, MaxDevices)
	}
	if got := cDefine(t, "softmig.h", "SM_JOB_MAX"); got != strconv.Itoa(MaxJobIDLen+1) {
		t.Errorf("SM_JOB_MAX = %s, Go MaxJobIDLen = %d (want SM_JOB_MAX - 1)", got, MaxJobIDLen)
	}
	ns := regexp.MustCompile(`^(\d+)ULL$`).FindStringSubmatch(cDefine(t, "slot.h", "SM_SLOT_PERIOD_NS"))
	if ns == nil {
		t.Fatal("SM_SLOT_PERIOD_NS is not <digits>ULL")
	}
	if n, _ := strconv.ParseInt(ns[1], 10, 64); time.Duration(n) != SlotPeriod {
		t.Errorf("SM_SLOT_PERIOD_NS = %s, Go SlotPeriod = %v", ns[1], SlotPeriod)
	}
}

func TestDefaults(t *testing.T) {
	for name, v := range map[string]string{"RunDir": RunDir(), "LogDir": LogDir()} {
		if v == "" || v[0] != '/' {
			t.Errorf("%s = %q, want an absolute path from defs.mk", name, v)
		}
	}
	if len(defaults) != 2 {
		t.Errorf("defs.mk defines %v; each must have a Go reader here", defaults)
	}
}
