-- Firewall hits to JSON lines: every packet an nftables rule logs to group
-- 10 becomes one line in the event log (--event-log FILE, or syslog), with
-- the fields ulogd2's JSON output has.  In nftables:
--
--   nft add rule inet filter input tcp dport 22 log group 10 prefix '"SSH "'
--
-- nflog rules must name their group: the daemon binds exactly those.

nlhook.on("nflog", { group = 10 }, function(ev)
	nlhook.emit({
		timestamp = ev.time,
		prefix = ev.prefix,
		["oob.in"] = ev.indev,
		["oob.out"] = ev.outdev,
		["src_ip"] = ev.src,
		["dest_ip"] = ev.dst,
		["src_port"] = ev.sport,
		["dest_port"] = ev.dport,
		["ip.protocol"] = ev.proto,
		["ip.totlen"] = ev.len,
		mark = ev.mark,
	})
end, { name = "firewall-json" })

-- Hits the kernel could not queue to us are counted, never silent: at the
-- overrun itself (no group or count known yet), then per group with the
-- number lost, at its next hit.
nlhook.on("nlhook.drop", { source = "nflog" }, function(ev)
	if ev.count then
		nlhook.log.warn("firewall log group %d lost %d hits", ev.group, ev.count)
	else
		nlhook.log.warn("the kernel dropped firewall log messages; how many follows with the next hit")
	end
end)
