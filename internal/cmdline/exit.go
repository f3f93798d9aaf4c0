// SPDX-License-Identifier: Apache-2.0

package cmdline

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Exit ends a tool with status Code: an exit kong asked for (0 after
// --help), or a command's own status. Msg is printed on stderr as it is
// ("" prints nothing: kong or the command has said it all); Err is the
// cause, for errors.Is and errors.As, and is not printed.
type Exit struct {
	Code int
	Msg  string
	Err  error
}

func (e *Exit) Error() string {
	switch {
	case e.Msg != "":
		return e.Msg
	case e.Err != nil:
		return e.Err.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func (e *Exit) Unwrap() error { return e.Err }

// UsageExit is the exit status of every tool on a usage error.
const UsageExit = 2

// UsageError is a command line kong could not parse; tools exit UsageExit.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Main is every tool's main: it runs the tool on the process's arguments
// and ends the process with the status Status gives.
func Main(tool string, run func(args []string, stdout, stderr io.Writer) error) {
	os.Exit(Status(tool, run(os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// Status is the exit status of a tool's run that returned err, after
// saying on stderr what is left to say: 0 for nil; an *Exit's Code (and
// its Msg); UsageExit for a *UsageError, named with the way to the help;
// 1 for any other error, printed as "<tool>: <err>".
func Status(tool string, err error, stderr io.Writer) int {
	var ex *Exit
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ex):
		if ex.Msg != "" {
			fmt.Fprintln(stderr, ex.Msg)
		}
		return ex.Code
	case errors.As(err, new(*UsageError)):
		fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", tool, err, tool)
		return UsageExit
	}
	fmt.Fprintf(stderr, "%s: %v\n", tool, err)
	return 1
}
