"""The one place where CPython and MicroPython differ.

Everything else in firmware/ imports time, gc and friends through here, so a
port to a new runtime touches one file.
"""
import sys
import time
import gc

IS_MPY = sys.implementation.name == "micropython"

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

    _T0 = time.monotonic_ns()
    _TMAX = 1 << 30  # same wrap as MicroPython, so wrap bugs show on CPython too

    def ticks_ms():
        return ((time.monotonic_ns() - _T0) // 1000000) & (_TMAX - 1)

    def ticks_diff(a, b):
        d = (a - b) & (_TMAX - 1)
        return d - _TMAX if d >= _TMAX // 2 else d

    def ticks_add(a, d):
        return (a + d) & (_TMAX - 1)

    def mem_alloc():
        return 0

    def mem_free():
        return 0

    def gc_every(n):
        pass

collect = gc.collect

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
    """Steer now() to `epoch` (UTC seconds since 1970) without touching the RTC."""
    global _offset
    _offset = int(epoch) - int(time.time()) - EPOCH


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def iso(t=None, ms=0):
    """RFC 3339 UTC with milliseconds, as OCPP wants: 2026-11-23T19:00:00.000Z."""
    if t is None:
        t = now()
    g = time.gmtime(t - EPOCH)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (g[0], g[1], g[2], g[3], g[4], g[5], ms)


def _days_from_civil(y, m, d):
    # Howard Hinnant's algorithm: days since 1970-01-01, no tables, no mktime.
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_iso(s):
    """RFC 3339 date-time -> UTC seconds since 1970, or None when malformed."""
    try:
        if len(s) < 19 or s[4] != "-" or s[7] != "-" or s[10] not in "Tt" \
                or s[13] != ":" or s[16] != ":":
            return None
        y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
        h, mi, se = int(s[11:13]), int(s[14:16]), int(s[17:19])
        if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and se < 61):
            return None
        if mo == 2:
            leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
            if d > 28 + leap:
                return None
        elif d > _DAYS[mo - 1]:
            return None
        i = 19
        if i < len(s) and s[i] == ".":
            i += 1
            j = i
            while i < len(s) and "0" <= s[i] <= "9":
                i += 1
            if i == j:
                return None
        tz = s[i:]
        off = 0
        if tz in ("Z", "z"):
            pass
        elif len(tz) == 6 and tz[0] in "+-" and tz[3] == ":":
            off = int(tz[1:3]) * 3600 + int(tz[4:6]) * 60
            if tz[0] == "-":
                off = -off
        else:
            return None
        return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off
    except ValueError:
        return None


def sleep_ms(ms):
    """An awaitable sleep in milliseconds on both runtimes."""
    import asyncio
    if IS_MPY:
        return asyncio.sleep_ms(ms)
    return asyncio.sleep(ms / 1000)


def urandom(n):
    import os
    return os.urandom(n)


def names(path):
    """The names in a folder one at a time, not a list of them all (a full outbox's
    took ~4 KB): MicroPython's ilistdir, CPython's scandir."""
    import os
    if IS_MPY:
        for e in os.ilistdir(path):
            yield e[0]
    else:
        with os.scandir(path) as it:
            for e in it:
                yield e.name


def ssl_context(ca_path):
    """A client TLS context that verifies the server against `ca_path`.

    MicroPython's SSLContext verifies nothing by default, and its unix port
    takes the CA only as DER; CPython takes PEM or DER. ca_path None means
    the system CAs on CPython, and no TLS possible on MicroPython (refused).
    """
    import ssl
    if IS_MPY:
        if ca_path is None:
            raise ValueError("wss needs csms.ca on MicroPython")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        with open(ca_path, "rb") as f:
            data = f.read()
        if data.startswith(b"-----BEGIN"):
            data = pem_to_der(data)
        ctx.load_verify_locations(cadata=data)
        return ctx
    ctx = ssl.create_default_context()
    if ca_path is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.check_hostname = True
        with open(ca_path, "rb") as f:
            data = f.read()
        if not data.startswith(b"-----BEGIN"):
            import ssl as _s
            data = _s.DER_cert_to_PEM_cert(data).encode()
        ctx.load_verify_locations(cadata=data.decode())
    return ctx


def pem_to_der(pem):
    """First certificate of a PEM blob as DER bytes."""
    import binascii
    lines = pem.split(b"\n")
    body = []
    inside = False
    for ln in lines:
        ln = ln.strip()
        if ln.startswith(b"-----BEGIN"):
            inside = True
        elif ln.startswith(b"-----END"):
            break
        elif inside:
            body.append(ln)
    return binascii.a2b_base64(b"".join(body))
