#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# SoftMig Slurm Epilog, run by the site's Epilog where it exists
# (examples/site-epilog.sh), or named by slurm.conf itself.
# slurmd runs it as root on the compute node after each job. It removes the
# job's config and shared region with `softmig-conf remove` (idempotent).
# It always exits 0: a failing epilog drains the node.
#
# Settings (environment, as for prolog.sh): SOFTMIG_CONF, SOFTMIG_SITE_CONFIG,
# SOFTMIG_LOG (the softmig-log to run). The run directory is built in
# (`softmig-conf paths`).

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

# A GPU job (one with a log) leaves its one-line summary in its AdminComment
# in Slurm's accounting, for sacct (softmig-log(1), account). Appends only.
logdir=$("$conf" paths 2>/dev/null | sed -n 's/^log_dir=//p')
if [ -n "$logdir" ] && [ -f "$logdir/$SLURM_JOB_ID.log" ]; then
	if ! out=$("${SOFTMIG_LOG:-@BINDIR@/softmig-log}" --config "${SOFTMIG_SITE_CONFIG:-/etc/softmig/softmig.yaml}" account "$SLURM_JOB_ID" 2>&1); then
		log "job $SLURM_JOB_ID: summary not stored in Slurm's accounting: $out"
	fi
fi
exit 0
