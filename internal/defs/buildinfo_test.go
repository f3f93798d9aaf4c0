// SPDX-License-Identifier: Apache-2.0

package defs

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/softmig/softmig/internal/elfcheck"
)

func TestCheckBuildInfo(t *testing.T) {
	good := "version=0.1.0 " + Facts()
	if err := CheckBuildInfo(good); err != nil {
		t.Errorf("CheckBuildInfo(%q) = %v", good, err)
	}
	for _, bad := range []string{
		strings.Replace(good, "run_dir="+RunDir(), "run_dir=/srv/softmig", 1),
		strings.Replace(good, "log_dir="+LogDir(), "log_dir=/tmp/logs", 1),
		strings.Replace(good, "max_devices=16", "max_devices=8", 1),
		"version=0.0.1",
		"",
	} {
		if err := CheckBuildInfo(bad); err == nil {
			t.Errorf("CheckBuildInfo(%q) accepted it", bad)
		}
	}
	err := CheckBuildInfo("version=1 run_dir=/srv/softmig log_dir=" + LogDir() + " max_devices=16")
	if err == nil || !strings.Contains(err.Error(), "run_dir=/srv/softmig (tools: "+RunDir()+")") {
		t.Errorf("the difference is not named: %v", err)
	}
}

// The library in build/ was built with the facts these tests were linked
// with (make test passes the Makefile's RUNDIR and LOGDIR to both), which
// is what `softmig-install verify` checks on a node.
func TestLibraryBuiltWithTheseFacts(t *testing.T) {
	const lib = "../../build/libsoftmig.so"
	if _, err := os.Stat(lib); errors.Is(err, os.ErrNotExist) {
		t.Skip("no build/libsoftmig.so: run make first (this test builds nothing)")
	}
	info, err := elfcheck.ReadString(lib, BuildInfoSymbol)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckBuildInfo(info); err != nil {
		t.Errorf("build/libsoftmig.so says %q: %v\n(rebuild with the same make RUNDIR=... LOGDIR=... as these tests, or run them through make test)", info, err)
	}
	if !strings.HasPrefix(info, "version=") {
		t.Errorf("build info %q does not start with the version", info)
	}
}
