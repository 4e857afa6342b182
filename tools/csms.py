"""A real CSMS for tests and the simulator console: the `ocpp` package's
ChargePoint over a `websockets` server on 127.0.0.1.

Every frame in either direction is recorded raw (camelCase, as on the wire)
and every frame the station sends is validated against the official OCPP
2.0.1 JSON schemas shipped in the `ocpp` package: `violations` must stay
empty. The server runs in its own thread and event loop so that tests stay
plain synchronous code.
"""
import asyncio
import base64
import json
import os
import threading
import time

import jsonschema
import websockets
from ocpp.charge_point import camel_to_snake_case
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

import ocpp as _ocpp

SCHEMAS = os.path.join(os.path.dirname(_ocpp.__file__), "v201", "schemas")
_cache = {}


def schema_validator(name):
    v = _cache.get(name)
    if v is None:
        with open(os.path.join(SCHEMAS, name + ".json")) as f:
            s = json.load(f)
        s.pop("$id", None)
        v = jsonschema.Draft4Validator(s, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
        _cache[name] = v
    return v


def validate(action, kind, payload):
    """Schema errors of a payload as a list of strings (empty: valid)."""
    return ["%s%s: %s" % (action, kind, e.message)
            for e in schema_validator(action + kind).iter_errors(payload)]


def wait_on(cond, pred, timeout, what, step=0.2):
    """Wait on a Condition until pred() is truthy; return its value or fail with `what`."""
    end = time.time() + timeout
    with cond:
        while True:
            r = pred()
            if r:
                return r
            left = end - time.time()
            if left <= 0:
                raise AssertionError("timed out waiting for " + what)
            cond.wait(min(left, step))


class _Tap:
    """Wraps the server connection: records and validates every frame."""

    def __init__(self, conn, csms, cid):
        self.conn = conn
        self.csms = csms
        self.cid = cid
        self.sent_actions = {}

    async def recv(self):
        raw = await self.conn.recv()
        self.csms._record("in", self.cid, raw, self)
        return raw

    async def send(self, raw):
        self.csms._record("out", self.cid, raw, self)
        await self.conn.send(raw)


class StationLink(ChargePoint):
    """The CSMS side of one station's connection."""

    def __init__(self, cid, conn, csms):
        super().__init__(cid, conn, response_timeout=30)
        self.csms = csms

    @on("BootNotification")
    def on_boot(self, charging_station, reason, **kw):
        status, interval = self.csms.boot_answer()
        return call_result.BootNotification(current_time=self.csms.now(), interval=interval, status=status)

    @on("Heartbeat")
    def on_heartbeat(self, **kw):
        return call_result.Heartbeat(current_time=self.csms.now())

    @on("StatusNotification")
    def on_status(self, **kw):
        return call_result.StatusNotification()

    @on("NotifyEvent")
    async def on_notify_event(self, **kw):
        await self.csms.hook("NotifyEvent")
        return call_result.NotifyEvent()

    @on("NotifyMonitoringReport")
    async def on_notify_monitoring_report(self, **kw):
        await self.csms.hook("NotifyMonitoringReport")
        return call_result.NotifyMonitoringReport()

    @on("NotifyReport")
    def on_notify_report(self, **kw):
        return call_result.NotifyReport()

    @on("LogStatusNotification")
    def on_log_status(self, **kw):
        return call_result.LogStatusNotification()

    @on("NotifyCustomerInformation")
    def on_notify_customer(self, **kw):
        return call_result.NotifyCustomerInformation()

    @on("SecurityEventNotification")
    def on_security_event(self, **kw):
        return call_result.SecurityEventNotification()


class CSMS:
    def __init__(self, port=0, password=None, ssl=None):
        self.port = port
        self.password = password
        self.ssl = ssl
        self.frames = []          # (direction, station id, parsed frame, time)
        self.violations = []
        self.links = {}
        self.connects = 0
        self.boot_answers = []    # queue of (status, interval); default Accepted, 300
        self.heartbeat = 300
        self.hooks = {}           # action -> async fn() run before answering (delays, errors)
        self.clock = None         # fixed currentTime, or None for now
        self.cond = threading.Condition()
        self.loop = None
        self.server = None
        self.thread = None

    # ---- life cycle ------------------------------------------------------------

    def start(self):
        ready = threading.Event()

        def main():
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._serve())
            ready.set()
            self.loop.run_forever()
            self.loop.close()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        ready.wait(10)
        return self

    async def _serve(self):
        self.server = await websockets.serve(self._handler, "127.0.0.1", self.port,
                                             subprotocols=["ocpp2.0.1"], ssl=self.ssl,
                                             process_request=self._auth)
        self.port = self.server.sockets[0].getsockname()[1]

    def _auth(self, connection, request):
        if self.password is None:
            return None
        cid = request.path.rstrip("/").rsplit("/", 1)[-1]
        want = "Basic " + base64.b64encode(("%s:%s" % (cid, self.password)).encode()).decode()
        if request.headers.get("Authorization") != want:
            return connection.respond(401, "bad credentials\n")
        return None

    def stop(self):
        if self.loop is None:
            return

        async def shut():
            self.server.close()
            for link in list(self.links.values()):
                try:
                    await link._connection.conn.close()
                except Exception:
                    pass
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop = None

    def restart(self):
        """Stop and start again on the same port (connections drop)."""
        port = self.port
        self.stop()
        self.port = port
        self.start()

    @property
    def url(self):
        return "%s://127.0.0.1:%d/ocpp" % ("wss" if self.ssl else "ws", self.port)

    async def _handler(self, conn):
        cid = conn.request.path.rstrip("/").rsplit("/", 1)[-1]
        if conn.subprotocol != "ocpp2.0.1":
            await conn.close(1002, "subprotocol")
            return
        link = StationLink(cid, _Tap(conn, self, cid), self)
        with self.cond:
            self.links[cid] = link
            self.connects += 1
            self.cond.notify_all()
        try:
            await link.start()
        except websockets.ConnectionClosed:
            pass
        finally:
            with self.cond:
                if self.links.get(cid) is link:
                    del self.links[cid]
                self.cond.notify_all()

    # ---- behaviour knobs -------------------------------------------------------

    def boot_answer(self):
        if self.boot_answers:
            return self.boot_answers.pop(0)
        return "Accepted", self.heartbeat

    def now(self):
        if self.clock is not None:
            return self.clock
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    async def hook(self, action):
        fn = self.hooks.get(action)
        if fn is not None:
            await fn()

    # ---- recording ---------------------------------------------------------------

    def _record(self, direction, cid, raw, tap):
        try:
            msg = json.loads(raw)
        except ValueError:
            msg = raw
        if direction == "in" and isinstance(msg, list) and len(msg) >= 3:
            # Judge every station frame by the official schemas.
            if msg[0] == 2:
                errs = validate(msg[2], "Request", msg[3])
            elif msg[0] == 3:
                action = tap.sent_actions.get(msg[1])
                errs = validate(action, "Response", msg[2]) if action else []
            elif msg[0] == 4:
                errs = [] if len(msg) == 5 and isinstance(msg[2], str) else ["bad CALLERROR %r" % msg]
            else:
                errs = ["unknown message type %r" % msg]
            if errs:
                self.violations.extend(errs)
        elif direction == "out" and isinstance(msg, list) and len(msg) == 4 and msg[0] == 2:
            tap.sent_actions[msg[1]] = msg[2]
        with self.cond:
            self.frames.append((direction, cid, msg, time.time()))
            self.cond.notify_all()

    def calls(self, action, cid=None):
        """Payloads of the CALLs the station sent with this action, in order."""
        return [f[2][3] for f in list(self.frames)
                if f[0] == "in" and isinstance(f[2], list) and len(f[2]) == 4 and f[2][0] == 2
                and f[2][2] == action and (cid is None or f[1] == cid)]

    def events(self, cid=None):
        """Every eventData the station sent, flattened, in order."""
        out = []
        for p in self.calls("NotifyEvent", cid):
            out.extend(p["eventData"])
        return out

    def wait(self, pred, timeout=20, what="condition"):
        """Wait until pred() is truthy; return its value or fail with `what`."""
        return wait_on(self.cond, pred, timeout, what)

    def wait_calls(self, action, n=1, timeout=20, cid=None):
        return self.wait(lambda: len(self.calls(action, cid)) >= n and self.calls(action, cid),
                         timeout, "%d %s" % (n, action))

    def wait_connected(self, cid, timeout=20):
        return self.wait(lambda: cid in self.links, timeout, "station %s to connect" % cid)

    # ---- CSMS-initiated ------------------------------------------------------------

    def request(self, cid, action, payload, timeout=20):
        """Send a CALL to the station; return the raw CALLRESULT payload, or
        ('CALLERROR', code, description) when it answered an error."""
        link = self.wait(lambda: self.links.get(cid), timeout, "station %s" % cid)
        req = getattr(call, action)(**camel_to_snake_case(payload))
        uid = "csms-%d" % (len(self.frames) + 1) + "-" + str(time.time())

        async def go():
            try:
                await link.call(req, suppress=False, unique_id=uid)
            except Exception:
                pass

        asyncio.run_coroutine_threadsafe(go(), self.loop).result(timeout + 5)
        return self.answer(uid, timeout)

    def send_raw(self, cid, text):
        """Send any text frame to the station (malformed on purpose)."""
        link = self.wait(lambda: self.links.get(cid), 20, "station %s" % cid)
        asyncio.run_coroutine_threadsafe(link._connection.send(text), self.loop).result(10)

    def answer(self, uid, timeout=20):
        def find():
            for f in list(self.frames):
                m = f[2]
                if f[0] == "in" and isinstance(m, list) and len(m) >= 3 and m[0] in (3, 4) and m[1] == uid:
                    return m
            return None

        m = self.wait(find, timeout, "answer to " + uid)
        if m[0] == 3:
            return m[2]
        return ("CALLERROR", m[2], m[3])
