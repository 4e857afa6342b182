"""The station's logs: bounded rings of files with one UTC-stamped line per entry.

Two rings exist: the diagnostics log ("diagnostics") and the security log
("security"). Each is NAME.0.log .. NAME.<files-1>.log-style segments under
<storage>/logs, numbered upward; the newest segment takes the appends and,
past `bytes // files`, the next number starts and the oldest segment is
deleted. Sizes are bytes; a line takes at most LINE of them (or a
segment's), so the files never exceed `bytes`. Nothing is ever read whole
into RAM.

Uploads read a snapshot of the segments (diag/logupload.py); while one
holds the ring, rotation keeps one extra segment so the snapshot's oldest
segment survives a rotation (docs/logs.md).
"""
import os

import compat
from drivers import store

LINE = 1024     # bytes of a line at most, "\n" included: a longer one (echoed CSMS text) is clipped


class LogRing:
    # Defaults in the class, an instance's own only once set: each attribute of
    # an instance is a slot of its table (16 bytes on a 64-bit port).
    echo = False
    secrets = ()   # strings never written (e.g. the CSMS password): `ring.secrets += (s,)`
    holds = 0      # uploads reading a snapshot: rotation keeps one more segment

    def __init__(self, folder, name, max_bytes, files, echo=False):
        self.folder = folder
        self.name = name
        self.files = max(2, files)
        self.seg_bytes = max(512, max_bytes // self.files)
        if echo:
            self.echo = True
        store.makedirs(folder)
        segs = self.segments()
        self.cur = segs[-1] if segs else 0
        try:
            self.size = os.stat(self.path(self.cur))[6]
        except OSError:
            self.size = 0

    def path(self, n):
        return "%s/%s.%d.log" % (self.folder, self.name, n)

    def segments(self):
        """Segment numbers present, oldest first."""
        pre = self.name + "."
        out = []
        for n in os.listdir(self.folder):
            if n.startswith(pre) and n.endswith(".log"):
                try:
                    out.append(int(n[len(pre):-4]))
                except ValueError:
                    pass
        out.sort()
        return out

    def write(self, text):
        for s in self.secrets:
            if s:
                text = text.replace(s, "***")
        line = "%s %s\n" % (compat.iso(), text.replace("\n", " "))    # one string, not three joined
        if self.echo:
            print(self.name[0].upper() + " " + line, end="")
        # Bytes, not characters: the bound is the files' size. A line over
        # LINE (or a segment) is cut where a character ends, marked "...".
        line = line.encode()
        n = min(LINE, self.seg_bytes) - 4
        if len(line) > n + 4:
            while line[n] & 0xC0 == 0x80:     # a UTF-8 continuation byte
                n -= 1
            line = line[:n] + b"...\n"
        if self.size + len(line) > self.seg_bytes and self.size:
            self.cur += 1
            self.size = 0
            segs = self.segments()
            while len(segs) >= self.files + (self.holds > 0):
                store.remove(self.path(segs.pop(0)))
        try:
            with open(self.path(self.cur), "ab") as f:
                f.write(line)
            self.size += len(line)
        except OSError:
            pass  # a full or failed flash must not stop the station

    def lines(self):
        """Yield (epoch, line) for each stamped entry, oldest first, a line at a time."""
        for n in self.segments():
            try:
                f = open(self.path(n))
            except OSError:
                continue        # rotated away meanwhile
            with f:
                for ln in f:
                    t = compat.parse_iso(ln[:24])
                    if t is not None:
                        yield t, ln

    def hold(self):
        """An upload reads this ring: keep one segment more until release()."""
        self.holds += 1

    def release(self):
        self.holds = max(0, self.holds - 1)
