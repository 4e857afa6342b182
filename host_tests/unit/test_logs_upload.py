"""N01 GetLog on a real Station in-process, both runtimes, against a real HTTP
server on 127.0.0.1 in the same event loop: statuses, retries, cancel, trigger.
The CSMS side is a recording stand-in for session.call. The module never
keeps diag.logupload itself, so its unloading frees it as on a station."""
import asyncio
import hashlib

import compat
from protocol import codec
import stationkit as kit
import support

T0 = 1577836800   # 2020-01-01T00:00:00Z


class Sink:
    """A minimal HTTP/1.1 server on 127.0.0.1 that records each request as
    [method, path, headers, body length, sha256 hex, body or None] and
    answers `code` after `delay_ms`. MicroPython: asyncio streams (it cannot
    tell a bound port, so free ones are tried). CPython: the loop's socket
    calls into one buffer, so the server's own reads stay out of heap figures."""

    def __init__(self, code=200, keep=True, delay_ms=0):
        self.code = code
        self.keep = keep
        self.delay_ms = delay_ms
        self.requests = []
        self.buf = bytearray(2048)
        self.server = None
        self.port = None
        self.active = 0               # connections being served
        self.release = asyncio.Event()

    async def start(self):
        if not compat.IS_MPY:
            import socket
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(8)
            s.setblocking(False)
            self.port = s.getsockname()[1]
            self.server = asyncio.create_task(self._accept(s))
            self.sock = s
            return self
        for i in range(40):
            port = 20000 + (compat.urandom(2)[0] << 7) + i
            try:
                self.server = await asyncio.start_server(self._stream, "127.0.0.1", port)
            except OSError:
                continue
            self.port = port
            return self
        raise OSError("no free port")

    async def stop(self):
        """Close, after the connections still served (a slow answer is cut short)."""
        self.release.set()
        while self.active:
            await compat.sleep_ms(5)
        if compat.IS_MPY:
            self.server.close()
            await self.server.wait_closed()
        else:
            self.server.cancel()
            self.sock.close()

    def url(self, path="/logs/", cred=""):
        return "http://%s127.0.0.1:%d%s" % (cred, self.port, path)

    async def _accept(self, s):
        loop = asyncio.get_event_loop()
        while True:
            c, _ = await loop.sock_accept(s)
            asyncio.create_task(self._sock(c))

    async def _sock(self, c):
        loop = asyncio.get_event_loop()
        mv = memoryview(self.buf)
        pending = [b""]

        async def read(n):
            if pending[0]:
                k = min(n, len(pending[0]))
                mv[:k] = pending[0][:k]
                pending[0] = pending[0][k:]
                return k
            return await loop.sock_recv_into(c, mv[:n])

        async def readline():
            line = b""
            while not line.endswith(b"\n"):
                if not pending[0]:
                    k = await loop.sock_recv_into(c, mv)
                    if not k:
                        break
                    pending[0] = bytes(mv[:k])
                i = pending[0].find(b"\n")
                cut = len(pending[0]) if i < 0 else i + 1
                line += pending[0][:cut]
                pending[0] = pending[0][cut:]
            return line

        async def write(data):
            await loop.sock_sendall(c, data)

        try:
            await self._serve(readline, read, write)
        finally:
            c.close()

    async def _stream(self, r, w):
        mv = memoryview(self.buf)

        async def read(n):
            return await r.readinto(mv[:n])

        async def write(data):
            w.write(data)
            await w.drain()

        try:
            await self._serve(r.readline, read, write)
        finally:
            w.close()
            await w.wait_closed()

    async def _serve(self, readline, read, write):
        self.active += 1
        try:
            await self._answer(readline, read, write)
        finally:
            self.active -= 1

    async def _answer(self, readline, read, write):
        import binascii
        line = await readline()
        method, path = line.split()[:2]
        hdrs = {}
        while True:
            h = await readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode().partition(":")
            hdrs[k.strip().lower()] = v.strip()
        left = int(hdrs.get("content-length", "0"))
        n = left
        sha = hashlib.sha256()
        body = b"" if self.keep else None
        mv = memoryview(self.buf)
        while left > 0:
            k = await read(min(left, len(self.buf)))
            if not k:
                break
            sha.update(mv[:k])
            if self.keep:
                body += bytes(mv[:k])
            left -= k
        self.requests.append([method.decode(), path.decode(), hdrs, n - left,
                              binascii.hexlify(sha.digest()).decode(), body])
        if self.delay_ms:
            try:
                await asyncio.wait_for(self.release.wait(), self.delay_ms / 1000)
            except asyncio.TimeoutError:
                pass
        await write(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % self.code)


