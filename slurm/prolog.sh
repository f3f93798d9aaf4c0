#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# SoftMig Slurm Prolog, run by the site's Prolog where it exists
# (examples/site-prolog.sh: removing SoftMig then never fails a job), or
# named by slurm.conf itself (then the package refuses removal).
# slurmd runs it as root on the compute node before each job. It writes the
# job's config <run_dir>/$SLURM_JOB_ID.conf with softmig-conf(1); run_dir is
# built into SoftMig (`softmig-conf paths`), the one place the library reads.
#
# A problem that concerns one job (a request that cannot be sliced, a GPU
# type missing from the site config, a broken site config) never fails the
# prolog, since a failing prolog drains the node for everyone: softmig-conf
# writes a config with SOFTMIG_DISABLED=<reason> instead, the library then
# refuses the GPU to that job with the reason, and this script logs it.
# Only when no config at all can be written for a GPU job (softmig-conf
# missing, the run directory unusable) does it exit 1: the node cannot
# enforce slices, and Slurm drains it rather than run the job unlimited.
#
# Settings (environment; a wrapper script may set them, slurmd does not):
#   SOFTMIG_CONF         softmig-conf program   (PREFIX/bin/softmig-conf: softmig-install
#                        puts the install prefix in place of @BINDIR@)
#   SOFTMIG_SITE_CONFIG  site config            (/etc/softmig/softmig.yaml)
# The run and log directories are not settings: softmig-conf has them built in.

# Helper functions
log() {
	logger -t softmig-prolog -p daemon.err -- "$*" 2>/dev/null
	printf 'softmig-prolog: %s\n' "$*" >&2
}

# fail_closed REASON: write a config that disables the GPU for this job,
# without softmig-conf's write, in the run directory softmig-conf names.
# Returns non-zero when even that is impossible.
fail_closed() {
	dir=$("$conf" paths 2>/dev/null | sed -n 's/^run_dir=//p')
	[ -n "$dir" ] || return 1
	mkdir -p "$dir" && chmod 755 "$dir" || return 1
	tmp=$(mktemp "$dir/.$SLURM_JOB_ID.conf.XXXXXX") || return 1
	printf '# SoftMig job config written by prolog.sh after softmig-conf failed\nSOFTMIG_DISABLED=%s\n' \
		"$(printf '%s' "$1" | tr -d '\n\r' | cut -c1-400)" >"$tmp" &&
		chmod 644 "$tmp" && chown 0:0 "$tmp" && mv -f "$tmp" "$dir/$SLURM_JOB_ID.conf" ||
		{ rm -f "$tmp"; return 1; }
}

# Main
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
conf=${SOFTMIG_CONF:-@BINDIR@/softmig-conf}
[ -n "${SLURM_JOB_ID:-}" ] || { log "SLURM_JOB_ID is not set: nothing to do"; exit 0; }

# The job's log, made here because no user may write the log directory
# (softmig-conf's, built in): the job's processes append to it, its user
# reads it (0600), root reads all.
logdir=$("$conf" paths 2>/dev/null | sed -n 's/^log_dir=//p')
if [ -n "$logdir" ] && [ -d "$logdir" ] && [ -n "${SLURM_JOB_GPUS:-}" ] && [ -n "${SLURM_JOB_UID:-}" ]; then
	logf=$logdir/$SLURM_JOB_ID.log
	{ [ ! -L "$logf" ] && (umask 077 && : >>"$logf") && chown "$SLURM_JOB_UID" "$logf" && chmod 600 "$logf"; } ||
		log "job $SLURM_JOB_ID: cannot create its log $logf: the library falls back to the job's temporary directory"
fi

out=$("$conf" --config "${SOFTMIG_SITE_CONFIG:-/etc/softmig/softmig.yaml}" write 2>&1 >/dev/null)
rc=$?
case $rc in
0)
	# Warnings (no time slot for a GPU, a mistake in a site config key the
	# limits do not depend on) and notes: the job runs anyway.
	[ -z "$out" ] || log "job $SLURM_JOB_ID: $out"
	exit 0
	;;
3) log "job $SLURM_JOB_ID: $out"; exit 0 ;;
esac
log "job $SLURM_JOB_ID: $conf failed (exit $rc): $out"
# A job without a GPU needs no config.
[ -n "${SLURM_JOB_GPUS:-}" ] || exit 0
if fail_closed "the Slurm prolog on ${SLURMD_NODENAME:-this node} could not run softmig-conf (exit $rc)"; then
	log "job $SLURM_JOB_ID: GPU disabled for this job"
	exit 0
fi
log "job $SLURM_JOB_ID: cannot write any SoftMig config: this node cannot enforce GPU slices"
exit 1
