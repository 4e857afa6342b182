"""N01 GetLog: the upload job, its state and its LogStatusNotifications.

Loaded at the first GetLog or TriggerMessage(LogStatusNotification), not at
boot (diag/getlog.py only registers the handlers); drivers/upload.py only
once the upload task runs, after the GetLog response went out, so the two
modules never add to the heap a request's handling needs. Both are dropped
again when no upload runs.

Accepted (with a filename) when the log holds an entry in the window,
Rejected otherwise. The upload task sends Uploading, then Uploaded or the
most precise failure, each once, each with the requestId; `retries` more
attempts `retryInterval` s apart follow a failed one. A GetLog arriving
while an upload runs cancels it: AcceptedCanceled for both the response and
a LogStatusNotification with the old requestId, then the new upload runs.

Reading never holds the log in RAM: an attempt takes a snapshot of the ring
(segment numbers and byte lengths), counts the window's bytes in a first
pass for Content-Length, then streams the same bytes in 512-byte pieces (1 KB
ones made the heap bench's peak 0.5 KB higher); lines
appended meanwhile are not part of it.
"""
import asyncio
import os

import compat
from compat import const
from protocol.session import Offline

LOG = "GetLog %d: %s %s %s"     # one format for all: each long string constant is a heap object


def chunks(ring, snap, w, n):
    """Yield the bytes of `snap` through a buffer of `n` bytes (a piece is
    valid until the next): full buffers, the last one shorter. Without a
    window (w = [None, None]) all of it; with one, its stamped lines only,
    read a line at a time, and an empty piece every 64 lines skipped so a
    scan for a narrow window lets the other tasks run. A segment that
    vanished or shrank raises OSError.

    `snap`, when empty, is first filled with the ring's [(segment, byte
    length)] as they are now, oldest first: what an attempt reads, both
    passes alike."""
    buf = bytearray(n)      # made at the first piece: an upload's, once connected
    if not snap:
        for n in ring.segments():
            try:
                snap.append((n, os.stat(ring.path(n))[6]))
            except OSError:
                pass
    lo, hi = w
    mv = memoryview(buf)
    o = k = 0
    for n, left in snap:
        with open(ring.path(n), "rb") as f:
            while left > 0:
                ln = (f.readline() if lo or hi else f.read(min(left, len(buf) - o)))[:left]
                if not ln:
                    raise OSError("log shrank")
                left -= len(ln)
                t = ln[:19]
                if not (lo or hi) or (len(ln) > 19 and ln[4] == ln[7] == 45 and ln[10] == 84 and ln[13] == 58
                                      and (not lo or t >= lo) and (not hi or t <= hi)):
                    while ln:
                        c = min(len(ln), len(buf) - o)
                        mv[o:o + c] = ln[:c]
                        ln = ln[c:]
                        o += c
                        if o == len(buf):
                            yield mv
                            o = 0
                else:
                    k += 1
                    if k % 64 == 0:
                        yield bytes()
    if o:
        yield mv[:o]


# The job's state: a list in station.getlog while loaded (a class and its
# __init__ would cost ~350 bytes of heap more).
_TASK = const(0)        # the latest upload's task
_RID = const(1)         # its requestId
_LAST = const(2)        # the last status sent for it
_BUSY = const(3)        # a job runs (or, canceled, still unwinds): its task while it sends
                        # AcceptedCanceled for the jobs it replaced, _UP, or False
_CANCELED = const(4)    # requestIds whose AcceptedCanceled is still to send: the newest _OWED
_ST = const(5)          # the station
_UP = const(2)          # _BUSY: uploading
_OWED = const(8)


async def get_log(st, req=None):
    """GetLog(req), or without one TriggerMessage(LogStatusNotification):
    the current status, or Idle."""
    g = st.getlog = st.getlog or [None, None, None, False, [], st]
    if req:
        lt = req["logType"]
        ring = st.seclog if lt[0] == "S" else st.log     # SecurityLog; else DiagnosticsLog
        # The bounds as the bytes a log line starts with (YYYY-MM-DDTHH:MM:SS;
        # None: open): fixed-width UTC stamps order like the times they
        # stand for, so lines compare unparsed. Clamped to the port's epoch
        # ..2100 (32-bit ports' gmtime).
        w = []
        for k in ("oldest", "latest"):     # +"Timestamp": short strings are no heap objects
            t = compat.parse_iso(req["log"].get(k + "Timestamp") or "")
            w.append(None if t is None else compat.iso(min(max(t, compat.EPOCH), 4102444800))[:19].encode())
        # Any entry in the window? Through a 1-byte buffer the first byte answers.
        for p in chunks(ring, [], w, 1):
            if p:
                break
            await compat.sleep_ms(0)
        else:
            st.log.write(LOG % (req["requestId"], lt, "Rejected:", "no entries"))
            st.getlog = g
            return {"status": "Rejected"}
    st.getlog = g    # an upload that ended during the scan may have unloaded the job
    t = g[_TASK]
    on = t and not t.done() and (g[_LAST] or "Uploading") == "Uploading"   # its final status is not decided yet
    if not req:
        return await send(g, (g[_LAST] or "Uploading") if on else "Idle", g[_RID] if on else None)
    s = "Accepted"
    if on:
        # The job sending its AcceptedCanceled notices is not canceled: one
        # already on the wire would be sent again by the next job. It ends
        # by itself after them, seeing it is no longer the latest (run()).
        # One still waiting for it has sent nothing: canceled, so a flood
        # leaves two jobs, not one each.
        if g[_BUSY] is not t:
            t.cancel()
        c = g[_CANCELED]
        c.append(g[_RID])
        if len(c) > _OWED:
            st.log.write(LOG % (c.pop(0), "AcceptedCanceled", "dropped:", "too many"))
        s = "AcceptedCanceled"
    # <station>-<LogType>-<UTC YYYYMMDDTHHMMSSZ>.log, safe as a file name
    # (and inside a quoted multipart parameter).
    name = ""
    for c in "%s-%s-%s" % (st.board["station"]["id"], lt,
                           compat.iso(compat.now())[:19].replace("-", "").replace(":", "") + "Z.log"):
        name += c if "a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "._-" else "_"
    g[_RID] = req["requestId"]
    g[_LAST] = None
    g[_TASK] = asyncio.create_task(run(g, req, ring, w, name))
    st.log.write(LOG % (g[_RID], lt, s, name))
    return {"status": s, "filename": name}


