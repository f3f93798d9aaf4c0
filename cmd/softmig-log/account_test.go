// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"strings"
	"testing"
)

// The summary line is what sacctmgr stores unchanged: lower case, no
// quotes, no backslash.
func TestCommentLine(t *testing.T) {
	host, _ := os.Hostname()
	host = strings.ToLower(strings.SplitN(host, ".", 2)[0])
	for _, tc := range []struct{ job, want string }{
		{"12345", "softmig on " + host + " (from the job log): dev 0 peak 9.1g of 12g (76%), share 25% throttled 2m30.3s, 0 oom refused, 0 killed, ask gpu:l40s.4:1"},
		{"23456", "softmig on " + host + " (from the job log): dev 0 peak 11g of 12g (92%), share 25% throttled 900ms, 14 oom refused, 1 killed, ask gpu:l40s.2:1"},
	} {
		out, _, err := runT(t, "--dir", logs, "--config", site, "account", "--print", tc.job)
		if err != nil {
			t.Fatalf("account --print %s: %v", tc.job, err)
		}
		got := strings.TrimSuffix(out, "\n")
		if got != tc.want {
			t.Errorf("account --print %s = %q\nwant %q", tc.job, got, tc.want)
		}
		if got != strings.ToLower(got) || strings.ContainsAny(got, "'\"\\|") {
			t.Errorf("summary %q has what sacctmgr or sacct -P would change", got)
		}
	}
}

func TestAppendComment(t *testing.T) {
	const line = "softmig (from the job log): dev 0 peak 1g of 12g (8%)"
	for _, tc := range []struct {
		name, old  string
		lowercases bool
		want, why  string
	}{
		{"empty", "", true, line, ""},
		{"site text", "site: project 42", true, "site: project 42; " + line, ""},
		{"stored already", "site; " + line, true, "site; " + line, ""},
		{"capitals, new sacctmgr", "Project 42", false, "Project 42; " + line, ""},
		{"capitals, old sacctmgr", "Project 42", true, "", "holds capitals"},
		{"quote", "it's", false, "", "quote or a backslash"},
		{"backslash", `a\b`, false, "", "quote or a backslash"},
		{"at the limit", strings.Repeat("x", MaxAdminComment-len(line)-2), true, strings.Repeat("x", MaxAdminComment-len(line)-2) + "; " + line, ""},
		{"past the limit", strings.Repeat("x", MaxAdminComment-len(line)-1), true, "", "would pass the 65535 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := appendComment(tc.old, line, tc.lowercases)
			if got != tc.want || !strings.Contains(why, tc.why) || (tc.why == "") != (why == "") {
				t.Errorf("appendComment = %.60q, %q; want %.60q, %q", got, why, tc.want, tc.why)
			}
		})
	}
}

// Without a log, account says so and stores nothing; a job without GPU
// use stores nothing either.
func TestAccountNoLog(t *testing.T) {
	if _, _, err := runT(t, "--dir", logs, "account", "99999"); err == nil || !strings.Contains(err.Error(), "no log for job 99999") {
		t.Errorf("account without a log = %v; want the reason", err)
	}
	_, stderr, err := runT(t, "--dir", logs, "account", "--sacct", "/nonexistent", "200_7")
	if err != nil || !strings.Contains(stderr, "nothing to store") {
		t.Errorf("account of a job without GPU use = %v, %q; want nothing done, and said", err, stderr)
	}
}
