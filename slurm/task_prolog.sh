#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# SoftMig Slurm TaskProlog: slurm.conf "TaskProlog=PREFIX/share/softmig/slurm/task_prolog.sh"
# (a site that has a TaskProlog of its own runs this one from it and passes
# its output on). slurmd runs it as the job's user before every task; each
# "export NAME=value" line it prints is set in the task's environment.
#
# It binds SoftMig into every Apptainer container the task starts, through
# APPTAINER_BINDPATH: the host's /etc/ld.so.preload, the library it lists,
# the run directory (the job's config and region) and the log directory.
# apptainer.conf's "bind path" lines would do the same, but --contain and
# --containall drop them, and a missing source there fails every container
# on the node; binds from the environment are kept whatever flags the user
# passes (--contain, --containall, --no-mount, --cleanenv, --userns,
# --fakeroot, --pid). The user's own APPTAINER_BINDPATH is kept, and
# APPTAINER_BIND and -B add to it.
#
# It names the binds only where SoftMig is enabled: the preload list names
# libsoftmig.so and all four sources exist. On any other node (SoftMig not
# installed, disabled, removed; a CPU node sharing slurm.conf) it prints
# nothing, and no container fails for a missing source.
#
# Arguments (tests only): the preload list, the run and the log directory.
list=${1:-/etc/ld.so.preload}
run=${2:-@RUNDIR@}
logs=${3:-@LOGDIR@}

[ -r "$list" ] || exit 0
lib=$(tr ' :\t' '\n\n\n' 2>/dev/null <"$list" | grep '^/.*/libsoftmig\.so$' | head -n 1)
[ -n "$lib" ] && [ -f "$lib" ] && [ -d "$run" ] && [ -d "$logs" ] || exit 0

pre=$list
[ "$list" = /etc/ld.so.preload ] || pre=$list:/etc/ld.so.preload
binds=${APPTAINER_BINDPATH:-}
for b in "$pre" "$lib" "$run" "$logs"; do
	case ",$binds," in
	*",$b,"*) ;; # already there: a step inside a job step
	*) binds=${binds:+$binds,}$b ;;
	esac
done
echo "export APPTAINER_BINDPATH=$binds"
