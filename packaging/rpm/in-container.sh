#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make rpm-el8, make rpm-el9: builds the RPM from the source tarball inside
# a container of that EL major version (podman, else docker), so that it
# links against that distribution's glibc; the packages land in OUT.  The
# container needs its distribution's package mirrors (dnf); the Go modules
# come vendored in the tarball.
# Usage: packaging/rpm/in-container.sh IMAGE TARBALL OUT
set -eu
image=$1 tarball=$2 out=$3
engine=$(command -v podman || command -v docker || true)
[ -n "$engine" ] || { echo "in-container.sh: neither podman nor docker here: build on an EL host with make rpm" >&2; exit 1; }
mkdir -p "$out"
src=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
out=$(cd "$out" && pwd)
# EL8.10 and EL9 AppStream ship Go >= 1.22 as golang.
exec "$engine" run --rm -v "$src:/src.tar.gz:ro,Z" -v "$out:/out:Z" "$image" sh -euc '
	dnf -y -q install golang gcc make rpm-build systemd-rpm-macros tar gzip >/dev/null 2>&1 ||
		dnf -y -q install golang gcc make rpm-build systemd tar gzip
	mkdir -p /build && tar -C /build -xzf /src.tar.gz && cd /build/softmig-*
	make rpm PKG_OUT=/out
'
