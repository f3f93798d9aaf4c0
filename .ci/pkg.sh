#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What the packaging tests (packaging/) need on a fresh Debian 12, beyond
# .ci/run's: debhelper for make deb, lintian and rpmlint for the lint
# tests, file for the strip checks, git for the version tests, and Debian
# 12's own Go 1.19 (golang-1.19-go), which make must refuse with the floor.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends \
    debhelper dpkg-dev pkgconf lintian rpmlint file git golang-1.19-go >/dev/null
