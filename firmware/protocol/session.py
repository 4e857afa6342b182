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
has been written, because the write lock is taken before the task can run.
"""
import asyncio

import compat
from protocol import codec, ws


class Offline(Exception):
    """A CALL could not be sent or answered: no connection, or it dropped."""


class Session:
    def __init__(self, station):
        self.st = station
        b = station.board
        self.url = b["csms"]["url"].rstrip("/") + "/" + b["station"]["id"]
        self.handlers = {}
        self.invalid = {}
        self.frame_len = 0
        self.listeners = []     # fn(online): told when the session comes up or goes down
        self.conn = None
        self.online = False     # connected and BootNotification Accepted
        self.booted = False     # Accepted at least once since power-up
        self.heartbeat_s = station.model.ctrl("OCPPCommCtrlr.HeartbeatInterval")
        self.call_lock = asyncio.Lock()   # one outstanding CALL
        self.write_lock = asyncio.Lock()  # frames are written whole
        self.pending = None     # [msg_id, action, Event, result, error]
        self.seq = 0
        self.backoff_ms = 1000
        self.connects = 0
        self.on("TriggerMessage", self._trigger)
        self.triggers = {"BootNotification": self._boot_once, "Heartbeat": self._heartbeat_once}

    def on(self, action, handler, invalid=None):
        """Serve `action` with handler(payload) -> response payload.

        invalid(error, payload), when given, may turn a schema violation into
        an ordinary response (return it) instead of a CALLERROR (return None).
        """
        self.handlers[action] = handler
        if invalid is not None:
            self.invalid[action] = invalid

    def listen(self, fn):
        self.listeners.append(fn)

    def _set_online(self, up):
        if up == self.online:
            return
        self.online = up
        self.st.log.write("session %s" % ("online" if up else "offline"))
        for fn in self.listeners:
            try:
                fn(up)
            except Exception as e:  # a listener's bug must not take the session down
                self.st.log.write("listener error: %r" % e)

    # ---- station-initiated CALLs -------------------------------------------

    async def call(self, action, payload, timeout_ms=None, need_boot=True):
        """Send a CALL and return the CALLRESULT payload.

        Raises Offline when there is no (booted) connection or it drops,
        asyncio.TimeoutError when no answer came in time, and
        codec.CallError when the CSMS answered a CALLERROR.
        """
        if timeout_ms is None:
            timeout_ms = self.st.model.ctrl("OCPPCommCtrlr.MessageTimeout[Default]") * 1000
        async with self.call_lock:
            conn = self.conn
            if conn is None or not conn.open or (need_boot and not self.online):
                raise Offline(action)
            self.seq += 1
            mid = "%d-%d" % (self.connects, self.seq)
            p = [mid, action, asyncio.Event(), None, None]
            self.pending = p
            try:
                try:
                    await self._send(codec.call(mid, action, payload))
                except Exception as e:
                    raise Offline("%s: %r" % (action, e))
                try:
                    await asyncio.wait_for(p[2].wait(), timeout_ms / 1000)
                except asyncio.TimeoutError:
                    self.st.log.write("%s %s: no answer in %d ms" % (action, mid, timeout_ms))
                    raise
            finally:
                self.pending = None
            if p[4] is not None:
                raise p[4]
            return p[3]

    async def _send(self, text):
        async with self.write_lock:
            await self.conn.send(text)

    # ---- incoming frames ---------------------------------------------------

    async def _dispatch(self, text):
        self.frame_len = len(text)   # for BytesPerMessage checks, without re-encoding
        try:
            kind, mid, a, b = codec.decode(text)
        except codec.CallError as e:
            if e.msg_type in (codec.CALLRESULT, codec.CALLERROR):
                # OCPP-J answers only a CALL with a CALLERROR: a broken answer is dropped.
                self.st.log.write("malformed answer dropped: %s %s" % (e.code, e.description))
                return
            await self._reply_error(e.msg_id or "-1", e)
            return
        if kind == codec.CALL:
            await self._serve(mid, a, b)
        elif kind == codec.CALLRESULT or kind == codec.CALLERROR:
            p = self.pending
            if p is None or p[0] != mid:
                self.st.log.write("answer for unknown message id %s dropped" % mid)
                return
            if kind == codec.CALLRESULT:
                try:
                    codec.validate(p[1], False, a)
                    p[3] = a
                except codec.CallError as e:
                    self.st.log.write("%s answer invalid: %s" % (p[1], e.description))
                    p[4] = e
            else:
                p[4] = codec.CallError(a[0], a[1], a[2], mid)
            p[2].set()

    async def _serve(self, mid, action, payload):
        h = self.handlers.get(action)
        if h is None:
            self.st.log.write("CALLERROR NotImplemented for %s" % action)
            await self._reply_error(mid, codec.CallError("NotImplemented", "unknown action " + action))
            return
        try:
            try:
                codec.validate(action, True, payload)
            except codec.CallError as e:
                fb = self.invalid.get(action)
                r = fb(e, payload) if fb is not None else None
                if r is None:
                    raise
                await self._send(codec.result(mid, r))
                return
            r = h(payload)
            if r is not None and hasattr(r, "send"):
                r = await r
        except codec.CallError as e:
            self.st.log.write("CALLERROR %s for %s: %s" % (e.code, action, e.description))
            await self._reply_error(mid, e)
            return
        except Exception as e:
            self.st.log.write("handler %s failed: %r" % (action, e))
            await self._reply_error(mid, codec.CallError("InternalError", "handler failed"))
            return
        try:
            await self._send(codec.result(mid, r))
        except Exception as e:
            self.st.log.write("reply to %s lost: %r" % (action, e))

    async def _reply_error(self, mid, e):
        self.st.seclog.write("invalid message: %s %s" % (e.code, e.description))
        try:
            await self._send(codec.error(mid, e.code, e.description, e.details))
        except Exception:
            pass

    # ---- boot, heartbeat, trigger -----------------------------------------

    def _boot_payload(self):
        s = self.st.board["station"]
        cs = {"model": s["model"], "vendorName": s["vendor"]}
        if s.get("serial"):
            cs["serialNumber"] = s["serial"]
        if s.get("firmware"):
            cs["firmwareVersion"] = s["firmware"]
        return {"reason": "PowerUp" if not self.booted else "Triggered" if self.online else "PowerUp",
                "chargingStation": cs}

    def _take_time(self, r):
        if self.st.board.get("clock", "csms") == "csms" and "currentTime" in r:
            t = compat.parse_iso(r["currentTime"])
            if t is not None:
                compat.set_time(t)
                self.st.clock_changed()

    async def _boot(self):
        """BootNotification until Accepted."""
        while True:
            hb = self.heartbeat_s
            r = await self.call("BootNotification", self._boot_payload(), need_boot=False)
            self._take_time(r)
            iv = r.get("interval", 0)
            if r["status"] == "Accepted":
                # A SetVariables served while this answer waited came after it: it wins.
                if iv > 0 and self.heartbeat_s == hb:
                    self.heartbeat_s = iv
                self.booted = True
                return
            self.st.log.write("boot %s, retry in %d s" % (r["status"], iv or 30))
            await compat.sleep_ms((iv if iv > 0 else 30) * 1000)

    async def _boot_once(self):
        try:
            r = await self.call("BootNotification", self._boot_payload())
            self._take_time(r)
        except Exception as e:
            self.st.log.write("triggered boot notification failed: %r" % e)

    async def _heartbeat_once(self):
        try:
            r = await self.call("Heartbeat", {})
            self._take_time(r)
        except Exception as e:
            self.st.log.write("heartbeat failed: %r" % e)

    def _trigger(self, req):
        fn = self.triggers.get(req["requestedMessage"])
        if fn is None:
            return {"status": "NotImplemented"}
        asyncio.create_task(fn() if req.get("evse") is None else fn())
        return {"status": "Accepted"}

    async def _heartbeats(self):
        while self.conn is not None and self.conn.open:
            # 1 s steps: a HeartbeatInterval set by SetVariables applies at once.
            t0 = compat.ticks_ms()
            while compat.ticks_diff(compat.ticks_ms(), t0) < self.heartbeat_s * 1000:
                await compat.sleep_ms(1000)
            if self.conn is None or not self.conn.open:
                return
            await self._heartbeat_once()

    # ---- the connection loop ----------------------------------------------

    async def _reader(self, conn):
        try:
            while True:
                text = await conn.recv()
                await self._dispatch(text)
        except ws.Closed as e:
            self.st.log.write("connection closed: %d %s" % (e.code, e.reason))
        except Exception as e:
            self.st.log.write("connection lost: %r" % e)
        finally:
            p = self.pending
            if p is not None and p[2] is not None:
                p[4] = Offline("connection lost")
                p[2].set()

    async def _connect(self):
        c = self.st.board["csms"]
        ctx = compat.ssl_context(self.st.config_path(c["ca"])) if self.url.startswith("wss:") else None
        return await ws.connect(self.url, subprotocol="ocpp2.0.1",
                                user=self.st.board["station"]["id"], password=c.get("password"),
                                ssl=ctx, max_size=self.st.board["max_message"])

    async def run(self):
        """Forever: connect, boot, serve; back off and retry when anything fails."""
        while True:
            try:
                self.conn = await self._connect()
            except Exception as e:
                self.st.log.write("connect to %s failed: %r" % (self.url, e))
                if isinstance(e, ws.HandshakeError) and getattr(e, "status", 0) in (401, 403):
                    self.st.seclog.write("CSMS refused our credentials (HTTP %d)" % e.status)
                else:   # TLS and connection failures belong to the security log too
                    self.st.seclog.write("connection failure: %r" % e)
                await self._backoff()
                continue
            self.connects += 1
            self.st.log.write("connected to " + self.url)
            conn = self.conn
            reader = asyncio.create_task(self._reader(conn))
            keep = asyncio.create_task(conn.keepalive(max(10000, self.heartbeat_s * 500), 10000))
            hb = None
            try:
                await self._boot()
                self.backoff_ms = 1000
                self._set_online(True)
                hb = asyncio.create_task(self._heartbeats())
                await reader
            except Exception as e:
                self.st.log.write("session ended: %r" % e)
            self._set_online(False)
            for t in (hb, keep, reader):
                if t is not None:
                    t.cancel()
            try:
                await conn.close()
            except Exception:
                pass
            self.conn = None
            await self._backoff()

    async def _backoff(self):
        """Exponential backoff, 1 s doubling to 60 s, with +-25 % jitter."""
        b = self.backoff_ms
        j = compat.urandom(1)[0] / 255  # 0..1
        await compat.sleep_ms(int(b * (0.75 + j * 0.5)))
        self.backoff_ms = min(60000, b * 2)
