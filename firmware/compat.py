"""The one place where CPython and MicroPython differ.

Everything else in firmware/ imports time, gc and friends through here, so a
port to a new runtime touches one file. The CPython side is kept short: its
code is in every device's .mpy too.
"""
import time
import gc
import os

IS_MPY = hasattr(time, "ticks_ms")     # MicroPython's time has it, CPython's not

if IS_MPY:
    from micropython import const
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
    mem_alloc = gc.mem_alloc
    mem_free = gc.mem_free
    gc_every = gc.threshold
else:
    def const(x):
        return x

    gc_every = const    # no collection threshold to set
    mem_alloc = mem_free = int      # int() is 0: no heap figures

    _T0 = time.monotonic_ns()

    # The same 2**30 wrap as MicroPython, so wrap bugs show on CPython too.
    def ticks_ms():
        return (time.monotonic_ns() - _T0) // 1000000 & 0x3FFFFFFF

    def ticks_diff(a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    def ticks_add(a, d):
        return (a + d) & 0x3FFFFFFF

collect = gc.collect
urandom = os.urandom

# Seconds between 1970-01-01 and the port's own epoch (2000-01-01 on ESP32).
EPOCH = 946684800 if time.gmtime(0)[0] == 2000 else 0

_offset = 0  # added to time.time(): set from NTP or the CSMS's currentTime


def now():
    """Wall-clock UTC seconds since 1970 as an int."""
    return int(time.time()) + EPOCH + _offset


def now_ms():
    """Wall-clock UTC milliseconds since 1970 (int; a bigint on 32-bit ports)."""
    return int(time.time() * 1000) + (EPOCH + _offset) * 1000


def set_time(epoch):
    """Steer now() to `epoch` (UTC seconds since 1970) without touching the RTC.
    False, and nothing changes, for a time before 2023-11-14: only a broken
    server gives one, and a 32-bit port's gmtime() fails before its epoch."""
    global _offset
    if epoch < 1700000000:
        return False
    _offset = int(epoch) - int(time.time()) - EPOCH
    return True


def iso(t=None, ms=0):
    """RFC 3339 UTC with milliseconds, as OCPP wants: 2026-11-23T19:00:00.000Z."""
    if t is None:
        t = now()
    g = time.gmtime(t - EPOCH)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (g[0], g[1], g[2], g[3], g[4], g[5], ms)


def _days(y, m, d):
    # Howard Hinnant's days_from_civil: days since 1970-01-01, no tables, no
    # mktime. Month 13 is January of the next year.
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    y -= era * 400      # the year of the era
    return era * 146097 + y * 365 + y // 4 - y // 100 + (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 719469


def parse_iso(s):
    """RFC 3339 date-time -> UTC seconds since 1970, or None when malformed."""
    try:
        if len(s) < 19 or s[4] + s[7] + s[10].upper() + s[13] + s[16] != "--T::":
            return None
        y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
        h, mi, se = int(s[11:13]), int(s[14:16]), int(s[17:19])
        t = _days(y, mo, d)
        # a real date: before the first of the next month
        if not (0 < mo < 13 and 0 < d and h < 24 and mi < 60 and se < 61) or t >= _days(y, mo + 1, 1):
            return None
        i = 19
        if s[i:i + 1] == ".":
            i += 1
            while "0" <= s[i:i + 1] <= "9":
                i += 1
            if i == 20:
                return None
        tz = s[i:]
        if tz.upper() == "Z":
            tz = 0
        elif len(tz) == 6 and tz[0] in "+-" and tz[3] == ":":
            tz = (int(tz[1:3]) * 60 + int(tz[4:6])) * (60 if tz[0] == "+" else -60)
        else:
            return None
        return t * 86400 + h * 3600 + mi * 60 + se - tz
    except ValueError:
        return None


def sleep_ms(ms):
    """An awaitable sleep in milliseconds on both runtimes."""
    import asyncio
    if IS_MPY:
        return asyncio.sleep_ms(ms)
    return asyncio.sleep(ms / 1000)


def names(path):
    """The names in a folder one at a time, not a list of them all (a full outbox's
    took ~4 KB): MicroPython's ilistdir (CPython's list is no matter)."""
    if IS_MPY:
        for e in os.ilistdir(path):
            yield e[0]
    else:
        yield from os.listdir(path)


def ssl_context(ca_path):
    """A client TLS context that verifies the server against `ca_path`.

    MicroPython's SSLContext verifies nothing by default, and its unix port
    takes the CA only as DER (the first certificate of a PEM file is
    converted); CPython takes PEM or DER. ca_path None means the system CAs
    on CPython, and no TLS possible on MicroPython (refused).
    """
    import ssl
    if ca_path is None:
        if IS_MPY:
            raise ValueError("TLS needs csms.ca on MicroPython")
        return ssl.create_default_context()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)    # on CPython, checks the host name too
    ctx.verify_mode = ssl.CERT_REQUIRED
    with open(ca_path, "rb") as f:
        data = f.read()
    i = data.find(b"-----BEGIN")      # PEM, maybe after comments or a blank line
    if i >= 0:
        data = data[i:]
        if IS_MPY:      # the base64 between the BEGIN line and the END line (whitespace skipped)
            import binascii
            data = binascii.a2b_base64(data[data.find(b"\n"):data.find(b"-----END")])
        else:
            data = data.decode()    # cadata: str is PEM, bytes DER
    ctx.load_verify_locations(cadata=data)
    return ctx
