// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/softmig/softmig/internal/cmdline"
	"github.com/softmig/softmig/internal/jobconf"
	"github.com/softmig/softmig/internal/siteconf"
)

// The --json forms of show and check, for scripts: the same verdicts and
// exit statuses as the text, as one JSON object on stdout.

type showJSON struct {
	Job    string          `json:"job"`
	Path   string          `json:"path"`
	Config *jobconf.Config `json:"config"`
}

// showJSON prints the job's config as the library reads it.
func (a *app) showJSON(id string) error {
	if err := checkJobID(id); err != nil {
		return err
	}
	path := confPath(a.dirs(), id)
	c, err := jobconf.Load(path)
	if err != nil {
		return a.show(id) // the text form's error, with its advice
	}
	return writeJSON(a.stdout, showJSON{Job: id, Path: path, Config: c})
}

type sliceJSON struct {
	Type    string `json:"type"`
	Gres    string `json:"gres"`               // what users submit
	Shards  int    `json:"shards"`             // shards of one GPU it takes
	Memory  uint64 `json:"memory,omitempty"`   // bytes; absent when NVML decides
	SMLimit int    `json:"sm_limit,omitempty"` // percent; absent without an SM policy
}

type checkJSON struct {
	Config   string      `json:"config"`
	OK       bool        `json:"ok"`
	Errors   []string    `json:"errors"`
	Warnings []string    `json:"warnings"`
	Slices   []sliceJSON `json:"slices"`
}

// checkJSON runs check with its text set aside, and prints its problems
// (each line check writes on stderr) and the slices the site offers.
func (a *app) checkJSON(c *checkCmd) error {
	var problems bytes.Buffer
	stdout, stderr := a.stdout, a.stderr
	a.stdout, a.stderr = io.Discard, &problems
	err := a.check(c)
	a.stdout, a.stderr = stdout, stderr
	out := checkJSON{Config: a.cli.Config, OK: err == nil, Errors: []string{}, Warnings: []string{}, Slices: []sliceJSON{}}
	var last *[]string
	for _, line := range strings.Split(strings.TrimRight(problems.String(), "\n"), "\n") {
		p, isNew := strings.CutPrefix(line, "softmig-conf: ")
		switch {
		case isNew && strings.HasPrefix(p, "error: "):
			out.Errors, last = append(out.Errors, strings.TrimPrefix(p, "error: ")), &out.Errors
		case isNew && strings.HasPrefix(p, "warning: "):
			out.Warnings, last = append(out.Warnings, strings.TrimPrefix(p, "warning: ")), &out.Warnings
		case last != nil && line != "": // a problem that spans lines
			(*last)[len(*last)-1] += "\n" + line
		}
	}
	if site, lerr := siteconf.Load(a.cli.Config); lerr == nil {
		out.Slices = offeredSlices(site)
	}
	if werr := writeJSON(a.stdout, out); werr != nil {
		return werr
	}
	if err != nil {
		return &cmdline.Exit{Code: 1}
	}
	return nil
}

func offeredSlices(site *siteconf.Config) []sliceJSON {
	slices := []sliceJSON{}
	for _, n := range sortedTypes(site) {
		g := site.GPUs[n]
		whole := sliceJSON{Type: n, Gres: "--gres=gpu:" + n + ":1", Shards: g.Shards, Memory: g.Memory}
		if site.Policy.SMLimit == siteconf.SMFraction {
			whole.SMLimit = 100
		}
		slices = append(slices, whole)
		for _, d := range g.Denominators {
			s := uint64(g.Shards / d)
			sl := sliceJSON{Type: n, Gres: "--gres=gpu:" + n + "." + strconv.Itoa(d) + ":1", Shards: int(s)}
			if g.Memory > 0 {
				sl.Memory = fraction(g.Memory, s, uint64(g.Shards))
			}
			if site.Policy.SMLimit == siteconf.SMFraction {
				sl.SMLimit = smPercent(s, uint64(g.Shards))
			}
			slices = append(slices, sl)
		}
	}
	return slices
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
