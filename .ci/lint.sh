#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Lint the Go code with the linters the project chose (.golangci.yml).
# golangci-lint is built from source through the module proxy with the Go
# that CI runs (a prebuilt binary may not read the newest Go's standard
# library); v2.15 reads code with a go.mod floor of Go 1.22 as well.
set -euo pipefail
cd "$(dirname "$0")/.."

GOLANGCI_LINT_VERSION=v2.15.0
bin="$(go env GOPATH)/bin/golangci-lint"
if ! "$bin" version 2>/dev/null | grep -q "version ${GOLANGCI_LINT_VERSION#v} "; then
    go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${GOLANGCI_LINT_VERSION}"
fi
"$bin" run ./...
