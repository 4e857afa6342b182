"""firmware/protocol/ws.py against real servers on 127.0.0.1, the client on both runtimes.

A `websockets` server covers the happy paths; a raw asyncio TCP server, scripted
byte by byte per test, covers the hostile ones. Servers run in one background
event loop thread; each client is host_tests/clients/ws_probe.py in a subprocess
(CPython, or the MicroPython unix port), whose printed lines are asserted on.
"""
import asyncio
import base64
import hashlib
import os
import ssl
import struct
import subprocess
import threading
import time

import pytest
import trustme
from websockets.asyncio.server import basic_auth, serve

from conftest import BIN, MICROPYTHON, MP_HEAP, ROOT

RUNTIMES = ["cpython", "micropython"]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PROBE = "host_tests/clients/ws_probe.py"


def wait_seen(timeout=3):
    """What the websockets handler recorded, once it has finished."""
    end = time.monotonic() + timeout
    while State.seen is None and time.monotonic() < end:
        time.sleep(0.01)
    return State.seen


def probe(runtime, *args, timeout=15):
    if runtime == "cpython":
        exe = [os.path.join(BIN, "python")]
    else:
        exe = [MICROPYTHON, "-X", "heapsize=" + MP_HEAP]
    p = subprocess.Popen(exe + [PROBE] + [str(a) for a in args], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail("probe timed out: %r\n%s%s" % (args, out.decode("utf-8", "replace"),
                                                   err.decode("utf-8", "replace")))
    text = out.decode("utf-8")
    lines = text.splitlines()
    assert lines and lines[-1] == "END", text + err.decode("utf-8", "replace")
    return lines[:-1]


# ---------------------------------------------------------------- server loop

class Loop:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def loop():
    lp = Loop()
    yield lp
    lp.stop()


# ---------------------------------------------------------------- websockets servers

class State:
    mode = "echo"
    arg = None
    seen = None        # what the handler observed, for the test to assert on


async def ws_handler(conn):
    st = State
    path = conn.request.path
    try:
        if path == "/p":
            await conn.send("proto %s" % conn.subprotocol)
            await conn.wait_closed()
        elif path.startswith("/ocpp/"):
            await conn.send("hello %s %s %s" % (conn.subprotocol, path, getattr(conn, "username", None)))
            async for m in conn:
                await conn.send(m)
        elif st.mode == "fragment":
            await conn.send(["frag-", "ment", "ed \u00e9"])
            await conn.send("after")
            await conn.close(1000, "bye")
            st.seen = conn.protocol.close_rcvd and conn.protocol.close_rcvd.code
        elif st.mode == "ping":
            t = await asyncio.wait_for(await conn.ping(b"abc"), 5)
            await conn.send("pong-ok %d" % (t >= 0))
            await conn.close(4000, "custom")
            st.seen = conn.protocol.close_rcvd and conn.protocol.close_rcvd.code
        elif st.mode == "close":
            await conn.close(st.arg[0], st.arg[1])
            st.seen = conn.protocol.close_rcvd and (conn.protocol.close_rcvd.code, conn.protocol.close_rcvd.reason)
        elif st.mode == "ka":
            await asyncio.sleep(1.2)
            await conn.send("still here")
            await conn.close(1000, "")
    except Exception as e:  # surfaces in the test through State.seen
        st.seen = "server error %r" % e


@pytest.fixture(scope="module")
def wss_port(loop):
    """Echo server on ws://127.0.0.1 offering ocpp2.0.1."""
    async def start():
        return await serve(ws_handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"], ping_interval=None)
    srv = loop.run(start())
    yield srv.sockets[0].getsockname()[1]
    loop.run(_close_ws(srv))


async def _close_ws(srv):
    srv.close()
    await srv.wait_closed()


@pytest.fixture(scope="module")
def auth_port(loop):
    async def start():
        return await serve(ws_handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"], ping_interval=None,
                           process_request=basic_auth(realm="ocpp", credentials=("CP7", "s3cr\u00e9t:x")))
    srv = loop.run(start())
    yield srv.sockets[0].getsockname()[1]
    loop.run(_close_ws(srv))


@pytest.fixture(scope="module")
def plain_port(loop):
    """A server configured with no subprotocols: it never sends the header."""
    async def start():
        return await serve(ws_handler, "127.0.0.1", 0, ping_interval=None)
    srv = loop.run(start())
    yield srv.sockets[0].getsockname()[1]
    loop.run(_close_ws(srv))


@pytest.fixture(scope="module")
def tls(loop, tmp_path_factory):
    """wss:// echo server with a cert for 127.0.0.1 from a fresh CA; the CA
    (PEM), and another CA's PEM that did not sign it."""
    d = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    other = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(sctx)
    good = d / "ca.pem"
    bad = d / "other.pem"
    good.write_bytes(ca.cert_pem.bytes())
    bad.write_bytes(other.cert_pem.bytes())

    async def start():
        return await serve(ws_handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"],
                           ping_interval=None, ssl=sctx)
    srv = loop.run(start())
    yield srv.sockets[0].getsockname()[1], str(good), str(bad)
    loop.run(_close_ws(srv))


# ---------------------------------------------------------------- raw scripted server

class Raw:
    """One-connection TCP server running `script(reader, writer)`; its return
    value (or exception) is available through result()."""

    def __init__(self, loop, script):
        self.loop = loop
        self.script = script
        self.fut = None
        self.server = None

    async def _start(self):
        self.fut = asyncio.get_running_loop().create_future()

        async def on_conn(r, w):
            try:
                res = await asyncio.wait_for(self.script(r, w), 10)
                if not self.fut.done():
                    self.fut.set_result(res)
            except BaseException as e:
                if not self.fut.done():
                    self.fut.set_exception(e)
            finally:
                w.transport.abort()
        self.server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    def start(self):
        return self.loop.run(self._start())

    def result(self, timeout=10):
        async def get():
            try:
                return await asyncio.wait_for(self.fut, timeout)
            finally:
                self.server.close()
        return self.loop.run(get(), timeout + 2)


def accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


async def read_request(r):
    data = await r.readuntil(b"\r\n\r\n")
    lines = data.decode().split("\r\n")
    hdrs = {}
    for ln in lines[1:]:
        if ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return lines[0], hdrs


async def handshake(r, w, proto="ocpp2.0.1", status="101 Switching Protocols", acc=None, extra="",
                    upgrade="Upgrade: websocket", connection="Connection: Upgrade", raw=None):
    """Answer the client's request; `extra` may hold {acc}, the right Sec-WebSocket-Accept."""
    line, h = await read_request(r)
    a = accept(h["sec-websocket-key"])
    resp = "HTTP/1.1 %s\r\n" % status
    for hl in (upgrade, connection, "Sec-WebSocket-Accept: %s" % (a if acc is None else acc)):
        if hl:
            resp += hl + "\r\n"
    if proto:
        resp += "Sec-WebSocket-Protocol: %s\r\n" % proto
    if raw is not None:
        resp = raw
    w.write((resp + extra.replace("{acc}", a) + "\r\n").encode())
    await w.drain()
    return line, h


from clients.fault_net import frame, read_frame  # noqa: E402  (one raw-frame helper for all tests)


async def read_close(r):
    """Skip pongs until the client's Close; -> (code or None, reason)."""
    while True:
        fin, op, p = await read_frame(r)
        if op == 8:
            if not p:
                return None, ""
            return struct.unpack(">H", p[:2])[0], p[2:].decode()
        assert op in (9, 10), (op, p)


def raw_run(loop, runtime, script, *args, scenario="recv"):
    raw = Raw(loop, script)
    port = raw.start()
    lines = probe(runtime, scenario, port, *args)
    try:
        return lines, raw.result()
    except Exception as e:
        pytest.fail("server script failed: %r; client printed %r" % (e, lines))


# ================================================================ happy paths (websockets)

@pytest.mark.parametrize("runtime", RUNTIMES)
def test_echo_roundtrip_and_close(runtime, wss_port):
    lines = probe(runtime, "echo", wss_port)
    assert lines[0] == "HELLO hello ocpp2.0.1 /ocpp/CP1 None"
    assert lines[1:6] == ["ECHO 5 ok", "ECHO 9 ok", "ECHO 200 ok", "ECHO 20000 ok", "ECHO 0 ok"]
    assert lines[6] == "ECHO bytes bytes ok"
    assert lines[7] == "TXBUF 1024"          # a 20000-byte message went out in pieces
    assert lines[8:] == ["OPEN False", "CLOSE2 ok", "CLOSED 1000 ", "SEND after close: 1000"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_basic_auth_accepted(runtime, auth_port):
    lines = probe(runtime, "auth", auth_port, "CP7", "s3cr\u00e9t:x")
    assert lines == ["AUTH ok hello ocpp2.0.1 /ocpp/CP7 CP7"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_basic_auth_wrong_password_is_401(runtime, auth_port):
    lines = probe(runtime, "auth", auth_port, "CP7", "wrong")
    assert lines == ["HANDSHAKE 401 HTTP 401"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_subprotocol_negotiated(runtime, wss_port, plain_port):
    assert probe(runtime, "proto", wss_port, "ocpp2.0.1") == ["PROTO ok proto ocpp2.0.1"]
    # Asking for none from a server that asks for none.
    assert probe(runtime, "proto", plain_port, "-") == ["PROTO ok proto None"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_subprotocol_mismatch_refused(runtime, wss_port, plain_port):
    # websockets answers 101 without Sec-WebSocket-Protocol: the client must refuse.
    assert probe(runtime, "proto", plain_port, "ocpp2.0.1") == ["HANDSHAKE 101 no proto"]
    # websockets refuses a client that offers none of its subprotocols with 400.
    assert probe(runtime, "proto", wss_port, "ocpp1.6") == ["HANDSHAKE 400 HTTP 400"]
    assert probe(runtime, "proto", wss_port, "-") == ["HANDSHAKE 400 HTTP 400"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_server_fragmented_message_and_close(runtime, wss_port):
    State.mode, State.seen = "fragment", None
    lines = probe(runtime, "recv", wss_port)
    assert lines == ["CONNECTED", "MSG 13 frag-mented \u00e9", "MSG 5 after", "CLOSED 1000 bye", "OPEN False"]
    assert wait_seen() == 1000            # the client echoed the server's code


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_server_ping_gets_pong(runtime, wss_port):
    State.mode, State.seen = "ping", None
    lines = probe(runtime, "recv", wss_port)
    assert lines == ["CONNECTED", "MSG 9 pong-ok 1", "CLOSED 4000 custom", "OPEN False"]
    assert wait_seen() == 4000


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("code,reason", [(1001, "going away"), (4999, "app \u00e9")])
def test_server_close_codes(runtime, wss_port, code, reason):
    State.mode, State.arg, State.seen = "close", (code, reason), None
    lines = probe(runtime, "recv", wss_port)
    assert lines == ["CONNECTED", "CLOSED %d %s" % (code, reason), "OPEN False"]
    assert wait_seen() == (code, "")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_keepalive_with_answering_server_stays_open(runtime, wss_port):
    State.mode = "ka"
    lines = probe(runtime, "keepalive", wss_port, 200, 500)
    assert lines[:3] == ["MSG 10 still here", "CLOSED 1000 ", "OPEN False"]
    assert lines[4:] == ["PONGS yes", "KEEPALIVE returned"]


# ================================================================ wss

@pytest.mark.parametrize("runtime", RUNTIMES)
def test_wss_with_right_ca(runtime, tls):
    port, good, bad = tls
    lines = probe(runtime, "wss", port, good)
    assert lines == ["HELLO hello ocpp2.0.1 /ocpp/CP1 None", "ECHO 8 ok", "ECHO 3000 ok", "OPEN False"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_wss_with_wrong_ca_refused(runtime, tls):
    port, good, bad = tls
    lines = probe(runtime, "wss", port, bad)
    # Both are OSError: CPython's own, and ws.WSError wrapping mbedtls' ValueError.
    if runtime == "cpython":
        assert lines == ["ERROR SSLCertVerificationError"]
    else:
        assert lines == ["WSERROR TLS: The certificate is not correctly signed by the trusted CA"]


# ================================================================ hostile handshakes (raw)

@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("kw,expect", [
    ({"acc": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "HANDSHAKE 101 bad Accept"),
    ({"extra": "Sec-WebSocket-Accept: {acc}\r\n"}, "HANDSHAKE 101 bad Accept"),
    ({"upgrade": None}, "HANDSHAKE 101 no Upgrade"),
    ({"upgrade": "Upgrade: h2c"}, "HANDSHAKE 101 no Upgrade"),
    ({"connection": "Connection: keep-alive"}, "HANDSHAKE 101 no Connection: Upgrade"),
    ({"connection": None}, "HANDSHAKE 101 no Connection: Upgrade"),
    ({"proto": None}, "HANDSHAKE 101 no proto"),
    ({"proto": "ocpp1.6"}, "HANDSHAKE 101 bad proto"),
    ({"extra": "Sec-WebSocket-Protocol: ocpp2.0.1\r\n"}, "HANDSHAKE 101 bad proto"),
    ({"status": "200 OK"}, "HANDSHAKE 200 HTTP 200"),
    ({"status": "401 Unauthorized"}, "HANDSHAKE 401 HTTP 401"),
    ({"status": "1010 x"}, "HANDSHAKE None bad status"),
    ({"raw": "SSH-2.0-OpenSSH_9.6\r\n"}, "HANDSHAKE None bad status"),
    ({"raw": "HTTP/2 101\r\n"}, "HANDSHAKE None bad status"),
    ({"extra": "no colon here\r\n"}, "HANDSHAKE 101 bad header"),
    ({"extra": ": empty name\r\n"}, "HANDSHAKE 101 bad header"),
    ({"extra": "Sec-WebSocket-Extensions: permessage-deflate\r\n"}, "HANDSHAKE 101 extension"),
    ({"extra": "X-Junk: " + "a" * 5000 + "\r\n"}, "HANDSHAKE None long line"),
], ids=["accept", "accept-twice", "no-upgrade", "upgrade-h2c", "no-connection-upgrade", "no-connection",
        "no-proto", "other-proto", "proto-twice", "200", "401", "status-4-digits", "ssh", "http2",
        "no-colon", "empty-name", "extension", "long-line"])
def test_handshake_refused(runtime, loop, kw, expect):
    seen = {}

    async def script(r, w):
        line, h = await handshake(r, w, **kw)
        seen.update(h, line=line)
        await asyncio.sleep(0.3)

    lines, _ = raw_run(loop, runtime, script)
    assert lines == [expect]
    # The request itself, as the brief specifies it.
    assert seen["line"] == "GET /raw HTTP/1.1"
    assert seen["host"].startswith("127.0.0.1:") and seen["host"][10:].isdigit()
    assert seen["upgrade"] == "websocket" and seen["connection"] == "Upgrade"
    assert seen["sec-websocket-version"] == "13" and seen["sec-websocket-protocol"] == "ocpp2.0.1"
    assert len(base64.b64decode(seen["sec-websocket-key"])) == 16
    assert "authorization" not in seen


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_handshake_lenient_where_rfc_allows(runtime, loop):
    """Header names and values in any case, Connection a token list, other headers ignored."""
    async def script(r, w):
        await handshake(r, w, upgrade="upgrade: WebSocket", connection="connection: keep-alive, Upgrade",
                        proto="ocpp2.0.1", extra="Server: x\r\nX-Other:  y \r\n")
        w.write(frame(1, b"hi") + frame(8, struct.pack(">H", 1000)))
        await w.drain()
        return await read_close(r)

    lines, close = raw_run(loop, runtime, script)
    assert lines == ["CONNECTED", "MSG 2 hi", "CLOSED 1000 ", "OPEN False"]
    assert close == (1000, "")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_unrequested_subprotocol_refused(runtime, loop):
    seen = {}

    async def script(r, w):
        line, h = await handshake(r, w, proto="ocpp2.0.1")
        seen.update(h)
        await asyncio.sleep(0.3)

    lines, _ = raw_run(loop, runtime, script, "-", scenario="proto")
    assert lines == ["HANDSHAKE 101 bad proto"]
    assert "sec-websocket-protocol" not in seen


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_handshake_timeout_and_header_flood(runtime, loop):
    async def silent(r, w):
        await read_request(r)
        await r.read()                  # until the client gives up

    t = time.monotonic()
    lines, _ = raw_run(loop, runtime, silent, 65536, 400)
    assert lines == ["HANDSHAKE None timeout"]
    assert time.monotonic() - t < 1.8

    async def flood(r, w):
        await handshake(r, w, extra="X-A: b\r\n" * 200)
        await asyncio.sleep(0.3)

    lines, _ = raw_run(loop, runtime, flood)
    assert lines == ["HANDSHAKE 101 too many headers"]

    async def hangup(r, w):
        await read_request(r)
        w.write(b"HTTP/1.1 101 Switching")
        await w.drain()

    lines, _ = raw_run(loop, runtime, hangup)
    assert lines == ["HANDSHAKE None EOF"]


# ================================================================ hostile frames (raw)

PROTOCOL_ERRORS = {
    "masked": frame(1, b"hi", mask=b"\x01\x02\x03\x04"),
    "rsv1": frame(1, b"hi", rsv=0x40),
    "opcode3": frame(3, b"hi"),
    "opcode11": frame(11, b""),
    "long-ping": frame(9, b"p" * 126),
    "fragmented-ping": frame(9, b"p", fin=False),
    "lone-continuation": frame(0, b"hi"),
    "text-inside-fragments": frame(1, b"a", fin=False) + frame(1, b"b"),
    "close-1-byte": frame(8, b"\x03"),
    "close-code-1005": frame(8, struct.pack(">H", 1005)),
    "close-code-999": frame(8, struct.pack(">H", 999)),
    "length-msb": bytes([0x81, 127]) + b"\x80" + b"\x00" * 7,
}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("case", sorted(PROTOCOL_ERRORS))
def test_protocol_error_closes_1002(runtime, loop, case):
    async def script(r, w):
        await handshake(r, w)
        w.write(PROTOCOL_ERRORS[case])
        await w.drain()
        return await read_close(r)

    lines, (code, _) = raw_run(loop, runtime, script)
    assert lines[0] == "CONNECTED"
    assert lines[1].startswith("CLOSED 1002 ") and lines[2:] == ["OPEN False"], lines
    assert code == 1002


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_binary_message_closes_1003(runtime, loop):
    async def script(r, w):
        await handshake(r, w)
        w.write(frame(2, b"\x00\x01"))
        await w.drain()
        return await read_close(r)

    lines, (code, _) = raw_run(loop, runtime, script)
    assert lines == ["CONNECTED", "CLOSED 1003 no binary", "OPEN False"]
    assert code == 1003


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("bad", [b"\xff", b"ok\xc3", b"\xc0\xaf", b"\xe0\x80\xaf",
                                 b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80"],
                         ids=["ff", "truncated", "overlong2", "overlong3", "surrogate", "above-10ffff", "f5"])
def test_invalid_utf8_closes_1007(runtime, loop, bad):
    async def script(r, w):
        await handshake(r, w)
        w.write(frame(1, "fine \u00e9".encode()) + frame(1, b"x " + bad + b" y"))
        await w.drain()
        return await read_close(r)

    lines, (code, _) = raw_run(loop, runtime, script)
    assert lines == ["CONNECTED", "MSG 6 fine \u00e9", "CLOSED 1007 bad UTF-8", "OPEN False"]
    assert code == 1007


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_oversized_frame_refused_from_header(runtime, loop):
    async def script(r, w):
        await handshake(r, w)
        # Announce 10 MB, send only 1000 bytes: a client that tried to buffer
        # the body would wait forever instead of closing.
        w.write(frame(1, b"a" * 1000, length=10 * 1024 * 1024))
        await w.drain()
        return await read_close(r)

    t = time.monotonic()
    lines, (code, _) = raw_run(loop, runtime, script)
    assert lines == ["CONNECTED", "CLOSED 1009 too big", "OPEN False"]
    assert code == 1009
    assert time.monotonic() - t < 5


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_oversized_fragmented_message_refused(runtime, loop):
    async def script(r, w):
        await handshake(r, w)
        w.write(frame(1, b"b" * 3000))                   # a whole message that fits
        w.write(frame(1, b"a" * 3000, fin=False))         # 3000 of 5000 so far...
        w.write(frame(0, b"", length=3000, fin=True))     # ...6000 announced: refuse
        await w.drain()
        return await read_close(r)

    lines, (code, _) = raw_run(loop, runtime, script, 5000)
    assert lines == ["CONNECTED", "MSG 3000 " + "b" * 80, "CLOSED 1009 too big", "OPEN False"]
    assert code == 1009


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_control_frames_between_fragments(runtime, loop):
    euro = "\u20ac".encode()                             # split across fragments
    body = ("x" * 200).encode()

    async def script(r, w):
        await handshake(r, w)
        w.write(frame(1, b"abc" + euro[:1], fin=False))
        w.write(frame(9, b"p1"))
        w.write(frame(0, euro[1:] + b"def", fin=False))
        w.write(frame(10, b"unsolicited"))
        w.write(frame(9, b""))
        w.write(frame(0, body, fin=False))                # 16-bit length inside a fragment
        w.write(frame(0, b"ghi"))
        await w.drain()
        pongs = []
        for _ in range(2):
            fin, op, p = await read_frame(r)
            pongs.append((fin, op, p))
        w.write(frame(1, b"next") + frame(8, b""))         # then a Close without a code
        await w.drain()
        return pongs, await read_close(r)

    lines, (pongs, close) = raw_run(loop, runtime, script)
    msg = "abc\u20acdef" + "x" * 200 + "ghi"
    assert lines == ["CONNECTED", "MSG %d %s" % (len(msg), msg[:80]), "MSG 4 next", "CLOSED 1005 ", "OPEN False"]
    assert pongs == [(True, 10, b"p1"), (True, 10, b"")]
    assert close == (None, "")                             # 1005 is echoed as an empty Close


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_server_close_edge_cases(runtime, loop):
    async def bad_reason(r, w):
        await handshake(r, w)
        w.write(frame(8, struct.pack(">H", 1000) + b"\xff"))
        await w.drain()
        return await read_close(r)

    lines, (code, _) = raw_run(loop, runtime, bad_reason)
    assert lines == ["CONNECTED", "CLOSED 1007 bad UTF-8", "OPEN False"]
    assert code == 1007

    async def eof(r, w):
        await handshake(r, w)
        w.write(frame(1, b"last words"))
        await w.drain()
        w.close()

    lines, _ = raw_run(loop, runtime, eof)
    assert lines == ["CONNECTED", "MSG 10 last words", "CLOSED 1006 ", "OPEN False"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_client_frames_masked_all_lengths(runtime, loop):
    sizes = (0, 5, 125, 126, 300, 65535, 65536, 70000)

    async def script(r, w):
        _, h = await handshake(r, w)
        got = []
        for _ in sizes:
            got.append(await read_frame(r))
        fin, op, p = await read_frame(r)                   # the ping
        w.write(frame(10, p))
        w.write(frame(8, struct.pack(">H", 3001) + b"done"))
        await w.drain()
        return got, (fin, op, p), await read_close(r)

    lines, (got, ping, close) = raw_run(loop, runtime, script, ",".join(map(str, sizes)), scenario="send")
    assert lines == ["SENT %d" % len(sizes), "CLOSED 3001 done", "OPEN False"]
    for n, (fin, op, p) in zip(sizes, got):
        assert fin and op == 1 and p == (b"0123456789" * (n // 10 + 1))[:n], n
    assert ping[0] and ping[1] == 9 and ping[2] == struct.pack(">I", 1)
    assert close == (3001, "")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_recv_timeout_while_idle_keeps_connection(runtime, loop):
    async def script(r, w):
        await handshake(r, w)
        await asyncio.sleep(0.7)                # two 200 ms recv() timeouts pass
        w.write(frame(1, b"late") + frame(8, struct.pack(">H", 1000)))
        await w.drain()
        return await read_close(r)

    lines, close = raw_run(loop, runtime, script, scenario="idle")
    assert lines == ["TIMEOUT open True", "TIMEOUT open True", "MSG 4 late", "CLOSED 1000 ", "OPEN False"]
    assert close == (1000, "")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_keepalive_closes_when_pongs_stop(runtime, loop):
    async def script(r, w):
        await handshake(r, w)
        frames = []
        try:
            while True:                                    # read, never answer
                frames.append((await read_frame(r))[1:])
                if frames[-1][0] == 8:
                    break
        except asyncio.IncompleteReadError:
            pass
        # Keep TCP open: the client must drop it itself, not wait for us.
        await asyncio.wait_for(r.read(), 3)
        return frames

    lines, frames = raw_run(loop, runtime, script, 200, 300, scenario="keepalive")
    assert lines[:2] == ["CLOSED 1006 no pong", "OPEN False"]
    elapsed = int(lines[2].split()[1])
    assert 450 <= elapsed < 1300, elapsed
    assert lines[3:] == ["PONGS no", "KEEPALIVE returned"]
    assert frames[0] == (9, struct.pack(">I", 1))
    assert frames[-1] == (8, struct.pack(">H", 1011) + b"no pong")
