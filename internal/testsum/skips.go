// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"strings"
)

// Skipped tests: each with its reason, one line per package and reason.

type skip struct{ pkg, test, reason string }

// groupSkips gives one line per package and reason, naming its tests, so ten
// tests skipped for want of Slurm read as one line.
func groupSkips(skips []skip) []string {
	var order []string
	tests := map[string][]string{}
	for _, sk := range skips {
		key := sk.pkg + ": " + sk.reason
		if tests[key] == nil {
			order = append(order, key)
		}
		tests[key] = append(tests[key], sk.test)
	}
	lines := make([]string, len(order))
	for i, key := range order {
		pkg, reason, _ := strings.Cut(key, ": ")
		lines[i] = fmt.Sprintf("%s %s: %s", pkg, strings.Join(tests[key], ", "), reason)
	}
	return lines
}

// testLines drops go test's own framing lines from a test's output.
func testLines(out []string) []string {
	var keep []string
	for _, l := range out {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		keep = append(keep, l)
	}
	return keep
}

// skipReason is the last line the test logged (t.Skip's message), without
// its file:line prefix.
func skipReason(out []string) string {
	lines := testLines(out)
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if i := strings.Index(l, ".go:"); i >= 0 && !strings.Contains(l[:i], " ") {
			if j := strings.Index(l[i:], ": "); j >= 0 {
				l = l[i+j+2:]
			}
		}
		return l
	}
	return "(no reason given)"
}
