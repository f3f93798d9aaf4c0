#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A site's Prolog that runs SoftMig's: slurm.conf "Prolog=/etc/slurm/prolog.sh"
# (install -m 755 this file there, or add the SoftMig lines to the Prolog
# the site has).  SoftMig's prolog runs only where SoftMig is installed: on a
# node without it (a CPU node, or after `apt remove softmig`) the job goes on,
# and removing the package never drains the node.  Its exit status is the
# Prolog's when it fails (a node that cannot enforce slices must not run GPU
# jobs unlimited).

# SoftMig (a source install: /usr/local/share/softmig/slurm/...)
softmig=/usr/share/softmig/slurm/prolog.sh
if [ -x "$softmig" ]; then
	"$softmig" || exit
fi

# The site's own steps follow.
exit 0
