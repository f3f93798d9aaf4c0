// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/softmig/softmig/internal/testutil"
)

// TestManPageListsEveryFlag keeps man/softmig-install.8 in step with the
// command line: every visible command and flag is documented.
func TestManPageListsEveryFlag(t *testing.T) {
	page, err := os.ReadFile(testutil.Path(t, "man/softmig-install.8"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(page), `\-`, "-")
	var c cli
	parser, err := kong.New(&c)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		if n.Hidden {
			return
		}
		if n.Type == kong.CommandNode && !strings.Contains(text, "softmig-install "+n.Name) {
			t.Errorf("man page lacks the command %q", n.Name)
		}
		for _, f := range n.Flags {
			if f.Name != "help" && !strings.Contains(text, "--"+f.Name) {
				t.Errorf("man page lacks the flag --%s", f.Name)
			}
		}
		for _, ch := range n.Children {
			walk(ch)
		}
	}
	walk(parser.Model.Node)
}
