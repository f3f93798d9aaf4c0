// SPDX-License-Identifier: Apache-2.0

package siteconf

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	reUnknown = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	reType    = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")
	reLine    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

// syntax records a file that is not YAML: nothing can be read, vital.
func (p *parser) syntax(err error) {
	if m := reLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.vital(line, "YAML syntax: %s (check the indentation: spaces only, no tabs)", m[2])
		return
	}
	p.errs = append(p.errs, fmt.Errorf("%w: %s: %w", ErrInvalid, p.name, err))
}

// decodeErrors rewrites yaml.v3's decoding messages as "name:line: what;
// fix", vital or not by the section they are in.
func (p *parser) decodeErrors(err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		p.syntax(err)
		return
	}
	for _, e := range te.Errors {
		if m := reUnknown.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			s, ok := sections[m[3]]
			fix := "check the spelling and the indentation"
			if !ok || s.vital {
				p.vital(line, "unknown key %q; known keys here: %s (%s)", m[2], s.keys, fix)
			} else {
				p.warn(line, "unknown key %q, ignored; known keys here: %s (%s)", m[2], s.keys, fix)
			}
		} else if m := reType.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			what := "a mapping of keys"
			if strings.HasPrefix(m[4], "map[string]siteconf.fileGPU") {
				what = "a mapping of GPU types, e.g. \"gpus:\\n  l40s:\\n    shards: 4\""
			}
			found := map[string]string{"seq": "a list", "map": "a mapping", "str": "text"}[m[2]]
			if found == "" {
				found = "a value"
			}
			if m[3] != "" {
				found += fmt.Sprintf(" %q", m[3])
			}
			p.problem(m[4] != "siteconf.filePaths" && m[4] != "siteconf.fileMetrics", line, "found %s where %s is expected", found, what)
		} else if m := reLine.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			p.vital(line, "%s", m[2])
		} else {
			p.vital(0, "%s", e)
		}
	}
}
