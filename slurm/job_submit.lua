-- SPDX-License-Identifier: Apache-2.0
-- SoftMig job_submit plugin: slurm.conf "JobSubmitPlugins=lua"; slurmctld
-- runs it for every submitted job. It turns a GPU slice request
-- (--gres=gpu:l40s.4:1) into shards (shard:l40s:1) and rejects invalid
-- slices with a message the user sees (softmig_gres.lua's job_submit). For
-- a cluster without a job_submit.lua of its own; a site that has one adds
-- SoftMig's step to it (examples/slurm/site-job_submit.lua). Needs
-- softmig_gres.lua in the same directory and softmig_types.lua
-- (softmig-conf gres-lua) there or next to slurm.conf. Without them, every
-- job passes unchanged.

local function load_softmig()
	local src = debug.getinfo(1, "S").source
	local dir = string.match(src, "^@(.*)/[^/]*$")
	if dir == nil then
		dir = string.match(os.getenv("SLURM_CONF") or "/etc/slurm/slurm.conf", "^(.*)/[^/]*$") or "/etc/slurm"
	end
	local ok, mod = pcall(dofile, dir .. "/softmig_gres.lua")
	if not ok then
		slurm.log_error("softmig: cannot load %s/softmig_gres.lua: %s", dir, tostring(mod))
		return nil
	end
	return mod
end

local softmig = load_softmig()

function slurm_job_submit(job_desc, part_list, submit_uid)
	if softmig == nil then return slurm.SUCCESS end
	return softmig.job_submit(job_desc, submit_uid)
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
	if softmig == nil then return slurm.SUCCESS end
	return softmig.job_submit(job_desc, modify_uid)
end

return slurm.SUCCESS
