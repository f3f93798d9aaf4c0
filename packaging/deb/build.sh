#!/bin/sh
# make deb: a .deb from a staged install (make install DESTDIR=STAGE
# PREFIX=/usr), with dpkg-deb.  Files under etc/ are conffiles; md5sums make
# `dpkg --verify` work.
# Usage: packaging/deb/build.sh STAGE VERSION OUT.deb
set -eu
stage=$1 version=$2 out=$3
here=$(dirname "$0")
rm -f "$stage/var/lib/softmig/install.manifest" # dpkg owns these files
mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$(dpkg --print-architecture)/" -e "s/@SIZE@/$size/" \
	"$here/control" >"$stage/DEBIAN/control"
(cd "$stage" && find etc -type f | sort | sed 's|^|/|') >"$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print | sort |
	sed 's|^\./||' | xargs md5sum) >"$stage/DEBIAN/md5sums"
install -m 0755 "$here/postinst" "$here/prerm" "$stage/DEBIAN/"
dpkg-deb --root-owner-group -Zgzip --build "$stage" "$out"
