"""Network pieces for the robustness tests (test_fuzz, test_faults, test_storm,
test_power_cuts, test_security). CPython only; everything listens on 127.0.0.1
only and is started and stopped by the test that uses it.

- Loop: a background asyncio loop in a thread, so tests stay synchronous.
- RawCSMS: a WebSocket server written byte by byte (RFC 6455 framing by hand)
  that answers the station's BootNotification and other CALLs, records what
  the station sends, and lets a test write any bytes at all: oversized
  frames, invalid UTF-8, fragments, ping floods, things `websockets` refuses
  to produce.
- Proxy: a TCP relay between the station and a CSMS that a test can pause
  (it stops reading from both sides, so TCP back-pressure builds: a stalled
  network), kill (abort every connection: the CSMS "dies") and make refuse
  new connections.
- heap(): the station's "heap N" readings (board "_debug_heap"), read from its
  <storage>/heap.txt.
"""
import asyncio
import base64
import hashlib
import json
import os
import struct
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STRESS = bool(os.environ.get("STRESS"))


def size(ci, stress):
    """A test's size: `ci` in `make test`, `stress` under `make stress` (STRESS=1)."""
    return stress if STRESS else ci


class Loop:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def soon(self, fn, *args):
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def wait(pred, timeout=20, what="condition", step=0.02):
    """Poll pred() until truthy; return its value or fail naming `what`."""
    end = time.time() + timeout
    while True:
        r = pred()
        if r:
            return r
        if time.time() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(step)


# ---------------------------------------------------------------- frames

def frame(op, payload=b"", fin=True, rsv=0, mask=None, length=None):
    """A server frame (unmasked unless `mask`); `length` overrides the announced length."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | op
    mbit = 0x80 if mask else 0
    if n < 126:
        h = bytes([b0, mbit | n])
    elif n < 65536:
        h = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(c ^ mask[i & 3] for i, c in enumerate(payload))
        h += mask
    return h + payload


async def read_frame(r):
    """A client frame -> (fin, opcode, unmasked payload); clients must mask, and set no RSV bit."""
    b0, b1 = await r.readexactly(2)
    assert b1 & 0x80, "client frame not masked"
    assert not b0 & 0x70
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", await r.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", await r.readexactly(8))[0]
    m = await r.readexactly(4)
    p = await r.readexactly(n)
    mm = (m * (n // 4 + 1))[:n]
    p = (int.from_bytes(p, "big") ^ int.from_bytes(mm, "big")).to_bytes(n, "big") if n else b""
    return bool(b0 & 0x80), b0 & 0x0F, p


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


# Answers the raw CSMS gives to the station's CALLs.
ANSWERS = {
    "BootNotification": lambda: {"currentTime": now_iso(), "interval": 300, "status": "Accepted"},
    "Heartbeat": lambda: {"currentTime": now_iso()},
}


# ---------------------------------------------------------------- raw CSMS

class Conn:
    def __init__(self, r, w, path, headers):
        self.r = r
        self.w = w
        self.path = path
        self.headers = headers
        self.calls = []        # (action, payload) of the station's CALLs
        self.answers = []      # the station's CALLRESULT / CALLERROR frames, parsed
        self.pongs = []        # payloads of the pongs received
        self.close = None      # (code, reason) of the station's Close
        self.ended = False
        self.booted = False


class RawCSMS:
    """A scripted WebSocket CSMS. Every connection is answered 101 with
    ocpp2.0.1; the station's CALLs are answered (ANSWERS, else {}) unless
    `mute` holds their action. `conns` lists the connections, newest last."""

    def __init__(self, loop):
        self.loop = loop
        self.conns = []
        self.mute = set()
        self.server = None
        self.port = None
        self.cond = threading.Condition()

    def start(self):
        async def go():
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
        self.loop.run(go())
        return self

    def stop(self):
        async def go():
            self.server.close()
            for c in self.conns:
                c.w.transport.abort()
        self.loop.run(go())

    @property
    def url(self):
        return "ws://127.0.0.1:%d/ocpp" % self.port

    def _note(self):
        with self.cond:
            self.cond.notify_all()

    async def _serve(self, r, w):
        try:
            data = await r.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            w.transport.abort()
            return
        lines = data.decode("latin-1").split("\r\n")
        hdrs = {}
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        acc = base64.b64encode(hashlib.sha1(hdrs.get("sec-websocket-key", "").encode() + GUID).digest())
        w.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + acc + b"\r\nSec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n")
        c = Conn(r, w, lines[0].split(" ")[1] if " " in lines[0] else "", hdrs)
        self.conns.append(c)
        self._note()
        try:
            while True:
                fin, op, p = await read_frame(r)
                if op == 9:
                    w.write(frame(10, p))
                elif op == 10:
                    c.pongs.append(p)
                elif op == 8:
                    c.close = (struct.unpack(">H", p[:2])[0] if len(p) >= 2 else None,
                               p[2:].decode("utf-8", "replace"))
                    try:
                        w.write(frame(8, p[:2]))
                        await w.drain()
                    except ConnectionError:
                        pass
                    break
                elif op == 1:
                    self._message(c, json.loads(p.decode()))
                self._note()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            c.ended = True
            w.transport.abort()
            self._note()

    def _message(self, c, m):
        if m[0] == 2:
            c.calls.append((m[2], m[3]))
            if m[2] == "BootNotification":
                c.booted = True
            if m[2] not in self.mute:
                fn = ANSWERS.get(m[2])
                c.w.write(frame(1, json.dumps([3, m[1], fn() if fn else {}])))
        else:
            c.answers.append(m)

    # ---- test side (thread-safe) ----

    def conn(self, timeout=30):
        """The newest connection once the station has booted on it."""
        return self.wait(lambda: self.conns and self.conns[-1].booted and not self.conns[-1].ended
                         and self.conns[-1], timeout, "the station to connect and boot")

    def write(self, c, data):
        """Write raw bytes on connection c and drain."""
        async def go():
            c.w.write(data)
            await c.w.drain()
        self.loop.run(go())

    def wait(self, pred, timeout=30, what="condition"):
        from csms import wait_on
        return wait_on(self.cond, pred, timeout, what, 0.1)


# ---------------------------------------------------------------- TCP proxy

class Proxy:
    """127.0.0.1:port -> 127.0.0.1:target. pause() stops reading both ways
    (what is in flight stays in the kernel buffers), resume() goes on,
    kill() aborts every connection, refuse(True) drops new ones at once."""

    def __init__(self, loop, target):
        self.loop = loop
        self.target = target
        self.gate = None
        self.links = []
        self.refusing = False
        self.accepted = 0
        self.bytes = 0
        self.server = None
        self.port = None

    def start(self):
        async def go():
            self.gate = asyncio.Event()
            self.gate.set()
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
        self.loop.run(go())
        return self

    def url(self, path="/ocpp"):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    async def _serve(self, r, w):
        if self.refusing:
            w.transport.abort()
            return
        try:
            r2, w2 = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            w.transport.abort()
            return
        self.accepted += 1
        link = (w, w2)
        self.links.append(link)

        async def pipe(src, dst):
            try:
                while True:
                    await self.gate.wait()
                    data = await src.read(65536)
                    if not data:
                        break
                    await self.gate.wait()
                    self.bytes += len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                for x in link:
                    x.transport.abort()

        await asyncio.gather(pipe(r, w2), pipe(r2, w))
        if link in self.links:
            self.links.remove(link)

    def pause(self):
        self.loop.soon(self.gate.clear)

    def resume(self):
        self.loop.soon(self.gate.set)

    def kill(self):
        async def go():
            for link in list(self.links):
                for x in link:
                    x.transport.abort()
            self.links[:] = []
        self.loop.run(go())

    def refuse(self, on):
        self.refusing = on

    def stop(self):
        async def go():
            self.server.close()
            for link in list(self.links):
                for x in link:
                    x.transport.abort()
        self.loop.run(go())


# ---------------------------------------------------------------- station readings

def heap(st):
    """The station's "heap <bytes> <n>" readings (board _debug_heap, in
    <storage>/heap.txt) as [(n, bytes)], oldest first."""
    out = []
    try:
        with open(st.storage("heap.txt")) as f:
            text = f.read()
    except OSError:
        return out
    for ln in text.splitlines():
        p = ln.split(" ")
        if len(p) == 3 and p[0] == "heap" and p[1].isdigit() and p[2].isdigit():
            out.append((int(p[2]), int(p[1])))
    return out


def heap_settled(st, n=4, timeout=60):
    """The lowest of the next n heap readings (each after gc.collect()): a
    reading taken while a frame is in hand counts that frame, the lowest of a
    few does not."""
    h = heap(st)
    last = h[-1][0] if h else 0
    got = wait(lambda: [b for k, b in heap(st) if k > last][:n] if len([1 for k, b in heap(st) if k > last]) >= n
               else None, timeout, "%d heap readings" % n, step=0.1)
    return min(got)


def rss_kb(pid):
    """Resident set size of a process in kB (Linux), for CPython's bound."""
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


