// SPDX-License-Identifier: Apache-2.0

package elfcheck

import (
	"errors"
	"testing"

	"github.com/softmig/softmig/internal/testlibs"
)

func TestReadString(t *testing.T) {
	testlibs.NeedCC(t)
	dir := t.TempDir()
	lib := testlibs.Lib(t, dir, "info.so", testlibs.BuildInfo("run_dir=/srv/x max_devices=16"))
	got, err := ReadString(lib, "softmig_build_info")
	if err != nil || got != "version=test run_dir=/srv/x max_devices=16" {
		t.Errorf("ReadString = %q, %v", got, err)
	}
	for name, src := range map[string]string{
		"missing":     testlibs.NoVersion,
		"a function":  `const char *softmig_build_info(void) { return "x"; }`,
		"hidden":      `__attribute__((visibility("hidden"))) const char softmig_build_info[] = "x"; const char *keep(void) { return softmig_build_info; }`,
		"not a const": `char softmig_build_info[8];`,
	} {
		lib := testlibs.Lib(t, dir, "bad.so", src)
		if got, err := ReadString(lib, "softmig_build_info"); !errors.Is(err, ErrNoString) {
			t.Errorf("%s: ReadString = %q, %v; want ErrNoString", name, got, err)
		}
	}
}
