-- Hotspot: the moment this machine joins the network CafeNet and the link
-- is usable (WPA handshake done), run the captive-portal login with the
-- interface and the access point; when the connection is gone for good,
-- log out.  SSIDs are compared as bytes; put yours below.

local SSID = "CafeNet"
local LOGIN = "/usr/local/sbin/nlhook-hotspot-login"	-- scripts/actions/hotspot-login
local LOGOUT = "/usr/local/sbin/nlhook-hotspot-logout"	-- scripts/actions/hotspot-logout
-- A roam or a short drop is a disconnect and a connect a moment later (on
-- mac80211 a roam is exactly that): the portal session is kept if the
-- link comes back within this many seconds.
local GRACE = 10

local session = {}	-- ifname -> true while a portal session is up
local away = {}		-- ifname -> token of the logout waiting for the grace to end

-- wifi.authorized, not wifi.connect: before it the port is closed and a
-- login request would go nowhere.
nlhook.on("wifi.authorized", { ssid = SSID }, function(ev)
	away[ev.ifname] = nil
	if session[ev.ifname] then
		nlhook.log.info("back on %s via %s: portal session kept", SSID, ev.bssid)
		return
	end
	session[ev.ifname] = true
	nlhook.log.info("joined %s on %s via %s", SSID, ev.ifname, ev.bssid)
	nlhook.exec({ LOGIN, ev.ifname, ev.bssid }, {
		timeout = 30,
		on_exit = function(status, stdout, stderr)
			if status ~= 0 then
				session[ev.ifname] = nil
				nlhook.log.warn("hotspot login on %s failed (%d): %s", ev.ifname, status, stderr)
			end
		end,
	})
end, { name = "hotspot-login" })

nlhook.on("wifi.disconnect", { ssid = SSID }, function(ev)
	if not session[ev.ifname] then
		return
	end
	local token = {}
	away[ev.ifname] = token
	nlhook.after(GRACE, function()
		if away[ev.ifname] ~= token then
			return		-- back meanwhile
		end
		away[ev.ifname] = nil
		session[ev.ifname] = nil
		nlhook.exec({ LOGOUT, ev.ifname }, { timeout = 10 })
	end)
end, { name = "hotspot-logout" })

nlhook.on("wifi.roam", { ssid = SSID }, function(ev)
	nlhook.log.info("%s roamed from %s to %s", ev.ifname, ev.prev_bssid, ev.bssid)
end)
