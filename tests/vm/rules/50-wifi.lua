-- Every wifi event as a JSON line, and the two rules the test checks.
nlhook.on("wifi.*", {}, function(ev) nlhook.emit(ev) end)
nlhook.on("wifi.connect", { ssid = "CafeNet" }, function(ev)
	nlhook.emit({ rule = "cafe", ifname = ev.ifname, bssid = ev.bssid })
end)
nlhook.on("wifi.connect", { ssid = "OtherNet" }, function(ev)
	nlhook.emit({ rule = "other", ifname = ev.ifname })
end)

-- The access points' stations as nlhook.stations() lists them: at start
-- (a daemon started while clients are associated finds them), in the
-- handler of each station event, and a second after a join.
local function stations()
	local l = {}
	for _, s in ipairs(nlhook.stations()) do
		l[#l + 1] = { ifname = s.ifname, mac = s.mac, iftype = s.iftype, ssid = s.ssid,
			      connected_time = s.connected_time }
	end
	return l
end
nlhook.on("nlhook.start", {}, function()
	nlhook.emit({ rule = "start", stations = stations() })
end)
nlhook.on("wifi.station.*", {}, function(ev)
	nlhook.emit({ rule = ev.type, mac = ev.mac, stations = stations() })
	if ev.type == "wifi.station.new" then
		nlhook.after(1, function()
			nlhook.emit({ rule = "later", mac = ev.mac, stations = stations() })
		end)
	end
end)

-- A radio moved into the namespace wns (a daemon with --all-netns): its
-- connect, and the modes nlhook.links() knows in the event's namespace.
nlhook.on("wifi.connect", { netns = "wns" }, function(ev)
	local modes = {}
	for _, l in ipairs(nlhook.links()) do
		if l.iftype then modes[#modes + 1] = l.ifname .. "=" .. l.iftype end
	end
	nlhook.emit({ rule = "in-ns", ifname = ev.ifname, nsid = ev.nsid, links = table.concat(modes, " ") })
end)
