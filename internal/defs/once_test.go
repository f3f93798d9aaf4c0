// SPDX-License-Identifier: Apache-2.0

package defs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spelledElsewhere lists the files allowed to spell a trusted path in code:
// none. A file added here must say why, and the test fails once it no
// longer needs to.
var spelledElsewhere = map[string]bool{}

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
			t.Errorf("%s no longer spells a trusted path: remove it from spelledElsewhere", f)
		}
	}
}

// Every doc names the run directory the build uses, as defs.mk spells it:
// /var/run/softmig is the same directory on current distributions, but a
// reader who copies it into a site config must not have to know that.
func TestDocsNameTheBuiltRunDir(t *testing.T) {
	root, _ := filepath.Abs("../..")
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	man, _ := filepath.Glob(filepath.Join(root, "man", "*.[0-9]"))
	if len(docs) == 0 || len(man) == 0 {
		t.Fatalf("no docs (%d) or man pages (%d) found under %s", len(docs), len(man), root)
	}
	files := append(append(docs, man...), filepath.Join(root, "README.md"))
	if _, err := os.Stat(filepath.Join(root, "CONTRIBUTING.md")); err == nil {
		files = append(files, filepath.Join(root, "CONTRIBUTING.md"))
	}
	built := defaults["RUNDIR"]
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, "/var"+built) {
				t.Errorf("%s:%d names /var%s: write %s, the directory the build uses (internal/defs/defs.mk)", f, i+1, built, built)
			}
		}
	}
}
