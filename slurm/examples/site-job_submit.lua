-- SPDX-License-Identifier: Apache-2.0
-- SoftMig's step in a site's own job_submit.lua (slurm.conf
-- "JobSubmitPlugins=lua"): copy the two marked parts into it. SoftMig's
-- module comes from the package (install it on the slurmctld host too: it
-- switches nothing on there), a source install (/usr/local) or a copy next
-- to slurm.conf; where none is, jobs pass through unchanged. The GPU types it needs are in
-- softmig_types.lua next to slurm.conf (softmig-conf gres-lua).

-- SoftMig (1 of 2): load the module.
local softmig
for _, path in ipairs({ "/usr/share/softmig/slurm/softmig_gres.lua", "/usr/local/share/softmig/slurm/softmig_gres.lua", "/etc/slurm/softmig_gres.lua" }) do
	local ok, mod = pcall(dofile, path)
	if ok then
		softmig = mod
		break
	end
end

function slurm_job_submit(job_desc, part_list, submit_uid)
	-- SoftMig (2 of 2): a GPU slice becomes shards, or the job is refused
	-- with SoftMig's message. Put it first, so the site's checks see shards.
	if softmig ~= nil then
		local rc = softmig.job_submit(job_desc, submit_uid)
		if rc ~= slurm.SUCCESS then return rc end
	end

	-- The site's own checks follow.
	return slurm.SUCCESS
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
	if softmig ~= nil then
		local rc = softmig.job_submit(job_desc, modify_uid)
		if rc ~= slurm.SUCCESS then return rc end
	end
	return slurm.SUCCESS
end

return slurm.SUCCESS
