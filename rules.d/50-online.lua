-- Online and routable: start the VPN the moment this machine can reach the
-- world (a default route of the main table through a routable link, IPv4
-- or IPv6), stop it when it no longer can; sync once a wired link is
-- routable.  The daemon's own namespace only (netns = ""): with
-- --all-netns, a container going online is not this machine going online.

local VPN_UP = "/usr/local/sbin/nlhook-vpn-up"		-- scripts/actions/vpn-up
local VPN_DOWN = "/usr/local/sbin/nlhook-vpn-down"	-- scripts/actions/vpn-down
local SYNC = "/usr/local/sbin/nlhook-sync"		-- scripts/actions/sync

nlhook.on("net.online", { netns = "" }, function(ev)
	nlhook.log.info("online through %s (%s, via %s): starting the VPN", ev.ifname, ev.family,
		ev.gateway or "no gateway")
	nlhook.exec({ VPN_UP }, { timeout = 30 })
end, { name = "vpn-up" })

nlhook.on("net.offline", { netns = "" }, function(ev)
	nlhook.log.info("offline (the last way out was %s): stopping the VPN", ev.ifname)
	nlhook.exec({ VPN_DOWN }, { timeout = 30 })
end, { name = "vpn-down" })

-- A link that flaps runs the sync once it has stayed routable for 5 s.
nlhook.on("link.state", { netns = "", ifname = { "eth*", "en*" }, state = "routable" }, function(ev)
	nlhook.exec({ SYNC }, { timeout = 600 })
end, { debounce = 5, name = "sync-when-routable" })
