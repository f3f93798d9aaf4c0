// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
)

// nvidia-smi's option syntax is its own: short options with values
// (-i 0, -l 5), -l with an optional value, the two-letter -lms, and
// long options with "=" or a space. normalize turns the options
// softmig-smi implements into kong's --long=value form; anything else
// makes it hand the command line to the real nvidia-smi unchanged.

type optSpec struct {
	long     string
	value    bool   // takes a value
	optional string // default when the value is omitted ("" : required)
}

var nvOpts = map[string]optSpec{
	"-L": {long: "list-gpus"}, "--list-gpus": {long: "list-gpus"},
	"-i": {long: "id", value: true}, "--id": {long: "id", value: true},
	"-l": {long: "loop", value: true, optional: "5"}, "--loop": {long: "loop", value: true, optional: "5"},
	"-lms": {long: "loop-ms", value: true}, "--loop-ms": {long: "loop-ms", value: true},
	"-q": {long: "query"}, "--query": {long: "query"},
	"-d": {long: "display", value: true}, "--display": {long: "display", value: true},
	"--query-gpu":          {long: "query-gpu", value: true},
	"--query-compute-apps": {long: "query-compute-apps", value: true},
	"--format":             {long: "format", value: true},
	"-f":                   {long: "filename", value: true}, "--filename": {long: "filename", value: true},
	"-h": {long: "help"}, "--help": {long: "help"},
}

// softmig-smi's own options; they are removed before the real nvidia-smi runs.
var ownOpts = map[string]optSpec{
	"--real":        {long: "real", value: true},
	"--softmig-dir": {long: "softmig-dir", value: true},
	"--config":      {long: "config", value: true},
	"--slices":      {long: "slices"},
	// The bash completion script of this tool (cmdline.CompletionArg).
	"--completion-bash": {long: "completion-bash"},
}

// normalize returns kong's arguments, the arguments for the real
// nvidia-smi (ours removed), and whether softmig-smi implements them all.
func normalize(args []string) (kongArgs, realArgs []string, ok bool) {
	ok = true
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := a, "", false
		if strings.HasPrefix(a, "-") {
			if n, v, found := strings.Cut(a, "="); found {
				name, val, hasVal = n, v, true
			}
		}
		spec, own := ownOpts[name]
		if !own {
			var known bool
			spec, known = nvOpts[name]
			if !known {
				ok = false
				realArgs = append(realArgs, a)
				continue
			}
		}
		start := i
		if spec.value && !hasVal {
			switch {
			case spec.optional != "" && (i+1 >= len(args) || !isNumber(args[i+1])):
				val = spec.optional
			case i+1 < len(args):
				i++
				val = args[i]
			default:
				ok = false // a missing value: the real nvidia-smi says so
				if !own {
					realArgs = append(realArgs, a)
				}
				continue
			}
		}
		if spec.value {
			kongArgs = append(kongArgs, "--"+spec.long+"="+val)
		} else {
			if hasVal {
				ok = false
			}
			kongArgs = append(kongArgs, "--"+spec.long)
		}
		if !own {
			realArgs = append(realArgs, args[start:i+1]...)
		}
	}
	return kongArgs, realArgs, ok
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
