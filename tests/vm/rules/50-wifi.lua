-- Every wifi event as a JSON line, and the two rules the test checks.
nlhook.on("wifi.*", {}, function(ev) nlhook.emit(ev) end)
nlhook.on("wifi.connect", { ssid = "CafeNet" }, function(ev)
	nlhook.emit({ rule = "cafe", ifname = ev.ifname, bssid = ev.bssid })
end)
nlhook.on("wifi.connect", { ssid = "OtherNet" }, function(ev)
	nlhook.emit({ rule = "other", ifname = ev.ifname })
end)
