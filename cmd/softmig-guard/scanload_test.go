// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A process of a sliced job under the library with 20 000 mappings (a
// dataset of memory-mapped shards) is not an escape, whatever the CPU
// load on the node: another user keeps every core busy, so that the
// guard's reading of its mappings takes far longer on the clock than the
// work it is.
// Not parallel: it keeps the machine's cores busy for its few seconds.
func TestMapsReadUnderCPULoad(t *testing.T) {
	n := newNode(t, "SOFTMIG_SIM_CTX_MEMORY=1m")
	j := n.job(slicedConf + "SOFTMIG_UID=65534\n")
	g := n.guard()
	var burners []*exec.Cmd
	for i := 0; i < 3*runtime.NumCPU(); i++ {
		b := exec.Command("setpriv", fmt.Sprintf("--reuid=%d", attacker), fmt.Sprintf("--regid=%d", attacker), "--clear-groups", "/bin/sh", "-c", "while :; do :; done")
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		burners = append(burners, b)
	}
	defer func() {
		for _, b := range burners {
			b.Process.Kill()
			b.Wait()
		}
	}()
	var honest []*client
	for i := 0; i < 3; i++ {
		honest = append(honest, n.attack(j, "maps", "20000", "anon"))
	}
	time.Sleep(5 * time.Second)
	for _, c := range honest {
		if !c.alive() {
			t.Errorf("pid %d, under the library with 20 000 mappings, was killed:\n%s", c.pid(), g.output())
		}
	}
	t.Logf("over budget: %d", strings.Count(g.output(), "too large"))
}
