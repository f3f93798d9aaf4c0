// SPDX-License-Identifier: Apache-2.0

package cmdline

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/softmig/softmig/internal/defs"
)

type grammar struct {
	Name    string      `help:"A name." required:""`
	Version VersionFlag `help:"Print the version."`
}

func TestParse(t *testing.T) {
	var g grammar
	var out, errb bytes.Buffer
	ctx, _, err := Parse(&g, []string{"--name", "x"}, &out, &errb, kong.Name("t"))
	if err != nil || ctx == nil || g.Name != "x" {
		t.Fatalf("Parse(--name x) = %v, %v, name %q", ctx, err, g.Name)
	}
	_, _, err = Parse(&grammar{}, []string{"--help"}, &out, &errb, kong.Name("t"))
	var ex *Exit
	if !errors.As(err, &ex) || ex.Code != 0 || !strings.Contains(out.String(), "A name.") {
		t.Fatalf("Parse(--help) = %v, output %q; want exit 0 and the help", err, out.String())
	}
	_, parser, err := Parse(&grammar{}, []string{"--bogus"}, &out, &errb, kong.Name("t"))
	var usage *UsageError
	if err == nil || parser == nil || errors.As(err, &ex) || !errors.As(err, &usage) {
		t.Fatalf("Parse(--bogus) = %v, %v; want a *UsageError and the parser", parser, err)
	}
	out.Reset()
	_, _, err = Parse(&grammar{}, []string{"--version"}, &out, &errb, kong.Name("t"))
	if !errors.As(err, &ex) || ex.Code != 0 || out.String() != "t "+defs.Version()+"\n" {
		t.Fatalf("Parse(--version) = %v, output %q; want exit 0 and \"t %s\" (no --name needed)", err, out.String(), defs.Version())
	}
}

type withCommands struct {
	Config string                `help:"Config."`
	Write  struct{ DryRun bool } `cmd:"" help:"Write."`
	Show   struct{}              `cmd:"" help:"Show."`
}

// The completion script completes commands, then each command's flags, in
// a real bash.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash here")
	}
	var out, errb bytes.Buffer
	_, _, err = Parse(&withCommands{}, []string{CompletionArg}, &out, &errb, kong.Name("my-tool"))
	var ex *Exit
	if !errors.As(err, &ex) || ex.Code != 0 {
		t.Fatalf("Parse(%s) = %v, want exit 0", CompletionArg, err)
	}
	for _, tt := range []struct{ words, want string }{
		{"my-tool wr", "write"},
		{"my-tool write --dr", "--dry-run"},
		{"my-tool show --c", "--config"},
		{"my-tool show --dr", ""},
	} {
		w := strings.Fields(tt.words)
		script := out.String() + fmt.Sprintf("\nCOMP_WORDS=(%s); COMP_CWORD=%d; _my_tool; echo \"${COMPREPLY[*]}\"\n", tt.words, len(w)-1)
		got, err := exec.Command(bash, "-c", script).Output()
		if err != nil || strings.TrimSpace(string(got)) != tt.want {
			t.Errorf("completing %q = %q, %v; want %q", tt.words, got, err, tt.want)
		}
	}
}
