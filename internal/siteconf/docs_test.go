// SPDX-License-Identifier: Apache-2.0

package siteconf

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every site config key the README or a man page names is one the schema
// knows: a documented key never draws "unknown key".
func TestDocumentedKeysAreKnown(t *testing.T) {
	known := map[string]bool{"paths.run_dir": true, "paths.region_dir": true, "paths.log_dir": true} // known, and refused
	for section, name := range map[string]string{"policy": "siteconf.filePolicy", "paths": "siteconf.filePaths", "gpus.*": "siteconf.fileGPU", "partitions.*": "siteconf.filePartition",
		"smi": "siteconf.fileSMI", "metrics": "siteconf.fileMetrics"} {
		for _, k := range strings.Split(sections[name].keys, ", ") {
			known[section+"."+k] = true
		}
	}
	files, _ := filepath.Glob("../../man/*.[158]")
	files = append(files, "../../README.md", "../../docs/contracts.md", "../../slurm/softmig.yaml")
	re := regexp.MustCompile(`(?:^|[^A-Za-z0-9_.-])(paths|policy|smi|metrics)\.([a-z_]+)|\b(gpus|partitions)\.[A-Za-z0-9_<>-]+\.([a-z_]+)`)
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(strings.ReplaceAll(string(data), `\-`, "-"), -1) {
			key := m[1] + "." + m[2]
			if m[4] != "" {
				key = m[3] + ".*." + m[4]
			}
			n++
			if !known[key] {
				t.Errorf("%s names %q, which the schema does not know", f, m[0])
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d key mentions found: is the pattern right?", n)
	}
}
