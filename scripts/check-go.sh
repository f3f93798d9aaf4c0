#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Refuses a Go older than the floor the tools build with (go.mod), with the
# way to get a newer one on each distribution, before `go build` fails on a
# dependency with a message that names the dependency and not the floor.
# Usage: scripts/check-go.sh GO FLOOR     (make tools runs it)
go=$1 floor=$2
if ! v=$("$go" env GOVERSION 2>/dev/null); then
	printf 'Go %s or newer builds the SoftMig tools, and "%s" is not a Go command.\n' "$floor" "$go" >&2
	v=
fi
# go1.22.12, go1.23rc1, devel ...; a floor of 1.22 or 1.22.0 (go.mod's go
# line): compare major.minor only.
mm() { printf '%s\n' "$1" | sed -n 's/^\(go\)\{0,1\}\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\2 \3/p'; }
set -- $(mm "$v") $(mm "$floor")
if [ $# -eq 4 ] && { [ "$1" -gt "$3" ] || { [ "$1" -eq "$3" ] && [ "$2" -ge "$4" ]; }; }; then
	exit 0
fi
case $v in devel*) exit 0 ;; esac
[ -z "$v" ] || printf 'Go %s or newer builds the SoftMig tools; %s is %s.\n' "$floor" "$(command -v "$go" || echo "$go")" "$v" >&2
cat >&2 <<EOF
Get Go $floor or newer, then run make again (make GO=/path/to/go if it is not first in PATH):
  Debian 12:          apt-get install -t bookworm-backports golang-go   (Go 1.23; or golang-1.22-go: make GO=/usr/lib/go-1.22/bin/go)
  Ubuntu 24.04:       apt-get install golang-go
  EL8.10, EL9.5+:     dnf install golang   (AppStream)
  any distribution:   the tarball from https://go.dev/dl, or any Go >= 1.21 with GOTOOLCHAIN=auto,
                      which fetches go$floor through the module proxy (go.mod's go line)
EOF
exit 1
