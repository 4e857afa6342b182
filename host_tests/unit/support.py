"""Helpers for unit tests that run on both CPython and MicroPython."""
import os
import asyncio


def raises(exc, fn, *args, **kw):
    """Call fn and return the exception it raised; fail when it raised none."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def run(coro):
    return asyncio.run(coro)


def meter():
    """(mem, stop): mem() the bytes in use now, gc.mem_alloc on MicroPython and
    tracemalloc's current figure on CPython (traced from this call, until stop())."""
    import compat
    if compat.IS_MPY:
        return compat.mem_alloc, lambda: None
    import tracemalloc
    tracemalloc.start()
    return (lambda: tracemalloc.get_traced_memory()[0]), tracemalloc.stop


_n = [0]


def tmpdir(tag="t"):
    """A fresh empty directory under build/tmp (shared by both runtimes)."""
    base = "build/tmp"
    for p in ("build", base):
        try:
            os.mkdir(p)
        except OSError:
            pass
    _n[0] += 1
    # Random, not the pid: MicroPython's os has no getpid, and two test runs may share build/tmp.
    d = "%s/%s-%s-%d" % (base, tag, "".join("%02x" % b for b in os.urandom(4)), _n[0])
    rmtree(d)
    os.mkdir(d)
    return d


def rmtree(d):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        p = d + "/" + n
        try:
            os.remove(p)
        except OSError:
            rmtree(p)
    os.rmdir(d)
