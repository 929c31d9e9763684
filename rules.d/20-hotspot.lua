-- Hotspot: the moment this machine joins the network CafeNet and the link
-- is usable (WPA handshake done), run the captive-portal login with the
-- interface and the access point; when the connection goes, undo it.
-- SSIDs are compared as bytes; put yours below.

local SSID = "CafeNet"
local LOGIN = "/usr/local/sbin/nlhook-hotspot-login"	-- scripts/actions/hotspot-login
local LOGOUT = "/usr/local/sbin/nlhook-hotspot-logout"	-- scripts/actions/hotspot-logout

-- wifi.authorized, not wifi.connect: before it the port is closed and a
-- login request would go nowhere.
nlhook.on("wifi.authorized", { ssid = SSID }, function(ev)
	nlhook.log.info("joined %s on %s via %s", SSID, ev.ifname, ev.bssid)
	nlhook.exec({ LOGIN, ev.ifname, ev.bssid }, {
		timeout = 30,
		on_exit = function(status, stdout, stderr)
			if status ~= 0 then
				nlhook.log.warn("hotspot login on %s failed (%d): %s", ev.ifname, status, stderr)
			end
		end,
	})
end, { name = "hotspot-login" })

nlhook.on("wifi.disconnect", { ssid = SSID }, function(ev)
	nlhook.exec({ LOGOUT, ev.ifname }, { timeout = 10 })
end, { name = "hotspot-logout" })

-- A roam inside the hotspot keeps the session: just say so.
nlhook.on("wifi.roam", { ssid = SSID }, function(ev)
	nlhook.log.info("%s roamed from %s to %s", ev.ifname, ev.prev_bssid, ev.bssid)
end)
