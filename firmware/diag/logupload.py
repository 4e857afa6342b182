"""N01 GetLog: the upload job, its state and its LogStatusNotifications.

Loaded at the first GetLog or TriggerMessage(LogStatusNotification), not at
boot (diag/getlog.py only registers the handlers), and with it
drivers/upload.py.

Accepted (with a filename) when the log holds an entry in the window,
Rejected otherwise. The upload task sends Uploading, then Uploaded or the
most precise failure, each once, each with the requestId; `retries` more
attempts `retryInterval` s apart follow a failed one. A GetLog arriving
while an upload runs cancels it: AcceptedCanceled for both the response and
a LogStatusNotification with the old requestId, then the new upload runs.

Reading never holds the log in RAM: an attempt takes a snapshot of the ring
(segment numbers and byte lengths), counts the window's bytes in a first
pass for Content-Length, then streams the same bytes; lines appended
meanwhile are not part of it.
"""
import asyncio
import os

import compat
from drivers import upload
from protocol.session import Offline

NOTIFY_WAIT_S = 300  # how long a status waits for the CSMS connection to come back
FINAL = ("Uploaded", "UploadFailure", "BadMessage", "NotSupportedOperation", "PermissionDenied")


def filename(station_id, log_type, t):
    """<station>-<LogType>-<UTC YYYYMMDDTHHMMSSZ>.log, safe as a file name."""
    s = compat.iso(t)
    stamp = s[0:4] + s[5:7] + s[8:10] + "T" + s[11:13] + s[14:16] + s[17:19] + "Z"
    out = ""
    for c in "%s-%s-%s" % (station_id, log_type, stamp):
        out += c if ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "._-") else "_"
    return out + ".log"


class GetLog:
    RETRY_S = 30       # retryInterval when the request has none

    def __init__(self, station):
        self.st = station
        self.task = None
        self.rid = None        # requestId of the latest upload
        self.last = None       # last status sent for it
        self.busy = False      # a job runs (or, canceled, still unwinds)
        self.canceled = []     # requestIds whose AcceptedCanceled is still to send

    async def get_log(self, req):
        st = self.st
        ring = st.seclog if req["logType"] == "SecurityLog" else st.log
        lp = req["log"]
        lo = _time(lp.get("oldestTimestamp"))
        hi = _time(lp.get("latestTimestamp"))
        if not await has(ring, lo, hi):
            st.log.write("GetLog %d: no %s entries in the window, rejected" % (req["requestId"], req["logType"]))
            return {"status": "Rejected"}
        st.getlog = self    # an upload that ended during the scan may have unloaded the job
        status = "Accepted"
        if self.running():
            self.task.cancel()
            self.canceled.append(self.rid)
            status = "AcceptedCanceled"
        name = filename(st.board["station"]["id"], req["logType"], compat.now())
        self.rid = req["requestId"]
        self.last = None
        self.task = asyncio.create_task(run(self, req, ring, lo, hi, name))
        st.log.write("GetLog %d: %s %s as %s" % (self.rid, req["logType"], status, name))
        return {"status": status, "filename": name}

    def running(self):
        """An upload is in progress: its final status is not decided yet."""
        return self.task is not None and not self.task.done() and self.last not in FINAL

    async def trigger(self):
        """TriggerMessage(LogStatusNotification): the current status, or Idle."""
        if self.running() and self.rid is not None:
            await self.send(self.last or "Uploading", self.rid)
        else:
            await self.send("Idle", None)

    async def status(self, rid, status):
        """Send a status of upload `rid` once: only when it changes."""
        if self.rid == rid:
            if self.last == status:
                return
            self.last = status
        await self.send(status, rid)

    async def send(self, status, rid):
        """One LogStatusNotification; waits for the connection while offline."""
        s = self.st.session
        p = {"status": status}
        if rid is not None:
            p["requestId"] = rid
        waited = 0
        while True:
            try:
                await s.call("LogStatusNotification", p)
                return
            except Offline:
                pass
            except Exception as e:
                self.st.log.write("LogStatusNotification %s %s failed: %r" % (status, rid, e))
                return
            if waited >= NOTIFY_WAIT_S * 1000:
                self.st.log.write("LogStatusNotification %s %s dropped: offline" % (status, rid))
                return
            await compat.sleep_ms(500)
            waited += 500


def _time(s):
    return None if s is None else compat.parse_iso(s)


def get(station):
    """The station's GetLog state, made at the first use."""
    g = getattr(station, "getlog", None)
    if g is None:
        g = station.getlog = GetLog(station)
    return g


# ---- reading a ring ---------------------------------------------------------------

_LATEST = 4102444800    # 2100-01-01: later bounds are clamped (32-bit ports' gmtime)


def snapshot(ring):
    """[(segment, byte length)] as they are now, oldest first: what an attempt reads."""
    out = []
    for n in ring.segments():
        try:
            out.append((n, os.stat(ring.path(n))[6]))
        except OSError:
            pass
    return out


def chunks(ring, snap, oldest=None, latest=None, buf=None):
    """Yield the bytes of `snap` whose entries lie in [oldest, latest] (UTC
    seconds; None: unbounded), oldest first.

    Without a window the segments go out as they are, in pieces of `buf`
    (a bytearray the caller owns: a piece is valid until the next one).
    With one, see lines(). A segment of the snapshot that vanished raises
    OSError.
    """
    if oldest is not None or latest is not None:
        for piece in lines(ring, snap, _stamp(oldest), _stamp(latest)):
            yield piece
        return
    if buf is None:
        buf = bytearray(512)
    mv = memoryview(buf)
    for n, size in snap:
        with open(ring.path(n), "rb") as f:
            left = size
            while left > 0:
                k = f.readinto(mv[:min(left, len(buf))])
                if not k:
                    raise OSError("log segment shrank")
                left -= k
                yield mv[:k]


