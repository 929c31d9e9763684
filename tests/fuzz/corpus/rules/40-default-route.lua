-- Default-route change: the moment the way out of this machine changes
-- (DHCP renew with a new gateway, VPN up, failover), log it and write a
-- JSON line to the event log for whoever ships events.

local current = {}	-- family -> "gateway dev"

local function way_out(ev)
	return string.format("%s dev %s", ev.gateway or "direct", ev.ifname or "?")
end

nlhook.on("route.add", { dst = "default", table = 254 }, function(ev)
	local now = way_out(ev)
	if current[ev.family] ~= now then
		nlhook.log.info("default %s route: %s (was %s)", ev.family, now, current[ev.family] or "none")
		current[ev.family] = now
		nlhook.emit(ev)
	end
end)

nlhook.on("route.del", { dst = "default", table = 254 }, function(ev)
	if current[ev.family] == way_out(ev) then
		current[ev.family] = nil
		nlhook.log.warn("default %s route via %s is gone", ev.family, way_out(ev))
		nlhook.emit(ev)
	end
end)
