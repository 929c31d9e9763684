nlhook.on({"link.*","addr.*"}, {ifname={"eth*","!lo"}, ifindex=2}, function(ev) nlhook.emit(ev) end, {rate=5, debounce=0.1, name="x"})
