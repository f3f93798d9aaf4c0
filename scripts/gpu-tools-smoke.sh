#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
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
# verify checks the node's Slurm too: the admin guide's setup, from the
# examples install put in PREFIX/share/doc (node gpu01 of the 4-shards one).
ex=$R/usr/local/share/doc/softmig/examples/slurm
mkdir -p "$R/etc/slurm"
{ cat "$ex/4-shards/slurm.conf"; echo "NodeName=gpu[01-04] CPUs=8 Gres=gpu:l40s:4,shard:l40s:16"; } > "$R/etc/slurm/slurm.conf"
cp "$ex/4-shards/gres.conf" "$R/etc/slurm/gres.conf"
install -m 755 "$ex/site-prolog.sh" "$R/etc/slurm/prolog.sh"
install -m 755 "$ex/site-epilog.sh" "$R/etc/slurm/epilog.sh"
cp "$ex/site-job_submit.lua" "$R/etc/slurm/job_submit.lua"
cp "$ex/site-cli_filter.lua" "$R/etc/slurm/cli_filter.lua"
sed -i 's|/usr/share/softmig|/usr/local/share/softmig|' "$R/etc/slurm/prolog.sh" "$R/etc/slurm/epilog.sh"
"$B/bin/softmig-conf" --config "$R/etc/softmig/softmig.yaml" gres-lua > "$R/etc/slurm/softmig_types.lua"
check "softmig-install verify --root" env SLURM_CONF= "$B/bin/softmig-install" --root "$R" verify --node gpu01 --prefix /usr/local
rm -r "$R/etc/slurm"
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
