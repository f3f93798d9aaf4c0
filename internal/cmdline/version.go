// SPDX-License-Identifier: Apache-2.0

package cmdline

import (
	"fmt"

	"github.com/alecthomas/kong"

	"github.com/softmig/softmig/internal/defs"
)

// VersionFlag is every tool's --version: it prints "<tool> <version>", the
// version being the string the library's softmig_version() returns (both
// come from the Makefile), and exits 0.
type VersionFlag bool

// BeforeReset runs as soon as kong sees the flag, before any required
// argument is checked, as kong's own version flag does.
func (v VersionFlag) BeforeReset(app *kong.Kong) error {
	fmt.Fprintf(app.Stdout, "%s %s\n", app.Model.Name, defs.Version())
	app.Exit(0)
	return nil
}
