-- Link up/down: log every edge of every interface but loopback, and run
-- an action once a wired link has had carrier for 2 seconds (a flapping
-- cable runs it once, not on every flap).

nlhook.on({ "link.up", "link.down", "link.carrier", "link.nocarrier" }, { ifname = "!lo" },
	function(ev)
		nlhook.log.info("%s: %s (operstate %s)", ev.ifname, ev.type, ev.operstate or "?")
	end)

nlhook.on("link.carrier", { ifname = { "eth*", "en*" } }, function(ev)
	-- Show what the link looks like now that it settled.
	nlhook.exec({ "/usr/sbin/ip", "-brief", "address", "show", "dev", ev.ifname }, {
		timeout = 5,
		on_exit = function(status, stdout)
			nlhook.log.info("%s settled: %s", ev.ifname, (stdout or ""):gsub("%s+$", ""))
		end,
	})
end, { debounce = 2, name = "wired-settled" })

nlhook.on("link.rename", {}, function(ev)
	nlhook.log.info("%s is now called %s", ev.old_ifname, ev.ifname)
end)
