-- SPDX-License-Identifier: Apache-2.0
-- SoftMig cli_filter plugin: slurm.conf "CliFilterPlugins=lua"; sbatch,
-- salloc and srun run it on the submitting host. It rewrites a valid GPU
-- slice request (--gres=gpu:l40s.2:1) into shards (shard:l40s:2) before
-- submission, so that a plain `srun --gres=gpu:l40s.2:1 cmd` also asks its
-- step for shards (softmig_gres.lua's cli_pre_submit). Invalid requests
-- are left alone: job_submit.lua rejects them with the message. For a
-- cluster without a cli_filter.lua of its own (else see
-- examples/slurm/site-cli_filter.lua). Needs softmig_gres.lua in the same
-- directory and softmig_types.lua there or next to slurm.conf.

local function load_softmig()
	local src = debug.getinfo(1, "S").source
	local dir = string.match(src, "^@(.*)/[^/]*$")
	if dir == nil then
		dir = string.match(os.getenv("SLURM_CONF") or "/etc/slurm/slurm.conf", "^(.*)/[^/]*$") or "/etc/slurm"
	end
	local ok, mod = pcall(dofile, dir .. "/softmig_gres.lua")
	if not ok then return nil end
	return mod
end

local softmig = load_softmig()

function slurm_cli_setup_defaults(options, early_pass)
	return slurm.SUCCESS
end

function slurm_cli_pre_submit(options, pack_offset)
	if softmig == nil then return slurm.SUCCESS end
	return softmig.cli_pre_submit(options)
end

function slurm_cli_post_submit(offset, job_id, step_id)
	return slurm.SUCCESS
end
