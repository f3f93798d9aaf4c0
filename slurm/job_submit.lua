-- SoftMig job_submit plugin: slurm.conf "JobSubmitPlugins=lua"; slurmctld
-- runs it for every submitted job. It turns a GPU slice request
-- (--gres=gpu:l40s.4:1) into shards (shard:l40s:1) and rejects invalid
-- slices with a message the user sees. This is the authoritative check:
-- cli_filter.lua only spares srun a step error, and users can bypass it.
-- Needs softmig_gres.lua and softmig_types.lua (softmig-conf gres-lua) in
-- the same directory.

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

-- The code a refusal returns: sbatch then says "Invalid generic resource
-- (gres) specification" after SoftMig's message, not "Unspecified error".
-- Slurm before 23.02 exposes few ESLURM_* names to lua; the number is
-- fixed in slurm_errno.h.
local EINVALID_GRES = slurm.ESLURM_INVALID_GRES or 2072

local function check(job_desc, uid)
	if softmig == nil then return slurm.SUCCESS end
	for _, field in ipairs({ "tres_per_job", "tres_per_socket", "tres_per_task" }) do
		local v = job_desc[field]
		if softmig.has_slice(v) then
			slurm.log_user("SoftMig: GPU slices are requested with --gres=gpu:<type>.<denominator>:1 (e.g. --gres=gpu:l40s.2:1), not with --gpus or --gpus-per-task")
			return EINVALID_GRES
		end
	end
	local old = job_desc.tres_per_node
	local new, err = softmig.translate(old, true)
	if err ~= nil then
		slurm.log_user(err)
		slurm.log_info("softmig: uid %d rejected: %s", uid, err)
		return EINVALID_GRES
	end
	if new ~= nil then
		job_desc.tres_per_node = new
		slurm.log_info("softmig: uid %d %s -> %s", uid, old, new)
		slurm.log_user("SoftMig: GPU slice " .. string.gsub(old, "gres[:/]", "") .. " = " .. string.gsub(new, "gres[:/]", ""))
	end
	return slurm.SUCCESS
end

function slurm_job_submit(job_desc, part_list, submit_uid)
	return check(job_desc, submit_uid)
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
	return check(job_desc, modify_uid)
end

return slurm.SUCCESS
