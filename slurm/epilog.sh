#!/bin/sh
# SoftMig Slurm Epilog, run by the site's Epilog where it exists
# (examples/site-epilog.sh), or named by slurm.conf itself.
# slurmd runs it as root on the compute node after each job. It removes the
# job's config and shared region with `softmig-conf remove` (idempotent).
# It always exits 0: a failing epilog drains the node.
#
# Settings (environment, as for prolog.sh): SOFTMIG_CONF, SOFTMIG_SITE_CONFIG.
# The run directory is built in (`softmig-conf paths`).

# Helper functions
log() {
	logger -t softmig-epilog -p daemon.err -- "$*" 2>/dev/null
	printf 'softmig-epilog: %s\n' "$*" >&2
}

# Main
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
conf=${SOFTMIG_CONF:-@BINDIR@/softmig-conf}
[ -n "${SLURM_JOB_ID:-}" ] || exit 0

if ! out=$("$conf" --config "${SOFTMIG_SITE_CONFIG:-/etc/softmig/softmig.yaml}" remove "$SLURM_JOB_ID" 2>&1); then
	log "job $SLURM_JOB_ID: $conf remove failed: $out"
	dir=$("$conf" paths 2>/dev/null | sed -n 's/^run_dir=//p')
	case $SLURM_JOB_ID in
	*[!0-9_]*) ;;
	*) [ -z "$dir" ] || rm -f "$dir/$SLURM_JOB_ID.conf" "$dir/$SLURM_JOB_ID.region" ;;
	esac
fi
exit 0
