#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What the metrics tests need (issue 21): promtool and a Prometheus server
# (internal/metrics), MariaDB and slurmdbd for Slurm accounting (slurm/,
# through internal/slurmtest). The tests start their own servers on
# loopback; the packages' own services are kept from starting.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get install -y -qq --no-install-recommends prometheus mariadb-server slurmdbd >/dev/null
