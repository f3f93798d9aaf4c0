-- SPDX-License-Identifier: Apache-2.0
-- SoftMig GPU slice requests for Slurm's lua plugins: a module, loaded with
-- dofile by SoftMig's job_submit.lua (slurmctld) and cli_filter.lua
-- (sbatch, salloc, srun), or by a site's own plugins, which call
-- M.job_submit and M.cli_pre_submit (examples/slurm/site-job_submit.lua).
-- The package installs it in /usr/share/softmig/slurm; it may also be
-- copied next to slurm.conf.
--
-- A slice is --gres=gpu:<type>.<denominator>[:1]: gpu:l40s.4:1 is a quarter
-- of an l40s, gpu:l40s.2:1 a half, gpu:l40s.1:1 (like gpu:l40s:1) a whole
-- GPU. It becomes a request for <shards per GPU>/<denominator> shards of that
-- GPU type, e.g. shard:l40s:1 with 4 shards per GPU.

local M = {}

-- Site settings: GPU type -> shards per GPU and allowed denominators. They
-- come from /etc/softmig/softmig.yaml, their one home, through the table
-- `softmig-conf gres-lua > softmig_types.lua` generates next to slurm.conf
-- (and so on every host that has slurm.conf, softmig.yaml or not), or next
-- to this file. `softmig-conf check` compares gres.conf with the same site
-- config.
local function load_types()
	local src = debug.getinfo(1, "S").source
	local here = string.match(src, "^@(.*)/[^/]*$") or "."
	local conf = string.match(os.getenv("SLURM_CONF") or "/etc/slurm/slurm.conf", "^(.*)/[^/]*$") or "/etc/slurm"
	local errs = {}
	for _, dir in ipairs({ here, conf }) do
		local path = dir .. "/softmig_types.lua"
		local ok, types = pcall(dofile, path)
		if ok and type(types) == "table" then return types, nil end
		table.insert(errs, ok and (path .. " does not return a table") or tostring(types))
	end
	return nil, table.concat(errs, "; ")
end

local types_error
M.types, types_error = load_types()

local names = { [2] = "half", [3] = "third", [4] = "quarter", [8] = "eighth" }

local function allowed(t, d)
	for _, a in ipairs(t.denominators) do
		if a == d then return true end
	end
	return false
end

local function sorted_types()
	local out = {}
	for name in pairs(M.types) do table.insert(out, name) end
	table.sort(out)
	return out
end

-- slices(typ) describes the allowed slices of one type.
function M.slices(typ)
	local t, out = M.types[typ], {}
	for _, d in ipairs(t.denominators) do
		table.insert(out, string.format("%s.%d (%s)", typ, d, names[d] or ("1/" .. d)))
	end
	table.insert(out, typ .. " (whole GPU)")
	return table.concat(out, ", ")
end

local function strip(spec)
	return (string.gsub(string.gsub(spec, "^gres[:/]", ""), ",gres[:/]", ","))
end

