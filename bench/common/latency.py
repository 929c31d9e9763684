"""Latencies from toggles (bench/common/toggle) to stamped lines (bench/common/stamp).

Each toggle file holds "NS STATE" lines (CLOCK_REALTIME just before each
request); each stamps file "NS LINE" (when the FIFO reader got the line).
A toggle's latency is the time to the first stamped line after it that
reports its state, before the next toggle.
"""
import re

# What a receiver's line says of the link, by kind of receiver.
STATES = {
    "raw": lambda line: line if line in ("up", "down") else None,
    "ip": lambda line: (lambda m: ("up" if "UP" in m.group(1).split(",") else "down") if m else None)(
        re.match(r"\d+: vbA[@:].*?<([^>]*)>", line)),
    "emit": lambda line: "up" if '"link.up"' in line else "down" if '"link.down"' in line else None,
    "script": lambda line: {"link.up": "up", "link.down": "down"}.get(line),
    "netplug": lambda line: {"in": "up", "out": "down"}.get(line),
}


def latencies(toggles_path, stamps_path, kind, edges=("up", "down")):
    """µs from each toggle to the first line after it reporting its state."""
    state_of = STATES[kind]
    toggles = [(int(t), s) for t, s in (l.split() for l in open(toggles_path))]
    stamps = []
    for l in open(stamps_path):
        t, _, rest = l.partition(" ")
        s = state_of(rest.strip())
        if s:
            stamps.append((int(t), s))
    lat, j = [], 0
    for i, (t0, s) in enumerate(toggles):
        t_next = toggles[i + 1][0] if i + 1 < len(toggles) else 1 << 62
        while j < len(stamps) and stamps[j][0] < t0:
            j += 1
        k = j
        while k < len(stamps) and stamps[k][0] < t_next and stamps[k][1] != s:
            k += 1
        if k < len(stamps) and stamps[k][0] < t_next:
            if s in edges:
                lat.append((stamps[k][0] - t0) / 1000.0)
            j = k + 1
    return lat


def pct(l, p):
    l = sorted(l)
    return l[min(len(l) - 1, int(len(l) * p / 100))] if l else float("nan")
