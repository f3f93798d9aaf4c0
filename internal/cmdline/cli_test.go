package cmdline

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

type grammar struct {
	Name string `help:"A name." required:""`
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
	if err == nil || parser == nil || errors.As(err, &ex) {
		t.Fatalf("Parse(--bogus) = %v, %v; want a parse error and the parser", parser, err)
	}
}