async def send(g, s, rid, once=False):
    """One LogStatusNotification (`once`: a status of the running upload,
    sent only when it changes); waits up to 300 s for the connection."""
    if once:
        if g[_LAST] == s:
            return
        g[_LAST] = s
    p = {"status": s}
    if rid is not None:
        p["requestId"] = rid
    e = "offline"
    a = "LogStatusNotification"
    for _ in range(600):
        try:
            return await g[_ST].session.call(a, p)
        except Offline:
            await compat.sleep_ms(500)
        except Exception as x:
            e = x
            break
    g[_ST].log.write("%s %s %s: %r" % (a, s, rid, e))


def tls(e):
    """Is e a TLS failure rather than the network's? MicroPython: a bad
    certificate is a ValueError, mbedTLS errors are errnos below -255 (DNS
    ones are small negatives, -202 on an ESP32); CPython's ssl errors have
    errnos 1..99. Refused, reset, unreachable, timed out (100 and up, or no
    errno) are the network's."""
    if isinstance(e, ValueError):
        return True
    n = e.errno if isinstance(e, OSError) else None
    return n is not None and (0 < n < 100 or n < -255)


async def run(g, req, ring, w, name):
    """The task of one GetLog: AcceptedCanceled for what it replaced,
    Uploading, attempts, final status. The last task to end gives the job's
    heap back (diag/getlog.py unload).

    It never holds the task it replaced: on MicroPython a coroutine's frame
    can keep a reference after the variable is cleared (measured: passing
    the old task on through one more call leaked every canceled upload,
    chained to the next). It waits on g[_BUSY], which a canceled job
    clears as it unwinds, and takes the old requestIds from g[_CANCELED]."""
    from diag import getlog
    from drivers import upload      # here, not at the top: not loaded while the request is answered
    st = g[_ST]
    rid = req["requestId"]
    url = req["log"]["remoteLocation"]
    n = 1 + max(0, req.get("retries", 0))
    iv = min(max(0, req.get("retryInterval", 30)), 86400) * 1000
    req = None      # the request is not held through the upload
    while g[_BUSY]:               # a job sending notices, or canceled and still closing its connection
        await compat.sleep_ms(10)
    g[_BUSY] = asyncio.current_task()
    try:
        while g[_CANCELED]:
            o = g[_CANCELED].pop(0)     # before the send: get_log may drop the oldest meanwhile
            st.log.write(LOG % (o, "canceled", "by", rid))
            await send(g, "AcceptedCanceled", o)
        if g[_TASK] is not asyncio.current_task():     # a newer GetLog came meanwhile: it uploads
            return
        g[_BUSY] = _UP
        try:
            loc = upload.parse(url, name)
        except upload.Fail as e:
            st.log.write(LOG % (rid, e.args[0], "-", e.args[1]))
            await send(g, e.args[0], rid, True)
            return
        await send(g, "Uploading", rid, True)
        # For logs: no credentials, and no query (a presigned URL's signature is one).
        pub = "%s://%s%s" % (loc[0], loc[7], loc[5].split("?")[0])
        for a in range(n):
            if a:
                await compat.sleep_ms(iv)
            ring.hold()
            ctx = None
            try:
                snap = []
                size = 0
                for p in chunks(ring, snap, w, 256):    # a count: a smaller buffer does
                    size += len(p)
                    await compat.sleep_ms(0)
                if loc[0] == "https":
                    ca = st.board["csms"].get("ca")
                    ctx = compat.ssl_context(ca and st.config_path(ca))
                await upload.send(loc, name, chunks(ring, snap, w, 512), size,
                                  (st.board.get("log") or {}).get("upload") == "POST", ctx)
                s = "Uploaded"
                why = "%d bytes" % size
            except Exception as e:
                f = isinstance(e, upload.Fail) and len(e.args) == 2
                s, why = e.args if f else (0, "%s failure to %s: %r" % (
                    "TLS" if ctx and tls(e) else "connection", loc[7], e))
                s = s or "UploadFailure"
                if not f or s[0] == "P":        # network, TLS, PermissionDenied
                    st.seclog.write(LOG % (rid, pub, s, why))
            finally:
                ring.release()
            st.log.write(LOG % (rid, "try %d/%d" % (a + 1, n), pub, s + " " + why))
            if s == "Uploaded":
                break
        # The final status needs no upload code: it goes first (the
        # LogStatusNotification's own heap comes on top of what is loaded).
        upload = None
        getlog.unload(None, getlog._JOB[1:])
        await send(g, s, rid, True)
    finally:
        g[_BUSY] = False
        if g[_TASK] is asyncio.current_task() and st.getlog is g:
            getlog.unload(st)
