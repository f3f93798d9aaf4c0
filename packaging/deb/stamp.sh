#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make deb: stamps the build into a copy of debian/: the maintainer (who
# builds the site's packages) into control, and a changelog with one entry
# for this build, which is what dpkg takes the version from.
# Usage: packaging/deb/stamp.sh DEBIAN_DIR VERSION 'NAME <EMAIL>'
set -eu
dir=$1 version=$2 maintainer=$3
release=${version%%+*} build=${version#*+}
sed -i "s|@MAINTAINER@|$maintainer|" "$dir/control"
cat >"$dir/changelog" <<END
softmig ($version) unstable; urgency=medium

  * SoftMig $release, build $build: the commits up to this build,
    the commit, and .dirty for uncommitted changes (packaging/build-id.sh).

 -- $maintainer  $(date -R)
END
