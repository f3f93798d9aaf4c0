#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A site's TaskProlog that runs SoftMig's: slurm.conf
# "TaskProlog=/etc/slurm/task_prolog.sh" (install -m 755 this file there, or
# add the SoftMig lines to the TaskProlog the site has).  slurmd runs it as
# the job's user before every task and reads what it prints ("export
# NAME=value" lines): SoftMig's prints the binds that bring it into the
# task's Apptainer containers, so its output must reach slurmd.  SoftMig's
# runs only where SoftMig is installed: Slurm fails every task while the
# TaskProlog it names is missing, so slurm.conf names this script, which
# stays when the package goes.

# SoftMig (a source install: /usr/local/share/softmig/slurm/...)
softmig=/usr/share/softmig/slurm/task_prolog.sh
if [ -x "$softmig" ]; then
	"$softmig"
fi

# The site's own steps follow (their "export" lines add to SoftMig's).
exit 0
