nlhook.on("link.up", { ifindex = 1e300, mtu = 1/0 }, function(ev) end)