-- translate(spec, keep_prefix) rewrites the slice in a GRES request such as
-- "gres:gpu:l40s.2:1" (Slurm 22.05) or "gres/gpu:l40s.2:1" (newer). Returns
-- the new request, or nil when there is no slice, or nil and a message for
-- the user when the request is invalid. keep_prefix keeps each item's
-- "gres:"/"gres/" prefix (job_submit); cli_filter drops it.
function M.translate(spec, keep_prefix)
	if spec == nil or spec == "" then return nil, nil end
	local out, nslices, nother = {}, 0, 0
	for item in string.gmatch(spec, "[^,]+") do
		local prefix, body = string.match(item, "^(gres[:/])(.*)$")
		if prefix == nil then prefix, body = "", item end
		if not keep_prefix then prefix = "" end
		local typ, den, cnt = string.match(body, "^gpu:([^:.]+)%.([^:]*):?(.*)$")
		if typ == nil then
			if string.match(body, "^gpu") or string.match(body, "^shard") then nother = nother + 1 end
			table.insert(out, prefix .. body)
		elseif M.types == nil then
			return nil, string.format("SoftMig: --gres=%s: GPU slices are not set up on this cluster (%s); ask your administrators to run softmig-conf gres-lua > softmig_types.lua next to slurm.conf", body, types_error)
		else
			local t = M.types[typ]
			if t == nil then
				local known = {}
				for _, name in ipairs(sorted_types()) do table.insert(known, name) end
				return nil, string.format("SoftMig: --gres=%s: GPU type '%s' cannot be sliced here; sliced GPU types: %s", body, typ, table.concat(known, ", "))
			end
			if not string.match(den, "^[1-9]%d*$") then
				return nil, string.format("SoftMig: --gres=%s: '%s.%s' is not a slice; write <type>.<denominator>: %s", body, typ, den, M.slices(typ))
			end
			if cnt ~= "" and not string.match(cnt, "^%d+$") then
				return nil, string.format("SoftMig: --gres=%s: the count '%s' is not a number; a slice request is gpu:%s.%s:1", body, cnt, typ, den)
			end
			if cnt ~= "" and tonumber(cnt) ~= 1 then
				return nil, string.format("SoftMig: --gres=%s asks for %s slices; a job gets one slice, so the count must be 1 (for more, ask for a bigger slice or whole GPUs, e.g. --gres=gpu:%s:%s)", body, cnt, typ, cnt)
			end
			local d = tonumber(den)
			if d == 1 then
				table.insert(out, prefix .. "gpu:" .. typ .. ":1")
			elseif allowed(t, d) then
				-- math.floor: an integer, never "4.0" (Lua 5.3's / gives a float)
				table.insert(out, prefix .. "shard:" .. typ .. ":" .. math.floor(t.shards / d))
			else
				return nil, string.format("SoftMig: --gres=%s: %s.%d is not an allowed slice; %s GPUs are split into %d shards; use %s", body, typ, d, typ, t.shards, M.slices(typ))
			end
			nslices = nslices + 1
		end
	end
	if nslices == 0 then return nil, nil end
	if nslices > 1 or nother > 0 then
		return nil, string.format("SoftMig: --gres=%s: a job gets one GPU slice, not combined with other GPU slices, GPUs or shards; ask for one slice (e.g. --gres=gpu:l40s.2:1) or whole GPUs (e.g. --gres=gpu:l40s:2)", strip(spec))
	end
	return table.concat(out, ","), nil
end

-- has_slice(spec) tells whether spec holds a gpu:<type>.<n> item.
function M.has_slice(spec)
	return spec ~= nil and string.match("," .. strip(spec), ",gpu:[^:.,]+%.") ~= nil
end

-- The code a refusal returns: sbatch then says "Invalid generic resource
-- (gres) specification" after SoftMig's message, not "Unspecified error".
-- Slurm before 23.02 exposes few ESLURM_* names to lua; the number is
-- fixed in slurm_errno.h. Looked up when refusing: the module also loads
-- where there is no slurm table (tests, softmig-conf).
local function invalid_gres()
	return slurm.ESLURM_INVALID_GRES or 2072
end

-- job_submit(job_desc, uid) is the job_submit plugin's step, for
-- slurm_job_submit and slurm_job_modify: it turns a slice request into
-- shards (job_desc.tres_per_node), or refuses it with a message for the
-- user and returns the error code; slurm.SUCCESS otherwise. This is the
-- authoritative check: cli_filter only spares srun a step error, and users
-- can bypass it.
function M.job_submit(job_desc, uid)
	for _, field in ipairs({ "tres_per_job", "tres_per_socket", "tres_per_task" }) do
		if M.has_slice(job_desc[field]) then
			slurm.log_user("SoftMig: GPU slices are requested with --gres=gpu:<type>.<denominator>:1 (e.g. --gres=gpu:l40s.2:1), not with --gpus or --gpus-per-task")
			return invalid_gres()
		end
	end
	local old = job_desc.tres_per_node
	local new, err = M.translate(old, true)
	if err ~= nil then
		slurm.log_user(err)
		slurm.log_info("softmig: uid %d rejected: %s", uid, err)
		return invalid_gres()
	end
	if new ~= nil then
		job_desc.tres_per_node = new
		slurm.log_info("softmig: uid %d %s -> %s", uid, old, new)
		slurm.log_user("SoftMig: GPU slice " .. string.gsub(old, "gres[:/]", "") .. " = " .. string.gsub(new, "gres[:/]", ""))
	end
	return slurm.SUCCESS
end

-- cli_pre_submit(options) is the cli_filter plugin's step, for
-- slurm_cli_pre_submit: it rewrites a valid slice request (--gres) into
-- shards, so that a plain `srun --gres=gpu:l40s.2:1 cmd` asks its step for
-- shards too, and leaves an invalid one to job_submit's message.
function M.cli_pre_submit(options)
	local new, err = M.translate(options["gres"], false)
	if new ~= nil and err == nil then
		options["gres"] = new
	end
	return slurm.SUCCESS
end

return M
