// SPDX-License-Identifier: Apache-2.0

// Package cmdline parses a kong command line inside a function: --help and
// other kong exits come back as an *Exit error instead of ending the
// process, so each tool's run(args, stdout, stderr) error stays testable.
package cmdline

import (
	"io"

	"github.com/alecthomas/kong"
)

type exitPanic int

// Parse builds a parser for grammar that writes to stdout and stderr, with
// the options given, and parses args.  A kong exit returns a nil context
// and an *Exit; a parse error returns the parser (for its Errorf) and a
// *UsageError.
func Parse(grammar any, args []string, stdout, stderr io.Writer, opts ...kong.Option) (ctx *kong.Context, parser *kong.Kong, err error) {
	defer func() {
		if r := recover(); r != nil {
			code, ok := r.(exitPanic)
			if !ok {
				panic(r)
			}
			ctx, err = nil, &Exit{Code: int(code)}
		}
	}()
	all := append([]kong.Option{
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitPanic(code)) }),
	}, opts...)
	if parser, err = kong.New(grammar, all...); err != nil {
		return nil, nil, err
	}
	if len(args) == 1 && args[0] == CompletionArg {
		writeBashCompletion(stdout, parser)
		return nil, parser, &Exit{Code: 0}
	}
	if ctx, err = parser.Parse(args); err != nil {
		err = &UsageError{Err: err}
	}
	return ctx, parser, err
}
