#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A site's Epilog that runs SoftMig's: slurm.conf "Epilog=/etc/slurm/epilog.sh"
# (install -m 755 this file there, or add the SoftMig lines to the Epilog
# the site has).  SoftMig's epilog runs only where SoftMig is installed, so
# removing the package never drains the node; it always exits 0.

# SoftMig (a source install: /usr/local/share/softmig/slurm/...)
softmig=/usr/share/softmig/slurm/epilog.sh
if [ -x "$softmig" ]; then
	"$softmig"
fi

# The site's own steps follow.
exit 0
