"""The OCPP session: owns the connection to the CSMS.

Connects to <csms.url>/<station.id>, sends BootNotification first (retrying at
the returned interval while Pending or Rejected), then Heartbeats at the
interval the CSMS gave. Incoming CALLs go to the handler registered for the
action (`on`); station-initiated CALLs go through `call`, one outstanding at
a time, with a response timeout. A lost connection is retried with
exponential backoff and jitter.

Handlers take the request payload and return the response payload (or a
coroutine giving it); raising codec.CallError answers a CALLERROR. A handler
that must send CALLs afterwards starts a task: it runs after the response
has been written, because the connection's send lock is taken before the
task can run.

Few functions and short private names on purpose: each function costs
~150 B of RAM while the module is loaded, each distinct name its bytes.
"""
import asyncio

import compat
from protocol import codec, ws


# A CALL could not be sent or answered: no connection, or it dropped. Made by
# type(): a class statement costs a function for its body (ws.py does the same).
Offline = type("Offline", (Exception,), {})


MAX_JOBS = 2   # background jobs of one kind under way at most (reports, triggers); one beyond them is Rejected
BUSY = {"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}}


class Session:
    def __init__(self, station):
        self.st = station
        self.handlers = {"TriggerMessage": self._trigger}
        self.invalid = {}       # action -> invalid(error, payload), see on()
        self.frame_len = 0
        self._ls = []           # fn(online): told when the session comes up or goes down
        self.listen = self._ls.append
        self.conn = None
        self.online = False     # connected and BootNotification Accepted
        self.heartbeat_s = station.model.ctrl("OCPPCommCtrlr.HeartbeatInterval")
        self._lk = asyncio.Lock()   # one outstanding CALL
        self.pending = None     # [msg_id, action, Event, result, error]
        self._n = 0             # CALLs sent
        self._k = 0             # connections made
        self._trig = False      # a TriggerMessage asked for a BootNotification (reason Triggered)
        self._kick = None       # Event: the boot loop's wait after Pending, which a trigger ends
        # TriggerMessage: requestedMessage -> coroutine function, besides
        # BootNotification and Heartbeat, which _trigger serves itself.
        self.triggers = {}
        self._tj = {}           # requestedMessage -> [triggered CALLs under way] (job())

    def on(self, action, handler, invalid=None):
        """Serve `action` with handler(payload) -> response payload.

        The response is a dict, or its JSON text in parts (a list of str): the
        frame is then joined once, at its size, from pieces small enough for
        a fragmented heap, and a handler can let its request's dicts go as it
        encodes (SetVariableMonitoring).
        invalid(error, payload), when given, may turn a schema violation into
        an ordinary response (return it) instead of a CALLERROR (return None).
        """
        self.handlers[action] = handler
        if invalid:
            self.invalid[action] = invalid

    def _set_online(self, up):
        if up == self.online:
            return
        self.online = up
        log = self.st.log.write
        log("session %s" % ("online" if up else "offline"))
        for fn in self._ls:
            try:
                fn(up)
            except Exception as e:  # a listener's bug must not take the session down
                log("listener error: %r" % e)

    def job(self, count, coro):
        """Run a job a request started (a report's pages, a triggered CALL) unless MAX_JOBS of its
        kind (count: [n]) are under way; False when not, and the handler answers
        BUSY. A flood of requests must not queue a job each until the heap is
        gone: a report job builds its first page before it waits its turn to
        send. A job that fails (a MemoryError building a page) is logged and
        frees its place; the station goes on."""
        if count[0] >= MAX_JOBS:
            coro.close()
            return False
        count[0] += 1
        log = self.st.log.write

        async def run():
            try:
                await coro
            except Exception as e:
                log("job failed: %r" % e)
            finally:
                count[0] -= 1
        asyncio.create_task(run())
        return True

    # ---- station-initiated CALLs -------------------------------------------

    async def call(self, action, payload, timeout_ms=None, need_boot=True):
        """Send a CALL and return the CALLRESULT payload.

        payload: a dict, or its JSON text (the outbox sends stored events so:
        no dicts of them, no second encoding).
        Raises Offline when there is no (booted) connection or it drops,
        asyncio.TimeoutError when no answer came in time, and
        codec.CallError when the CSMS answered a CALLERROR.
        """
        if timeout_ms is None:
            timeout_ms = self.st.model.ctrl("OCPPCommCtrlr.MessageTimeout[Default]") * 1000
        async with self._lk:
            conn = self.conn
            if conn is None or not conn.open or (need_boot and not self.online):
                raise Offline(action)
            self._n += 1
            mid = "%d-%d" % (self._k, self._n)
            p = self.pending = [mid, action, asyncio.Event(), None, None]
            try:
                # JSON text (stored events) goes out as is, not copied into the frame's text.
                await conn.send(['[2,"%s","%s",' % (mid, action), payload, "]"] if type(payload) is str
                                else codec.call(mid, action, payload))
                await asyncio.wait_for(p[2].wait(), timeout_ms / 1000)
            except asyncio.TimeoutError:
                self.st.log.write("%s %s: no answer in %d ms" % (action, mid, timeout_ms))
                raise
            except Exception as e:      # the send failed
                raise Offline("%s: %r" % (action, e))
            finally:
                self.pending = None
            if p[4]:
                raise p[4]
            return p[3]

    async def _own(self, action, boot=False):
        """call() BootNotification or Heartbeat, whose payloads are built here,
        taking the CSMS's time from the answer. boot: the boot loop's
        BootNotification, whose failures raise; a Heartbeat's are only logged.
        Both go before the boot is Accepted too: a Heartbeat only when the
        CSMS triggered it (B02: Pending allows what the CSMS triggers)."""
        try:
            p = {}
            if boot:
                s = self.st.board["station"]
                cs = {"model": s["model"], "vendorName": s["vendor"]}
                if s.get("serial"):
                    cs["serialNumber"] = s["serial"]
                if s.get("firmware"):
                    cs["firmwareVersion"] = s["firmware"]
                p = {"reason": "Triggered" if self._trig else "PowerUp", "chargingStation": cs}
                self._trig = False
            r = await self.call(action, p, None, False)
            t = r.get("currentTime")
            if t and self.st.board.get("clock", "csms") == "csms":
                if compat.set_time(compat.parse_iso(t) or 0):
                    self.st.clock_changed()
                else:
                    self.st.log.write("CSMS time %s not taken" % t[:40])
            return r
        except Exception as e:
            if boot:
                raise
            self.st.log.write("%s failed: %r" % (action, e))

    # ---- incoming frames ---------------------------------------------------

    async def _dispatch(self, text, size=0):
        # For BytesPerMessage checks: the frame's bytes as received (size), else its
        # length, which counts characters (an in-process caller's ASCII frames).
        self.frame_len = size or len(text)
        log = self.st.log.write
        try:
            kind, mid, a, b = codec.decode(text)
            text = None   # parsed: the frame's text is not kept while the request is served
        except codec.CallError as e:
            if (e.msg_type or 0) > 2:  # CALLRESULT, CALLERROR
                # OCPP-J answers only a CALL with a CALLERROR: a broken answer is dropped.
                log("malformed answer dropped: %s %s" % (e.code, e.description))
                return
            await self._error(e.msg_id or "-1", e)
            return
        if kind == 2:  # CALL
            await self._serve(mid, a, b)
            return
        p = self.pending
        if p is None or p[0] != mid:
            log("answer for unknown message id %s" % mid)
            return
        if kind == 3:
            try:
                codec.validate(p[1], False, a)
                p[3] = a
            except codec.CallError as e:
                log("%s answer invalid: %s" % (p[1], e.description))
                p[4] = e
        else:
            p[4] = codec.CallError(a[0], a[1], a[2], mid)
        p[2].set()

    async def _serve(self, mid, action, payload):
        h = self.handlers.get(action)
        log = self.st.log.write
        try:
            if h is None:
                raise codec.CallError("NotImplemented", "unknown action " + action)
            try:
                codec.validate(action, True, payload)
            except codec.CallError as e:
                r = self.invalid.get(action)
                r = r and r(e, payload)
                if r is None:
                    raise
            else:
                r = h(payload)
                if hasattr(r, "send"):    # a coroutine
                    r = await r
        except Exception as e:
            if isinstance(e, codec.CallError):
                log("CALLERROR %s for %s: %s" % (e.code, action, e.description))
            else:
                log("%s failed: %r" % (action, e))
                e = codec.CallError("InternalError", "handler failed")
            await self._error(mid, e)
            return
        try:
            if type(r) is list:
                # Sent as its parts (ws.send), never joined: the frame around
                # the first and last parts, so the list does not grow.
                r[0] = '[3,"%s",' % mid + r[0]
                r[-1] += "]"
            else:
                r = codec.result(mid, r)
            await self.conn.send(r)
        except Exception as e:
            log("reply to %s lost: %r" % (action, e))

    async def _error(self, mid, e):
        self.st.seclog.write("invalid message: %s %s" % (e.code, e.description))
        try:
            await self.conn.send(codec.error(mid, e.code, e.description, e.details))
        except Exception:
            pass

    def _trigger(self, req):
        m = req["requestedMessage"]
        if m == "BootNotification":
            if self.online:     # F06.FR.17: the last BootNotification was Accepted
                return {"status": "Rejected"}
            self._trig = True   # the boot loop sends it now, not after the Pending interval
            if self._kick:
                self._kick.set()
            return {"status": "Accepted"}
        fn = self.triggers.get(m)
        if fn is None and m != "Heartbeat":
            return {"status": "NotImplemented"}
        # Each waits its turn on the one-CALL lock for up to MessageTimeout:
        # a flood must not make a task each.
        if not self.job(self._tj.setdefault(m, [0]), fn() if fn else self._own(m)):
            return BUSY
        return {"status": "Accepted"}

    # ---- the connection loop ----------------------------------------------

    async def _beats(self):
        while True:
            # Counted 1 s steps: a HeartbeatInterval set by SetVariables applies at once.
            n = 0
            while n < self.heartbeat_s:
                await compat.sleep_ms(1000)
                n += 1
            c = self.conn
            if c is None or not c.open:
                return
            await self._own("Heartbeat")

    async def _reader(self, conn):
        try:
            while True:
                await self._dispatch(await conn.recv(), conn.size)
        except Exception as e:      # ws.Closed(code, reason) when it ended cleanly
            self.st.log.write("connection lost: %r" % e)
        finally:
            p = self.pending
            if p is not None:
                p[4] = Offline("connection lost")
                p[2].set()

    async def run(self):
        """Forever: connect, boot, serve; back off and retry when anything fails.

        The backoff doubles from 1 s to 60 s, with +-25 % jitter."""
        st = self.st
        log = st.log.write
        b = st.board
        c = b["csms"]
        i = b["station"]["id"]
        url = c["url"].rstrip("/") + "/" + i
        backoff = 1000
        while True:
            try:
                conn = await ws.connect(url, "ocpp2.0.1", i, c.get("password"),
                                        compat.ssl_context(st.config_path(c["ca"]))
                                        if url[2] == "s" else None, b["max_message"])   # wss:
            except Exception as e:
                m = "connect to %s failed: %r" % (url, e)
                log(m)
                if isinstance(e, ws.HandshakeError) and (e.status == 401 or e.status == 403):
                    m = "CSMS refused our credentials (HTTP %d)" % e.status
                st.seclog.write(m)    # TLS and connection failures belong to the security log too
            else:
                self.conn = conn
                self._k += 1
                log("connected to " + url)
                t = asyncio.create_task
                ts = [t(self._reader(conn)), t(conn.keepalive(max(10000, self.heartbeat_s * 500), 10000))]
                try:
                    # BootNotification until Accepted.
                    while True:
                        h = self.heartbeat_s
                        r = await self._own("BootNotification", True)
                        iv = r.get("interval", 0)
                        if r["status"] == "Accepted":
                            break
                        iv = iv if iv > 0 else 30
                        log("boot %s, retry in %d s" % (r["status"], iv))
                        if not self._trig:      # a TriggerMessage cuts the wait short
                            self._kick = k = asyncio.Event()
                            try:
                                await asyncio.wait_for(k.wait(), iv)
                            except asyncio.TimeoutError:
                                pass
                            self._kick = None
                    # A SetVariables served while the answer waited came after it: it wins.
                    if iv > 0 and self.heartbeat_s == h:
                        self.heartbeat_s = iv
                    backoff = 1000
                    self._set_online(True)
                    ts.append(t(self._beats()))
                    await ts[0]         # the reader: until the connection ends
                except Exception as e:
                    log("session ended: %r" % e)
                self._set_online(False)
                for t in ts:
                    t.cancel()
                await conn.close()      # never raises
                self.conn = None
            await compat.sleep_ms(backoff * (384 + compat.urandom(1)[0]) // 512)   # x 0.75 .. 1.25
            backoff = min(60000, backoff * 2)
