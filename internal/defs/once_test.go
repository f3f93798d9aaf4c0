package defs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spelledElsewhere lists the files that still spell a trusted path in code
// (the prolog/epilog, softmig-conf, softmig-smi and siteconf read it from
// the site config today; issue 11 moves them to defs). Remove a line when
// its file reads defs (the test says so).
var spelledElsewhere = map[string]bool{
	"slurm/prolog.sh":               true,
	"slurm/epilog.sh":               true,
	"cmd/softmig-smi/smi.go":        true,
	"internal/siteconf/siteconf.go": true,
}

// The run and log directories are spelled once, in defs.mk: code (not
// comments, tests or docs) in Go, C, shell and Lua reads them from defs
// (Go), SM_RUN_DIR/SM_LOG_DIR (C) or the tools.
func TestPathsSpelledOnce(t *testing.T) {
	root, _ := filepath.Abs("../..")
	paths := []string{"/var/run/softmig", "/run/softmig", "/var/log/softmig"}
	found := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == "build" || rel == "testdata" || rel == "docs" || rel == "man" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(p)
		if strings.HasSuffix(p, "_test.go") || (ext != ".go" && ext != ".c" && ext != ".h" && ext != ".sh" && ext != ".lua") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			code := strings.TrimSpace(line)
			if i := strings.Index(code, " //"); i >= 0 && ext != ".sh" {
				code = code[:i]
			}
			if strings.HasPrefix(code, "//") || strings.HasPrefix(code, "#") || strings.HasPrefix(code, "*") ||
				strings.HasPrefix(code, "/*") || strings.HasPrefix(code, "--") {
				continue
			}
			for _, path := range paths {
				if strings.Contains(code, path) {
					found[rel] = true
					if !spelledElsewhere[rel] {
						t.Errorf("%s:%d spells %s: read it from internal/defs (Go), SM_RUN_DIR/SM_LOG_DIR (C) or a tool", rel, i+1, path)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for f := range spelledElsewhere {
		if !found[f] {
			t.Logf("%s no longer spells a trusted path: remove it from spelledElsewhere", f)
		}
	}
}
