// SPDX-License-Identifier: Apache-2.0

// Command testsum runs `go test -json` and tells what happened: a line per
// package as it finishes ("ok   test/preload  53.1s  212 passed, 0 failed,
// 1 skipped"), after 15 s without output a line per package still running
// naming the tests that run at that moment (so a long package is never
// silent), the output of each failed test, every skipped test with its
// reason, and, alone on the last line, "N passed, N failed, N skipped".  It exits 1 when a test or a package
// failed, and with go test's own status when go test failed otherwise.
//
// Usage: go run ./internal/testsum go test -json -count=1 ./...
package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "testsum: usage: testsum go test -json [flags] [packages]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsum: cannot run %v: %v\n", os.Args[1:], err)
		os.Exit(2)
	}
	s := newSummary(os.Stdout, 15*time.Second)
	s.read(out)
	runErr := cmd.Wait()
	s.finish()
	switch {
	case s.failed > 0:
		os.Exit(1)
	case runErr != nil:
		fmt.Fprintf(os.Stderr, "testsum: %v failed: %v\n", os.Args[1:], runErr)
		os.Exit(1)
	}
}