def lines(ring, snap, lo, hi):
    """The stamped lines of `snap` within [lo, hi] (bytes stamps or None),
    one at a time. Between them an empty piece now and then marks a place
    where the caller may yield to the event loop, so scanning a big log for
    a narrow window never stalls the other tasks."""
    skipped = 0
    for n, size in snap:
        with open(ring.path(n), "rb") as f:
            left = size
            while left > 0:
                ln = f.readline()
                if not ln:
                    raise OSError("log segment shrank")
                left -= len(ln)
                if left < 0:
                    ln = ln[:len(ln) + left]
                if in_window(ln, lo, hi):
                    yield ln
                else:
                    skipped += 1
                    if skipped >= 64:
                        skipped = 0
                        yield b""


async def has(ring, oldest=None, latest=None):
    """Does the ring hold an entry in [oldest, latest]? Scans, yielding as it goes."""
    for piece in lines(ring, snapshot(ring), _stamp(oldest), _stamp(latest)):
        if piece:
            return True
        await compat.sleep_ms(0)
    return False


def _stamp(t):
    """UTC seconds -> the bytes YYYY-MM-DDTHH:MM:SS a line starts with (None stays None)."""
    if t is None:
        return None
    t = min(max(t, compat.EPOCH), _LATEST)
    return compat.iso(t)[:19].encode()


def stamped(ln):
    """Does a log line (bytes) start with a timestamp like 2026-11-23T19:00:00?"""
    return len(ln) >= 20 and ln[4] == 45 and ln[7] == 45 and ln[10] == 84 and ln[13] == 58


def in_window(ln, lo, hi):
    """Is a stamped line within [lo, hi] (bytes YYYY-MM-DDTHH:MM:SS; None: open)?

    The fixed-width UTC stamps order like the times they stand for, so bytes
    compare without parsing the date."""
    if not stamped(ln):
        return False
    t = ln[:19]
    return (lo is None or t >= lo) and (hi is None or t <= hi)


# ---- the upload task --------------------------------------------------------------

async def run(g, req, ring, lo, hi, name):
    """The task of one GetLog: AcceptedCanceled for what it replaced, Uploading,
    attempts, final status. The last task to end gives the job's heap back
    (diag/getlog.py unload).

    It never holds the task it replaced: on MicroPython a coroutine's frame
    can keep a reference after the variable is cleared (measured: passing
    the old task on through one more call leaked every canceled upload,
    chained to the next). It waits on g.busy, which a canceled job clears
    as it unwinds, and takes the old requestIds from g.canceled."""
    while g.busy:               # a canceled job still closing its connection
        await compat.sleep_ms(10)
    g.busy = True
    try:
        await _run(g, req, ring, lo, hi, name)
    finally:
        g.busy = False
        if g.task is asyncio.current_task() and g.st.getlog is g:
            from diag import getlog
            getlog.unload(g.st)


async def _run(g, req, ring, lo, hi, name):
    st = g.st
    rid = req["requestId"]
    while g.canceled:
        orid = g.canceled[0]
        st.log.write("GetLog %d: canceled by GetLog %d" % (orid, rid))
        await g.send("AcceptedCanceled", orid)
        g.canceled.pop(0)
    try:
        loc = upload.parse(req["log"]["remoteLocation"])
    except upload.UploadError as e:
        st.log.write("GetLog %d: %s: %s" % (rid, e.status, e.msg))
        await g.status(rid, e.status)
        return
    await g.status(rid, "Uploading")
    attempts = 1 + max(0, req.get("retries", 0))
    interval = min(max(0, req.get("retryInterval", g.RETRY_S)), 86400)
    final = "UploadFailure"
    for a in range(attempts):
        if a:
            await compat.sleep_ms(interval * 1000)
        ring.hold()
        try:
            n = await attempt(st, loc, ring, lo, hi, name)
            st.log.write("GetLog %d: %s uploaded, %d bytes, attempt %d/%d" % (rid, name, n, a + 1, attempts))
            final = "Uploaded"
            break
        except upload.UploadError as e:
            final = e.status
            why = e.msg
            if e.security:
                st.seclog.write("log upload to %s: %s" % (loc.public(), e.msg))
        except Exception as e:
            final = "UploadFailure"
            why = repr(e)
        finally:
            ring.release()
        st.log.write("GetLog %d: attempt %d/%d to %s failed: %s" % (rid, a + 1, attempts, loc.public(), why))
    await g.status(rid, final)


async def attempt(st, loc, ring, lo, hi, name):
    """One upload of the log as it is now (a snapshot); its byte count."""
    snap = snapshot(ring)
    buf = bytearray(512)
    size = 0
    for piece in chunks(ring, snap, lo, hi, buf):
        if piece:
            size += len(piece)
        else:
            await compat.sleep_ms(0)
    ssl = None
    if loc.scheme == "https":
        ca = st.board["csms"].get("ca")
        try:
            ssl = compat.ssl_context(st.config_path(ca) if ca else None)
        except Exception as e:
            raise upload.UploadError("TLS set-up: %r" % e, security=True)
    method = (st.board.get("log") or {}).get("upload", "PUT")

    def pieces():
        return chunks(ring, snap, lo, hi, buf)

    await upload.send(loc, name, size, pieces, method, ssl)
    return size
