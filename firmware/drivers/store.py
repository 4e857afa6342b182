"""Persistent state as small JSON files, written atomically.

save() writes NAME.tmp, flushes it and renames it over NAME, so after a power
cut a file holds either the old state or the new one, never half of each.
"""
import json
import os


def makedirs(path):
    """mkdir -p (MicroPython's os has no makedirs)."""
    cur = "/" if path[:1] == "/" else ""
    for p in path.split("/"):
        if p:
            cur += p
            try:
                os.mkdir(cur)
            except OSError:
                pass
            cur += "/"


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def sync(f):
    f.flush()
    if hasattr(os, "fsync"):
        os.fsync(f.fileno())


def replace(src, dst):
    """rename() over an existing file; FAT refuses that, so remove dst first there."""
    try:
        os.rename(src, dst)
    except OSError:
        remove(dst)
        os.rename(src, dst)


class Store:
    bad = ()     # names load() found corrupt (they exist but do not parse), each said once

    def __init__(self, root, log=None):
        self.root = root
        self.log = log     # a function to tell the diagnostics log (the driver imports no diag code)
        makedirs(root)
        # A temp file left by a power cut: when its target still exists the cut
        # came before the rename and the temp may be partial, so drop it; when
        # the target is gone (FAT renames only onto a free name) the temp is
        # the complete new state, so finish the rename.
        for n in os.listdir(root):
            if n.endswith(".tmp"):
                t = root + "/" + n
                try:
                    os.stat(t[:-4])
                    remove(t)
                except OSError:
                    os.rename(t, t[:-4])

    def load(self, name, default=None):
        """NAME's JSON, or default when it is missing or corrupt. A corrupt one is
        logged the first time and named in `bad`, for a caller that must know."""
        try:
            with open(self.root + "/" + name) as f:
                return json.load(f)
        except OSError:
            pass
        except ValueError:
            self._bad(name)
        return default

    def rows(self, name):
        """NAME's values, one JSON value per line: large state (hundreds of
        monitors) read a row at a time, not whole. Nothing when it is missing;
        a line that does not parse ends it, logged as corrupt."""
        try:
            f = open(self.root + "/" + name)
        except OSError:
            return
        with f:
            for ln in f:
                try:
                    r = json.loads(ln)
                except ValueError:
                    self._bad(name)
                    return
                yield r

    def _bad(self, name):
        if name not in self.bad:
            self.bad += (name,)
            if self.log:
                self.log("%s/%s corrupt: not used" % (self.root, name))

    def write(self, name, fill):
        """Atomically replace NAME with what fill(file) writes (for streaming large state),
        or with `fill` as JSON when it is no function (save)."""
        p = self.root + "/" + name
        with open(p + ".tmp", "w") as f:
            if callable(fill):
                fill(f)
            else:
                json.dump(fill, f)
            sync(f)
        replace(p + ".tmp", p)

    save = write     # save(name, obj): one function, not a second one and a closure
