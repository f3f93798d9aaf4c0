// SPDX-License-Identifier: Apache-2.0

package defs

import (
	"fmt"
	"strconv"
	"strings"
)

// BuildInfoSymbol is the string constant the library exports with the facts
// it was built with ("version=0.1.0 run_dir=/run/softmig
// log_dir=/var/log/softmig max_devices=16", preload/version.c).
const BuildInfoSymbol = "softmig_build_info"

// Facts are the build-time facts the library and the tools must share, in
// the library's key=value form.
func Facts() string {
	return "run_dir=" + RunDir() + " log_dir=" + LogDir() + " max_devices=" + strconv.Itoa(MaxDevices)
}

// CheckBuildInfo compares a library's build info with these tools' facts
// and names every difference.
func CheckBuildInfo(info string) error {
	lib := map[string]string{}
	for _, kv := range strings.Fields(info) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			lib[k] = v
		}
	}
	var diff []string
	for _, kv := range strings.Fields(Facts()) {
		k, v, _ := strings.Cut(kv, "=")
		got, ok := lib[k]
		switch {
		case !ok:
			diff = append(diff, fmt.Sprintf("%s missing (tools: %s)", k, v))
		case got != v:
			diff = append(diff, fmt.Sprintf("%s=%s (tools: %s)", k, got, v))
		}
	}
	if diff != nil {
		return fmt.Errorf("library built with %s", strings.Join(diff, ", "))
	}
	return nil
}
