#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make demo: a quarter slice of a 48 GiB GPU, end to end.  Runs on the
# simulated GPU (build/sim), or on the real one where nvidia-smi works.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD B=$ROOT/build
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
JOB=4242
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
run() { printf '  $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/    /'; }

if nvidia-smi -L >/dev/null 2>&1; then
	GPU="the real GPU: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader -i 0)"
	export LD_LIBRARY_PATH=
else
	GPU="a simulated 48 GiB GPU (build/sim: a fake libcuda.so.1 and libnvidia-ml.so.1)"
	export LD_LIBRARY_PATH=$B/sim SOFTMIG_SIM_STATE=$W/gpu.state SOFTMIG_SIM_MEMORY=48g \
		SOFTMIG_SIM_NAME="NVIDIA L40S" SOFTMIG_SIM_CTX_MEMORY=300m
fi
export TMPDIR=$W

say "SoftMig demo: one GPU, sliced in four"
echo "  GPU: $GPU"

say "1. A user asks Slurm for a quarter GPU:  sbatch --gres=gpu:l40s.4:1 job.sh"
echo "  job_submit.lua turns that into gres/shard:l40s:1, and the prolog runs softmig-conf,"
echo "  which writes the job's config (here a dry run for job $JOB):"
sed "s/JobId=1 /JobId=$JOB /; s/shard:l40s:2/shard:l40s:1/g" internal/slurm/testdata/prolog-scontrol.txt > "$W/job.txt"
run "$B/bin/softmig-conf" write --dry-run --config slurm/softmig.yaml --job-id "$JOB" --job-info "$W/job.txt" \
	--uid "$(id -u)" --gpus 0 --node vm

say "2. Inside the job every process is held to that slice: 12 GiB, summed over the job."
echo "  (Without Slurm the demo gives the same limit through the environment, the library's test mode.)"
export SLURM_JOB_ID=$JOB CUDA_DEVICE_MEMORY_LIMIT=12g SOFTMIG_LOG_FILE=$W/softmig.log LD_PRELOAD=$B/libsoftmig.so
coproc A { "$B/test/cuclient" init dev:0 alloc:6g ready hold; }
read -r l1 <&"${A[0]}"; read -r l2 <&"${A[0]}"; read -r l3 <&"${A[0]}"; read -r l4 <&"${A[0]}"
echo "  process A takes 6 GiB and keeps it:             ${l3% ptr=*}"
out=$("$B/test/cuclient" init dev:0 meminfo alloc:4g meminfo alloc:2g | cut -d' ' -f1-4)
{ read -r _; read -r _; read -r _ _ free total; read -r a4; read -r _; read -r a2; } <<<"$out"
echo "  process B sees the slice, not the GPU:           cuMemGetInfo $total $free  (bytes)"
echo "  process B takes 4 GiB:                          ${a4% ptr=*}"
echo "  process B asks for 2 GiB more (A 6 + B 4 + two contexts would pass 12 GiB):"
echo "                                                   ${a2% ptr=*}"

say "3. The job's memory view (softmig-smi, in nvidia-smi's own fields and layout):"
LD_PRELOAD= run "$B/bin/softmig-smi" --query-gpu=index,name,memory.total,memory.used,memory.free --format=csv
exec {A[1]}>&-
wait 2>/dev/null

say "4. What the admin reads afterwards:"
run "$B/bin/softmig-log" summary "$W/softmig.log"
unset LD_PRELOAD
say "Done. 'make test' runs all of this and much more as tests; README.md explains the rest."
