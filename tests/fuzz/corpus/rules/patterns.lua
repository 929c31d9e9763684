nlhook.on("link.*", { ifname = { "caf\xff*", "caf\\xff0", "!a\\x5cb*" }, mac = "AA:BB:*", mtu = "!1500", up = "!false" },
	function(ev) nlhook.emit({ [ev.ifname] = "\255\0", ev.ifname }) end)
nlhook.on("addr.add", { address = "!10.0.0.0/8" }, function(ev) nlhook.emit(ev) end)
nlhook.on("nflog", { group = { 10, "11" }, prefix = "caf\xc3\xa9*" }, function(ev) nlhook.emit(ev) end)
nlhook.on("nf*", { src = "!fe80::/10" }, function(ev) end)
