-- SPDX-License-Identifier: Apache-2.0
-- SoftMig's step in a site's own cli_filter.lua (slurm.conf
-- "CliFilterPlugins=lua"), which sbatch, salloc and srun run on the
-- submitting host: a valid GPU slice request becomes shards before it is
-- sent, so that a plain `srun --gres=gpu:l40s.2:1 cmd` works. Copy the two
-- marked parts into it. Where SoftMig is not installed, requests pass
-- through unchanged.

-- SoftMig (1 of 2): load the module.
local softmig
for _, path in ipairs({ "/usr/share/softmig/slurm/softmig_gres.lua", "/usr/local/share/softmig/slurm/softmig_gres.lua", "/etc/slurm/softmig_gres.lua" }) do
	local ok, mod = pcall(dofile, path)
	if ok then
		softmig = mod
		break
	end
end

function slurm_cli_setup_defaults(options, early_pass)
	return slurm.SUCCESS
end

function slurm_cli_pre_submit(options, pack_offset)
	-- SoftMig (2 of 2)
	if softmig ~= nil then
		local rc = softmig.cli_pre_submit(options)
		if rc ~= slurm.SUCCESS then return rc end
	end

	-- The site's own steps follow.
	return slurm.SUCCESS
end

function slurm_cli_post_submit(offset, job_id, step_id)
	return slurm.SUCCESS
end
