#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Prints the build id that follows the release (VERSION) in SoftMig's
# version, 0.9.0+<build id>: the number of commits up to HEAD, which grows
# with every commit so that rpm and dpkg order a newer build above an older
# one, then the commit (.g<hash>) and .dirty for uncommitted changes, e.g.
# 834.g86606a2.  A release tarball (make dist) has no git: its BUILD_ID
# file holds the id it was made with.  Where neither tells, the build number
# is 0 (below every real build), and `make dist/rpm/deb` refuse it.
# Usage: packaging/build-id.sh [SOURCE_DIR]   (default: the current directory)
cd "${1:-.}" || exit 1
top=$(git rev-parse --show-toplevel 2>/dev/null)
if [ -n "$top" ] && [ "$(cd "$top" && pwd -P)" = "$(pwd -P)" ]; then
	if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
		# A shallow clone counts only the commits it has.
		printf '0.shallow.g%s\n' "$(git rev-parse --short=7 HEAD)"
		exit 0
	fi
	dirty=
	git diff --quiet HEAD -- 2>/dev/null || dirty=.dirty
	printf '%s.g%s%s\n' "$(git rev-list --count HEAD)" "$(git rev-parse --short=7 HEAD)" "$dirty"
elif [ -f BUILD_ID ]; then
	cat BUILD_ID
else
	echo 0.unknown
fi
