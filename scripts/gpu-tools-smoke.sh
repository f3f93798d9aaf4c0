#!/bin/bash
# The Go tools on the GPU machine, against the real driver: softmig-install
# into a scratch root (install, verify, hot-swap update, uninstall), and
# softmig-log reading a log the library wrote there.  Usage:
#   scripts/gpu-tools-smoke.sh [LOGFILE]
set -u
cd "$(dirname "$0")/.."
B=$PWD/build R=$(mktemp -d)
chmod 755 "$R"
PASS=0 FAIL=0
check() { local n=$1; shift; if "$@" > "$R.out" 2>&1; then PASS=$((PASS + 1)); echo "PASS $n"; else FAIL=$((FAIL + 1)); echo "FAIL $n"; sed 's/^/    /' "$R.out" | tail -15; fi; }
check "softmig-install install --root" "$B/bin/softmig-install" --root "$R" install --from "$B"
check "softmig-install verify --root" "$B/bin/softmig-install" --root "$R" verify
check "softmig-install update (hot swap, tried in a private namespace)" "$B/bin/softmig-install" --root "$R" update "$B/libsoftmig.so"
check "softmig-install uninstall" "$B/bin/softmig-install" --root "$R" uninstall
check "uninstall left the root empty" test -z "$(find "$R" -mindepth 1 -not -type d)"
if [ -n "${1:-}" ] && [ -s "$1" ]; then
	check "softmig-log reads the library's log" "$B/bin/softmig-log" summary "$1"
	"$B/bin/softmig-log" summary "$1" | head -20
	check "softmig-log: no skipped lines" sh -c "! '$B/bin/softmig-log' show '$1' 2>&1 | grep -qi skipped"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