def station(**log):
    return kit.record(kit.make(storage=support.tmpdir("logup"), log=log or None))


async def get_log(st, url, rid=1, log_type="DiagnosticsLog", **kw):
    req = {"logType": log_type, "requestId": rid, "log": {"remoteLocation": url}}
    for k in ("oldestTimestamp", "latestTimestamp"):
        if k in kw:
            req["log"][k] = kw.pop(k)
    req.update(kw)
    codec.validate("GetLog", True, req)
    r = await st.session.handlers["GetLog"](req)
    codec.validate("GetLog", False, r)
    return r


async def settle(st):
    """Until the upload task (if any) has ended."""
    while st.getlog is not None and st.getlog[0] is not None and not st.getlog[0].done():
        await compat.sleep_ms(10)


def statuses(st):
    return [(p["status"], p.get("requestId")) for a, p in st.sent if a == "LogStatusNotification"]


def seclog(st):
    # Imported here, not held by this module: the station unloads the job when idle.
    from diag import logupload as lu
    return b"".join(bytes(p) for p in lu.chunks(st.seclog, [], [None, None], 512))


def snapshot(ring):
    """The ring's snapshot as an attempt takes it: chunks() fills an empty list."""
    from diag import logupload as lu
    snap = []
    for _ in lu.chunks(ring, snap, [None, None], 1):
        break
    return snap


def prefill(st, n=50):
    with open(st.log.path(st.log.cur), "a") as f:
        for i in range(n):
            f.write("%s old entry %d\n" % (compat.iso(T0 + i), i))


def test_N01_FR01_FR08_accepted_put_uploads_the_window_then_uploaded():
    async def go():
        srv = await Sink().start()
        st = station()
        prefill(st)
        r = await get_log(st, srv.url(cred="u:p@"), 7, oldestTimestamp=compat.iso(T0 + 10),
                          latestTimestamp=compat.iso(T0 + 14))
        assert r["status"] == "Accepted" and r["filename"].startswith("CS-1-DiagnosticsLog-")
        stamp = compat.iso(compat.now())[:19].replace("-", "").replace(":", "")
        assert r["filename"] in ("CS-1-DiagnosticsLog-%sZ.log" % stamp, "CS-1-DiagnosticsLog-%sZ.log" % (
            compat.iso(compat.now() - 1)[:19].replace("-", "").replace(":", "")))
        await settle(st)
        await srv.stop()
        assert statuses(st) == [("Uploading", 7), ("Uploaded", 7)]
        m, path, hdrs, n, sha, body = srv.requests[0]
        assert m == "PUT" and path == "/logs/" + r["filename"]
        assert hdrs["authorization"] == "Basic dTpw"
        want = b"".join([("%s old entry %d\n" % (compat.iso(T0 + i), i)).encode() for i in range(10, 15)])
        assert body == want and n == len(want)
    support.run(go())


def test_N01_FR05_no_entry_in_the_window_is_rejected_without_filename():
    async def go():
        st = station()
        r = await get_log(st, "http://127.0.0.1:1/", 3, oldestTimestamp="2099-01-01T00:00:00Z")
        assert r == {"status": "Rejected"}
        assert st.getlog is None and statuses(st) == []
        assert _tail(st).endswith("GetLog 3: DiagnosticsLog Rejected: no entries\n")
        r = await get_log(st, "http://127.0.0.1:1/", 4, log_type="SecurityLog",
                          latestTimestamp="2001-01-01T00:00:00Z")
        assert r == {"status": "Rejected"}
        # Far bounds are clamped, not an error; a bound at the last entry keeps it.
        r = await get_log(st, "http://127.0.0.1:1/", 5, oldestTimestamp="1900-01-01T00:00:00Z",
                          latestTimestamp="9999-12-31T23:59:59Z")
        assert r["status"] == "Accepted"
        await settle(st)
        prefill(st, 5)
        r = await get_log(st, "http://127.0.0.1:1/", 6, oldestTimestamp=compat.iso(T0 + 4),
                          latestTimestamp=compat.iso(T0 + 4))
        assert r["status"] == "Accepted"
        await settle(st)
        r = await get_log(st, "http://127.0.0.1:1/", 7, oldestTimestamp="2019-12-31T23:00:00+00:00",
                          latestTimestamp="2020-01-01T00:59:59+01:00")     # offsets: that is T0 - 1
        assert r == {"status": "Rejected"}
    support.run(go())


