# SPDX-License-Identifier: Apache-2.0
# The build-time facts of a SoftMig node, defined once for every language.
#
# The Makefile includes this file and compiles the values into the library
# (-D) and the Go tools (-ldflags -X); internal/defs embeds it, so a Go
# program built without make (go test, go run) gets the same defaults.
# Override at build time, never at run time: `make RUNDIR=/srv/softmig`.
#
# RUNDIR  job configs (<jobid>.conf) and regions; the library trusts only this
# LOGDIR  per-job logs (<jobid>.log), created by the prolog

RUNDIR ?= /run/softmig
LOGDIR ?= /var/log/softmig
