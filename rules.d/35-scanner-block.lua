-- Block a scanner: a source that hits the group-20 logging rules more than
-- LIMIT times within WINDOW seconds is handed, once, to an action that adds
-- it to an nftables set with a timeout.  In nftables, for instance:
--
--   nft add rule inet filter input ct state new tcp dport != { 22, 80, 443 } \
--       log group 20 prefix '"PROBE "' drop
--
-- The action is scripts/actions/nft-block-source, installed as below.

local ACTION = "/usr/local/sbin/nlhook-block-source"
local LIMIT, WINDOW = 20, 10

local hits = {}		-- source address -> { first hit time, count }
local blocked = {}

nlhook.on("nflog", { group = 20 }, function(ev)
	local src = ev.src
	if not src or blocked[src] then
		return
	end
	local h = hits[src]
	if not h or ev.time - h.first > WINDOW then
		h = { first = ev.time, count = 0 }
		hits[src] = h
	end
	h.count = h.count + 1
	if h.count > LIMIT then
		blocked[src] = true
		hits[src] = nil
		nlhook.log.warn("%s: %d hits in %d s, blocking it", src, h.count, WINDOW)
		nlhook.exec({ ACTION, src, ev.family }, { timeout = 10 })
	end
end, { name = "scanner-block" })

-- Forget quiet sources now and then, so the table stays small.
local function sweep()
	local now = os.time()
	for src, h in pairs(hits) do
		if now - h.first > WINDOW then
			hits[src] = nil
		end
	end
end
nlhook.on("nflog", { group = 20 }, sweep, { rate = 0.1, name = "scanner-sweep" })