# ---------------------------------------------------------------- an upload sink

class UploadSink:
    """An HTTP server for GetLog uploads on 127.0.0.1 (PUT or POST).

    Each request is scripted by `plan`, a list consumed one entry per
    request: "ok" reads the whole body and answers 201; "cut" reads `cut_at`
    bytes of the body and aborts the connection (the server dies mid-upload);
    "hold" reads the whole body and answers only once `release` is set.
    An empty plan means "ok". `bodies` holds the complete bodies received."""

    def __init__(self, loop):
        self.loop = loop
        self.plan = []
        self.cut_at = 200
        self.requests = []      # (method, path, plan step, bytes read)
        self.bodies = []
        self.release = None
        self.server = None
        self.port = None

    def start(self):
        async def go():
            self.release = asyncio.Event()
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
        self.loop.run(go())
        return self

    def url(self, path="/up/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def let_go(self):
        self.loop.soon(self.release.set)

    async def _serve(self, r, w):
        try:
            head = await r.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            n = 0
            chunked = False
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                if k.strip().lower() == "content-length":
                    n = int(v.strip())
                if k.strip().lower() == "transfer-encoding" and "chunked" in v.lower():
                    chunked = True
            step = self.plan.pop(0) if self.plan else "ok"
            if step == "cut":
                got = await r.read(self.cut_at)
                self.requests.append((method, path, step, len(got)))
                w.transport.abort()
                return
            body = await r.readexactly(n) if not chunked else await _unchunk(r)
            self.requests.append((method, path, step, len(body)))
            if step == "hold":
                await self.release.wait()
            self.bodies.append(body)
            w.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError):
            pass
        finally:
            w.transport.abort()

    def stop(self):
        async def go():
            self.release.set()
            self.server.close()
        self.loop.run(go())


async def _unchunk(r):
    out = b""
    while True:
        n = int((await r.readuntil(b"\r\n")).strip().split(b";")[0], 16)
        if n == 0:
            await r.readuntil(b"\r\n")
            return out
        out += await r.readexactly(n)
        await r.readexactly(2)
