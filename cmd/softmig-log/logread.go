// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/softmig/softmig/internal/logrec"
)

// readRecords calls add with each record of the log at path, in file
// order, and reports each skipped line on stderr (garbage, a fragment of
// an interleaved write, a partial last line). It returns the skipped lines.
func (e *env) readRecords(path string, add func(r logrec.Record, line int)) ([]skippedLine, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	skipped := []skippedLine{}
	r := logrec.NewReader(file)
	for {
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			return skipped, nil
		}
		if err != nil {
			return skipped, fmt.Errorf("%s: %w", path, err)
		}
		if it.Err != nil {
			reportBad(e.stderr, path, it)
			skipped = append(skipped, skippedLine{it.Line, it.Err.Error()})
			continue
		}
		add(it.Rec, it.Line)
	}
}
