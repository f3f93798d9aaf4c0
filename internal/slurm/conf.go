// SPDX-License-Identifier: Apache-2.0

package slurm

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Conf is slurm.conf as SoftMig reads it: the global settings (keys are
// case-insensitive, the last one wins, as in Slurm) and the NodeName
// lines, with the files they came from (Include'd files count).
type Conf struct {
	Path     string
	Files    []string           // Path and the files it includes, in reading order
	settings map[string]Setting // lower-case key
	nodes    []Setting          // one per NodeName line; Value is the whole line
}

// Setting is one key=value of slurm.conf and where it is.
type Setting struct {
	Key, Value string
	File       string
	Line       int
}

// String is the setting as slurm.conf has it, with its place.
func (s Setting) String() string {
	return fmt.Sprintf("%s:%d: %s=%s", s.File, s.Line, s.Key, s.Value)
}

// Get returns the global setting key (case-insensitive).
func (c *Conf) Get(key string) (Setting, bool) {
	s, ok := c.settings[strings.ToLower(key)]
	return s, ok
}

// maxIncludeDepth bounds Include chains (a file including itself).
const maxIncludeDepth = 8

// ReadConf reads slurm.conf at path and the files it includes (Include
// PATH; a relative PATH is relative to path's directory, as slurmd reads it).
func ReadConf(path string) (*Conf, error) {
	c := &Conf{Path: path, settings: map[string]Setting{}}
	return c, c.read(path, 0)
}

func (c *Conf) read(path string, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("%s: Include nested more than %d deep", path, maxIncludeDepth)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c.Files = append(c.Files, path)
	return c.parse(f, path, depth)
}

// ParseConf reads slurm.conf text; name is used in settings' File. An
// Include is read relative to name's directory.
func ParseConf(r io.Reader, name string) (*Conf, error) {
	c := &Conf{Path: name, Files: []string{name}, settings: map[string]Setting{}}
	return c, c.parse(r, name, 0)
}

func (c *Conf) parse(r io.Reader, name string, depth int) error {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; s.Scan(); n++ {
		line, _, _ := strings.Cut(s.Text(), "#")
		fields := splitFields(line)
		if len(fields) == 0 {
			continue
		}
		if strings.EqualFold(fields[0], "include") && len(fields) == 2 {
			inc := fields[1]
			if !filepath.IsAbs(inc) {
				inc = filepath.Join(filepath.Dir(name), inc)
			}
			matches, _ := filepath.Glob(inc)
			for _, m := range matches {
				if err := c.read(m, depth+1); err != nil {
					return fmt.Errorf("%s:%d: Include %s: %w", name, n, fields[1], err)
				}
			}
			continue
		}
		k, v, _ := strings.Cut(fields[0], "=")
		switch strings.ToLower(k) {
		case "nodename":
			rest := strings.Join(append([]string{v}, fields[1:]...), " ")
			c.nodes = append(c.nodes, Setting{Key: k, Value: rest, File: name, Line: n})
			continue
		case "partitionname", "nodeset", "frontendname", "downnodes", "switchname":
			continue // lines about other things than this node's settings
		}
		for _, f := range fields {
			k, v, ok := strings.Cut(f, "=")
			if ok {
				c.settings[strings.ToLower(k)] = Setting{Key: k, Value: strings.Trim(v, `"`), File: name, Line: n}
			}
		}
	}
	return s.Err()
}

// splitFields splits a line at blanks, keeping a "quoted value" whole.
func splitFields(line string) []string {
	var out []string
	var b strings.Builder
	quoted := false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
			b.WriteRune(r)
		case !quoted && (r == ' ' || r == '\t'):
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// Node returns the settings of node name, keys in lower case: its
// NodeName line (hostlists expanded) over the NodeName=DEFAULT lines
// before it, as Slurm applies them; line is the line that names the node,
// and ok is false when none does.
func (c *Conf) Node(name string) (settings map[string]string, line Setting, ok bool) {
	defaults := map[string]string{}
	for _, l := range c.nodes {
		fields := splitFields(l.Value)
		kv := map[string]string{}
		for _, f := range fields[1:] {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[strings.ToLower(k)] = strings.Trim(v, `"`)
			}
		}
		if strings.EqualFold(fields[0], "DEFAULT") {
			for k, v := range kv {
				defaults[k] = v
			}
			continue
		}
		hosts, err := ExpandHostlist(fields[0])
		if err != nil {
			continue
		}
		for _, h := range hosts {
			if h != name {
				continue
			}
			settings = map[string]string{}
			for k, v := range defaults {
				settings[k] = v
			}
			for k, v := range kv {
				settings[k] = v
			}
			line, ok = l, true
		}
	}
	return settings, line, ok
}
