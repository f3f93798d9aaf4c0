// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"os/exec"
	"sync"
	"time"
)

// notifier tells a job what happened through `scontrol notify`, in the
// background with a timeout: a slow slurmctld never delays a round.
type notifier struct {
	log      *logger
	scontrol string // "" when Slurm's scontrol is not installed
	timeout  time.Duration
	wg       sync.WaitGroup
}

func newNotifier(log *logger) *notifier {
	path, _ := exec.LookPath("scontrol")
	return &notifier{log: log, scontrol: path, timeout: 10 * time.Second}
}

func (n *notifier) send(job, msg string) {
	if n.scontrol == "" {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, n.scontrol, "notify", job, msg).CombinedOutput()
		if err != nil {
			n.log.errorf("notify", "scontrol notify %s: %v: %s", job, err, out)
		}
	}()
}

// wait lets pending notifications finish, up to d.
func (n *notifier) wait(d time.Duration) {
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
