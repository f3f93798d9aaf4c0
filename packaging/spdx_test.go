// SPDX-License-Identifier: Apache-2.0

package packaging

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spdxTag is the licence line every source file carries (LICENSE: the
// Apache License 2.0), in the comment syntax of its language.
const spdxTag = "SPDX-License-Identifier: Apache-2.0"

// licensed says whether a file is source the licence line belongs in:
// code and scripts in the languages of the tree, not data or docs.
func licensed(rel string) bool {
	if strings.HasPrefix(rel, "testdata/") || strings.Contains(rel, "/testdata/") {
		return false
	}
	base := filepath.Base(rel)
	if base == "Makefile" || strings.HasSuffix(base, ".mk") {
		return true
	}
	switch filepath.Ext(base) {
	case ".go", ".c", ".h", ".S", ".cu", ".sh", ".py", ".lua":
		return true
	}
	return false
}

// Every source file names its licence in its first lines (after a #!),
// so that a file copied out of the tree still says what it may be used
// under (issue 22).
func TestEverySourceFileNamesItsLicence(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	seen := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			// Build outputs, and tool state in dot directories (.git, a
			// helper's carried files); .ci holds CI's own scripts.
			if rel == "build" || (strings.HasPrefix(d.Name(), ".") && rel != "." && d.Name() != ".ci") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !licensed(rel) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		seen++
		head := data
		if lines := bytes.SplitN(data, []byte("\n"), 6); len(lines) > 5 {
			head = bytes.Join(lines[:5], []byte("\n"))
		}
		if !bytes.Contains(head, []byte(spdxTag)) {
			missing = append(missing, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 100 {
		t.Fatalf("found %d source files under %s: the walk is wrong", seen, root)
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d source files do not say %q in their first lines (add it as a comment at the top, after any #! line):\n%s",
			len(missing), seen, spdxTag, strings.Join(missing, "\n"))
	}
}