def test_N01_retries_are_extra_attempts_and_each_status_goes_once():
    async def go():
        srv = await Sink(code=500).start()
        st = station()
        await get_log(st, srv.url(), 9, retries=2, retryInterval=0)
        await settle(st)
        assert len(srv.requests) == 3
        assert statuses(st) == [("Uploading", 9), ("UploadFailure", 9)]
        srv.requests = []
        await get_log(st, srv.url(), 10, retries=0)
        await settle(st)
        await srv.stop()
        assert len(srv.requests) == 1
        assert statuses(st)[2:] == [("Uploading", 10), ("UploadFailure", 10)]
    support.run(go())


def test_N01_401_is_PermissionDenied_and_reaches_the_security_log():
    async def go():
        srv = await Sink(code=403).start()
        st = station()
        await get_log(st, srv.url(cred="u:wrong@"), 5)
        await settle(st)
        await srv.stop()
        assert statuses(st) == [("Uploading", 5), ("PermissionDenied", 5)]
        sec = seclog(st)
        assert b"HTTP 403" in sec and b"wrong" not in sec
    support.run(go())


def test_N01_bad_and_unsupported_locations_and_a_refused_connection():
    async def go():
        st = station()
        await get_log(st, "http//127.0.0.1/x", 1)
        await settle(st)
        await get_log(st, "sftp://127.0.0.1/x", 2)
        await settle(st)
        await get_log(st, "http://127.0.0.1:1/x", 3)   # nothing listens on port 1
        await settle(st)
        assert statuses(st) == [("BadMessage", 1), ("NotSupportedOperation", 2),
                                ("Uploading", 3), ("UploadFailure", 3)]
        sec = seclog(st)
        assert b"connection failure to 127.0.0.1:1" in sec
    support.run(go())


def test_N01_FR12_FR20_a_second_getlog_cancels_the_running_upload():
    async def go():
        srv = await Sink(delay_ms=3000).start()
        st = station()
        r1 = await get_log(st, srv.url(), 11)
        while not srv.requests:
            await compat.sleep_ms(10)
        assert not st.getlog[0].done() and statuses(st) == [("Uploading", 11)]
        srv.delay_ms = 0
        r2 = await get_log(st, srv.url(), 12)
        assert r1["status"] == "Accepted" and r2["status"] == "AcceptedCanceled"
        await settle(st)
        await srv.stop()
        assert statuses(st) == [("Uploading", 11), ("AcceptedCanceled", 11), ("Uploading", 12), ("Uploaded", 12)]
        assert len(srv.requests) == 2
    support.run(go())


def gated(st, hold=None):
    """A CSMS that answers the station's CALLs one at a time, each once the
    returned event is set (hold: only the statuses named there wait)."""
    gate = asyncio.Event()
    lk = asyncio.Lock()

    async def call(action, payload, timeout_ms=None, need_boot=True):
        async with lk:
            codec.validate(action, True, payload)
            st.sent.append((action, payload))
            if hold is None or payload.get("status") in hold:
                await gate.wait()
            return {}
    st.session.call = call
    return gate


def test_N01_FR20_one_acceptedcanceled_per_replaced_request_when_three_come_fast():
    # GetLog 2 replaces 1 and sends AcceptedCanceled for it; GetLog 3 comes
    # while that notice waits for the CSMS's answer. The notice is sent once.
    async def go():
        srv = await Sink().start()
        st = station()
        gate = gated(st)
        await get_log(st, srv.url(), 1)
        while statuses(st) != [("Uploading", 1)]:
            await compat.sleep_ms(5)
        assert (await get_log(st, srv.url(), 2))["status"] == "AcceptedCanceled"
        while ("AcceptedCanceled", 1) not in statuses(st):
            await compat.sleep_ms(5)
        assert (await get_log(st, srv.url(), 3))["status"] == "AcceptedCanceled"
        gate.set()
        await settle(st)
        await srv.stop()
        assert statuses(st) == [("Uploading", 1), ("AcceptedCanceled", 1), ("AcceptedCanceled", 2),
                                ("Uploading", 3), ("Uploaded", 3)]
        assert len(srv.requests) == 1
    support.run(go())


