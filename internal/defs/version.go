// SPDX-License-Identifier: Apache-2.0

package defs

// version is set at link time by the Makefile (-ldflags -X) to the same
// string the library's softmig_version() returns: git describe, or the
// VERSION file of a release tarball.
var version string

// Version is SoftMig's version as every tool and the library report it.
func Version() string {
	if version == "" {
		return "unknown (built without make)"
	}
	return version
}
