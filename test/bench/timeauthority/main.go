// SPDX-License-Identifier: Apache-2.0

// Command timeauthority stands in for the node's time authority in `make
// bench`: it writes the time file of one GPU (internal/timefile, as
// softmig-guard does) with one job's gate open, prints "ready", beats until
// its standard input closes, and removes the file.
//
//	timeauthority GPU-UUID JOB
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/softmig/softmig/internal/defs"
	"github.com/softmig/softmig/internal/timefile"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "timeauthority:", err)
		os.Exit(1)
	}
}

func run(args []string) (err error) {
	if len(args) != 2 {
		return fmt.Errorf("usage: timeauthority GPU-UUID JOB")
	}
	path, err := timefile.Path(defs.RunDir(), args[0])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(defs.RunDir(), 0o755); err != nil {
		return err
	}
	now := time.Now()
	f, err := timefile.Create(path, timefile.Cap, time.Second, now)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer func() { err = errors.Join(err, f.Close()) }()
	i, err := f.Assign(args[1], 50, now.Add(timefile.Reuse))
	if err != nil {
		return err
	}
	f.SetGate(i, 0, time.Time{})
	eof := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, os.Stdin)
		eof <- err
	}()
	fmt.Println("ready")
	tick := time.NewTicker(timefile.Beat)
	defer tick.Stop()
	for {
		f.Beat(time.Now())
		select {
		case err := <-eof:
			return err
		case <-tick.C:
		}
	}
}