def test_a_trigger_while_the_final_status_is_sent_ends_cleanly():
    # The trigger waits behind the upload's last LogStatusNotification; the
    # upload ends meanwhile and unloads the job. The trigger answers Idle.
    async def go():
        srv = await Sink().start()
        st = station()
        gate = gated(st, ("Uploaded",))
        await get_log(st, srv.url(), 5)
        while ("Uploaded", 5) not in statuses(st):
            await compat.sleep_ms(5)
        t = asyncio.create_task(st.session.triggers["LogStatusNotification"]())
        await compat.sleep_ms(20)
        gate.set()
        r = await t
        await srv.stop()
        assert r == {} and st.getlog is None
        assert statuses(st) == [("Uploading", 5), ("Uploaded", 5), ("Idle", None)]
    support.run(go())


def test_trigger_reports_idle_without_id_or_the_running_status():
    async def go():
        srv = await Sink(delay_ms=500).start()
        st = station()
        await st.session.triggers["LogStatusNotification"]()
        await get_log(st, srv.url(), 21)
        while not srv.requests:
            await compat.sleep_ms(10)
        await st.session.triggers["LogStatusNotification"]()
        await settle(st)
        await st.session.triggers["LogStatusNotification"]()
        await srv.stop()
        assert statuses(st) == [("Idle", None), ("Uploading", 21), ("Uploading", 21), ("Uploaded", 21),
                                ("Idle", None)]
        assert "LogStatusNotification" in st.session.triggers
    support.run(go())


def test_N01_FR19_post_multipart_when_the_board_asks():
    async def go():
        srv = await Sink().start()
        st = station(upload="POST")
        await get_log(st, srv.url("/form"), 31)
        await settle(st)
        await srv.stop()
        m, path, hdrs, n, sha, body = srv.requests[0]
        assert m == "POST" and path == "/form"
        b = hdrs["content-type"].split("boundary=")[1]
        assert body.startswith(("--%s\r\nContent-Disposition: form-data; name=\"uploadedfile\"; "
                                "filename=\"CS-1-DiagnosticsLog-" % b).encode())
        assert body.endswith(("\r\n--%s--\r\n" % b).encode()) and b"station CS-1 started" in body
        assert statuses(st)[-1] == ("Uploaded", 31)
    support.run(go())


def test_canceled_uploads_do_not_pile_up_in_memory():
    """Each GetLog cancels the previous one while it waits to retry: the heap
    after 40 of them is where it was after 10 (a chain of canceled tasks
    kept alive by their successors would grow it by every one)."""
    import gc

    async def go():
        st = station()
        mem, stop = support.meter()
        marks = []
        for i in range(40):
            await get_log(st, "http://127.0.0.1:1/x", i + 1, retries=1, retryInterval=60)
            while "GetLog %d: try 1/2" % (i + 1) not in _tail(st):
                await compat.sleep_ms(5)
            st.sent[:] = []
            if i in (9, 39):
                gc.collect()
                marks.append(mem())
        st.getlog[0].cancel()
        await compat.sleep_ms(20)
        stop()
        print("heap after 10 and 40 canceled uploads:", marks)
        # Leaking, the 30 extra uploads cost ~100 kB on CPython and exhaust
        # MicroPython's heap. CPython keeps each canceled 60 s sleep's timer
        # in its loop until a cleanup at 100 of them: ~300 bytes apiece.
        assert marks[1] - marks[0] < (3000 if compat.IS_MPY else 20000), marks
    support.run(go())


def _tail(st):
    """The end of the diagnostics log."""
    with open(st.log.path(st.log.cur)) as f:
        f.seek(max(0, st.log.size - 300))
        return f.read()


