-- Presence: who is home, from this access point's own station events
-- (hostapd on this machine; nothing is polled).  A device that joins is
-- home at once; one that leaves is away only if it has not come back
-- within GRACE seconds, because phones sleep their radio and drop off
-- the network for a minute at a time.  Each change is one JSON line in
-- the event log (nlhook.emit), for whatever follows that log:
--   {"presence":"home","mac":"aa:bb:cc:dd:ee:ff","name":"alice","ifname":"wlan0","ssid":"HomeNet"}
-- Where the daemon publishes to an MQTT broker (--mqtt),
-- nlhook.mqtt.publish can take the place of nlhook.emit in publish()
-- below, with a retained topic per name.

local GRACE = 120
-- The devices to follow, by MAC (lowercase), with a name; empty: every
-- station that joins, named by its MAC.
local NAMES = {
	-- ["aa:bb:cc:dd:ee:ff"] = "alice",
}

local state = {}	-- mac -> "home" or "away"
local leaving = {}	-- mac -> token of the "away" waiting for the grace to end

local function followed(mac)
	return next(NAMES) == nil or NAMES[mac] ~= nil
end

local function publish(mac, now, ev)
	if state[mac] == now then
		return
	end
	state[mac] = now
	nlhook.emit({ presence = now, mac = mac, name = NAMES[mac] or mac, ifname = ev.ifname, ssid = ev.ssid })
end

-- Stations already there when the daemon starts, or the file is reloaded.
nlhook.on({ "nlhook.start", "nlhook.reload" }, {}, function()
	for _, s in ipairs(nlhook.stations()) do
		if followed(s.mac) and s.iftype == "ap" then
			leaving[s.mac] = nil
			publish(s.mac, "home", s)
		end
	end
end, { name = "presence-start" })

nlhook.on("wifi.station.new", { iftype = "ap" }, function(ev)
	if not followed(ev.mac) then
		return
	end
	leaving[ev.mac] = nil
	publish(ev.mac, "home", ev)
end, { name = "presence-home" })

nlhook.on("wifi.station.del", { iftype = "ap" }, function(ev)
	if not followed(ev.mac) then
		return
	end
	local token = {}
	leaving[ev.mac] = token
	nlhook.after(GRACE, function()
		if leaving[ev.mac] ~= token then
			return		-- back meanwhile
		end
		leaving[ev.mac] = nil
		-- Moved to another access point of this machine (the other band): still home.
		for _, s in ipairs(nlhook.stations()) do
			if s.mac == ev.mac then
				return
			end
		end
		publish(ev.mac, "away", ev)
	end)
end, { name = "presence-away" })
