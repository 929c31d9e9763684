#!/usr/bin/env python3
"""The man pages against the code: each page renders with man -l without a
warning, nlhook-rules(5) names every event type and field (in its class's
section) and every Lua API function, nlhookd(8) every option, nlhook(1)
every command; the bash completion knows every event type.

Names are read from the sources (the X-macro lists in src/core/event.h, the
class names in event.c, the API table in lua-api.c, the option table in
nlhookd.c, the command dispatch in cli/nlhook.c), so a new name in the code
fails this test until it is documented."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

src = os.environ.get("SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
build = os.environ.get("BUILDDIR")
failures = []
checks = 0


def check(ok, what):
    global checks
    checks += 1
    if ok:
        print(f"ok {checks} - {what}")
    else:
        failures.append(what)
        print(f"not ok {checks} - {what}")


def read(path):
    with open(os.path.join(src, path), encoding="utf-8") as f:
        return f.read()


def macro_body(text, name):
    """The body of a #define NAME(X) ... with its continuation lines."""
    m = re.search(r"^#define " + re.escape(name) + r"\(X\)((?:.*\\\n)*.*)$", text, re.M)
    if not m:
        sys.exit(f"man-check: #define {name}(X) not found in src/core/event.h")
    return m.group(1)


# --- the names in the code ---
event_h = read("src/core/event.h")
types = re.findall(r'X\(\w+,\s*"([^"]+)",\s*(\w+)\)', macro_body(event_h, "NLH_EVENT_TYPES"))
class_names = dict(re.findall(r'CLASS_\((\w+),\s*"([^"]+)"', read("src/core/event.c")))
fields = {}
for cls in re.findall(r"^#define NLH_(\w+)_FIELDS\(X\)", event_h, re.M):
    fields[cls] = re.findall(r"X\((\w+),\s*\w+\)", macro_body(event_h, f"NLH_{cls}_FIELDS"))
if len(types) < 20 or len(fields) < 6 or not class_names:
    sys.exit(f"man-check: could not read the event lists ({len(types)} types, {len(fields)} classes)")

api = read("src/rules/lua-api.c")
api_open = api[api.index("void rules_api_open("):]
api_open = api_open[:api_open.index("\n}\n")]
# Each luaL_Reg array is a table: fns[] is nlhook's, mqtt_fns[] nlhook.mqtt's.
functions = []
for table, body in re.findall(r"luaL_Reg (\w*?)_?fns\[\] = \{(.*?)\n\t\};", api_open, re.S):
    functions += [".".join(filter(None, ["nlhook", table, n]))
                  for n in re.findall(r'\{\s*"(\w+)",\s*(?:rules_)?api_\w+\s*\}', body)]
functions += ["nlhook.log." + n for n in re.findall(r'\{\s*"(\w+)",\s*LOG_\w+\s*\}', api_open)]
nlhookd_c = read("src/nlhookd.c")
options = re.findall(r'\{\s*"([\w-]+)",\s*(?:no|required|optional)_argument', nlhookd_c)
commands = re.findall(r'\{\s*"(\w+)",\s*cmd_\w+\s*\}', read("src/cli/nlhook.c"))
if len(functions) < 5 or len(options) < 5 or len(commands) < 3:
    sys.exit(f"man-check: could not read the API, options or commands "
             f"({functions}, {options}, {commands})")


# --- the pages ---
def plain(text):
    # scdoc escapes: \* and \_ stand for the characters.
    return text.replace("\\", "")


def sections(text):
    """'## NAME events' subsections of nlhook-rules(5), by class name."""
    out = {}
    for m in re.finditer(r"^## (\S+) events\n(.*?)(?=^#)", text + "\n#", re.M | re.S):
        out[m.group(1)] = plain(m.group(2))
    return out


rules = read("man/nlhook-rules.5.scd")
secs = sections(rules)
for name, cls in types:
    cname = class_names.get(cls, cls.lower())
    check(f"*{name}*" in secs.get(cname, ""), f"nlhook-rules(5) '## {cname} events' lists type {name}")
for cls, names in fields.items():
    cname = class_names.get(cls, cls.lower())
    for f in names:
        check(f"*{f}*" in secs.get(cname, ""), f"nlhook-rules(5) '## {cname} events' lists field {f}")
rules_plain = plain(rules)
for fn in functions:
    check(re.search(r"^## .*" + re.escape(fn) + r"\(", rules_plain, re.M) is not None,
          f"nlhook-rules(5) has a section for {fn}()")

nlhookd_8 = plain(read("man/nlhookd.8.scd"))
for o in options:
    check(f"*--{o}*" in nlhookd_8, f"nlhookd(8) documents --{o}")
nlhook_1 = plain(read("man/nlhook.1.scd"))
for c in commands:
    check(re.search(r"^\*" + c + r"\*", nlhook_1, re.M) is not None, f"nlhook(1) documents {c}")

completion = read("completion/nlhook.bash")
for name, _ in types:
    check(re.search(r"(?<![\w.])" + re.escape(name) + r"(?![\w.])", completion) is not None,
          f"bash completion knows {name}")
for c in commands:
    check(c in completion, f"bash completion knows {c}")

# --- rendering ---
scdoc = shutil.which("scdoc")
man = shutil.which("man")
check(scdoc is not None and man is not None, "scdoc and man are installed (apt-get install scdoc man-db)")
if scdoc and man:
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    with tempfile.TemporaryDirectory() as tmp:
        for page in ("nlhookd.8", "nlhook.1", "nlhook-rules.5"):
            out = os.path.join(tmp, page)
            built = os.path.join(build, "man", page) if build else None
            with open(os.path.join(src, "man", page + ".scd"), "rb") as i, open(out, "wb") as o:
                r = subprocess.run([scdoc], stdin=i, stdout=o, stderr=subprocess.PIPE)
            check(r.returncode == 0, f"scdoc builds {page}: {r.stderr.decode().strip()}")
            if built and os.path.exists(built):
                with open(built, "rb") as a, open(out, "rb") as b:
                    check(a.read() == b.read(), f"the built {page} is current")
            r = subprocess.run([man, "--warnings", "-l", out], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            text = r.stdout.decode(errors="replace")
            check(r.returncode == 0 and not r.stderr, f"man -l {page} renders without warnings: "
                  + r.stderr.decode(errors="replace").strip())
            name = page.rsplit(".", 1)[0]
            check(re.search(r"^NAME\n\s+" + re.escape(name) + " - ", text, re.M) is not None,
                  f"{page} renders a NAME section for {name}")

print(f"1..{checks}")
if failures:
    print(f"# {len(failures)} failed", file=sys.stderr)
    sys.exit(1)