def test_the_job_is_unloaded_when_idle_and_loads_again():
    import sys

    async def go():
        srv = await Sink().start()
        st = station()
        await get_log(st, srv.url(), 51)
        await settle(st)
        assert st.getlog is None and "diag.logupload" not in sys.modules and "drivers.upload" not in sys.modules
        r = await get_log(st, srv.url(), 52, oldestTimestamp="2099-01-01T00:00:00Z")
        assert r["status"] == "Rejected" and st.getlog is None and "diag.logupload" not in sys.modules
        await get_log(st, srv.url(), 53)
        assert "diag.logupload" in sys.modules and not st.getlog[0].done()
        await settle(st)
        await st.session.triggers["LogStatusNotification"]()
        await srv.stop()
        assert "drivers.upload" not in sys.modules
        assert statuses(st) == [("Uploading", 51), ("Uploaded", 51), ("Uploading", 53), ("Uploaded", 53),
                                ("Idle", None)]
        assert len(srv.requests) == 2
    support.run(go())


def test_N01_FR20_a_getlog_flood_while_a_notice_waits_keeps_two_jobs_and_eight_owed_notices():
    # GetLog 2's AcceptedCanceled for 1 waits for the CSMS; 60 more GetLogs
    # come meanwhile. Only the job sending that notice is spared: each
    # superseded one that has sent nothing yet is canceled (they piled up, a
    # task each: 400 GetLogs took 358 kB of MicroPython's heap), and the
    # requestIds still owed an AcceptedCanceled are the newest 8, the older
    # ones dropped with a log line.
    import gc

    async def go():
        st = station()
        gate = gated(st)
        await get_log(st, "http://127.0.0.1:1/x", 1)
        while statuses(st) != [("Uploading", 1)]:
            await compat.sleep_ms(5)
        await get_log(st, "http://127.0.0.1:1/x", 2)
        while ("AcceptedCanceled", 1) not in statuses(st):
            await compat.sleep_ms(5)
        mem, stop = support.meter()
        marks = []
        for rid in range(3, 63):
            assert (await get_log(st, "http://127.0.0.1:1/x", rid))["status"] == "AcceptedCanceled"
            await compat.sleep_ms(1)
            if rid in (12, 62):
                await compat.sleep_ms(5)
                gc.collect()
                marks.append((mem(), 0 if compat.IS_MPY else len(asyncio.all_tasks())))
        stop()
        owed = list(st.getlog[4])       # logupload._CANCELED
        dropped = [ln.split()[2][:-1] for _, ln in st.log.lines() if "AcceptedCanceled dropped" in ln]
        gate.set()
        await settle(st)
        return marks, owed, dropped, statuses(st)
    marks, owed, dropped, sent = support.run(go())
    print("heap and tasks after 10 and 60 GetLogs:", marks)
    assert marks[1][1] == marks[0][1], marks        # CPython: the same live tasks
    assert marks[1][0] - marks[0][0] < (3000 if compat.IS_MPY else 20000), marks
    assert owed == list(range(54, 62)) and dropped == [str(r) for r in range(2, 54)], dropped
    assert sent == ([("Uploading", 1), ("AcceptedCanceled", 1)] + [("AcceptedCanceled", r) for r in range(54, 62)]
                    + [("Uploading", 62), ("UploadFailure", 62)])


def test_tls_failures_are_told_from_the_networks():
    # The security log says "TLS failure" only for TLS: a DNS failure
    # (gaierror -2 on CPython, -202 on an ESP32), a timeout or a refused
    # connection is the network's.
    from diag import logupload as lu
    def err(n):
        return OSError(n, "x")      # errno set on both runtimes
    assert [lu.tls(e) for e in (ValueError("invalid cert"), err(-9984), err(1), err(8))] == [True] * 4
    assert [lu.tls(e) for e in (err(-2), err(-202), err(110), err(111), OSError(),
                                asyncio.TimeoutError(), EOFError())] == [False] * 7


def test_the_logs_name_the_location_without_credentials_or_query():
    # A presigned upload URL carries its signature in the query: a credential.
    async def go():
        srv = await Sink(code=403).start()
        st = station()
        prefill(st, 5)
        await get_log(st, srv.url("/logs/?X-Sig=s3cretsig", cred="u:pw9@"), 8)
        await settle(st)
        await srv.stop()
        assert srv.requests[0][1].endswith("?X-Sig=s3cretsig")       # the request has it
        logs = b"".join(bytes(p) for p in _rings(st))
        assert b"127.0.0.1:%d/logs/" % srv.port in logs and b"s3cretsig" not in logs and b"pw9" not in logs
    support.run(go())


def _rings(st):
    from diag import logupload as lu
    for ring in (st.log, st.seclog):
        for p in lu.chunks(ring, [], [None, None], 512):
            yield p
