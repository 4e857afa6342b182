"""protocol.ws: the pure frame/handshake helpers, and WebSocket over in-memory streams."""
import struct

from protocol import ws
from support import raises, run

MASK = b"\x37\xfa\x21\x3d"


def unmask(data, mask):
    return bytes([c ^ mask[i & 3] for i, c in enumerate(data)])


def test_b64():
    assert ws.b64(b"\x00" * 16) == "AAAAAAAAAAAAAAAAAAAAAA=="
    assert ws.b64(b"CP1:pw") == "Q1AxOnB3"


def parse_url(url):
    """ws.request() -> (secure, host, port, path)."""
    secure, host, port, req = ws.request(url, "K")
    return secure, host, port, req.split(b" ")[1].decode()


def test_parse_url():
    assert parse_url("ws://csms.example/ocpp/CP1") == (False, "csms.example", 80, "/ocpp/CP1")
    assert parse_url("wss://csms.example/ocpp/CP1") == (True, "csms.example", 443, "/ocpp/CP1")
    assert parse_url("ws://10.0.0.2:9000") == (False, "10.0.0.2", 9000, "/")
    assert parse_url("wss://h:8443/a/b?x=1#frag") == (True, "h", 8443, "/a/b?x=1")
    assert parse_url("ws://h?x=1") == (False, "h", 80, "/?x=1")
    assert parse_url("ws://[::1]:81/p") == (False, "::1", 81, "/p")
    assert parse_url("wss://[fe80::1]") == (True, "fe80::1", 443, "/")
    assert parse_url("ws://h:/") == (False, "h", 80, "/")
    for bad in ("http://h/", "ws://", "ws://:80/", "ws://h:0/", "ws://h:65536/", "ws://h:x/",
                "ws://u:p@h/", "ws://[::1/", "ws://[::1]x/", "ws://::1/", "ws://::1:80/", "ws://[]:80/", "ws://h]:80/",
                "ws://[h]]/", "ws://h/a b",
                "ws://h/a\r\nX: y", "ws:/h/", "ws://a b/", "ws://h\r\nX: y/", "ws://h\n/"):
        raises(ValueError, parse_url, bad)


def test_request_headers_and_auth():
    r = ws.request("ws://h/ocpp/CP1", "KEY==", "ocpp2.0.1")[3]
    assert r.startswith(b"GET /ocpp/CP1 HTTP/1.1\r\nHost: h\r\n")
    assert r.endswith(b"\r\n\r\n")
    for line in (b"Upgrade: websocket", b"Connection: Upgrade", b"Sec-WebSocket-Key: KEY==",
                 b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Protocol: ocpp2.0.1"):
        assert line + b"\r\n" in r, line
    assert b"Authorization" not in r
    r = ws.request("wss://h:8443/", "K", None, "CP1", "pw:\u00e9")[3]
    assert b"Host: h:8443\r\n" in r
    assert b"Sec-WebSocket-Protocol" not in r
    assert b"Authorization: Basic " + ws.b64("CP1:pw:\u00e9".encode()).encode() + b"\r\n" in r
    assert b"Host: h\r\n" in ws.request("wss://h:443/", "K")[3]
    assert b"Host: h\r\n" in ws.request("ws://h:080/", "K")[3]
    assert b"Host: [::1]:81\r\n" in ws.request("ws://[::1]:81/", "K")[3]
    r = ws.request("ws://h/", "K", None, None, "")[3]   # empty password still sent
    assert b"Authorization: Basic " + ws.b64(b":").encode() in r
    raises(ValueError, ws.request, "ws://h/", "K", "a\r\nX: y")
    raises(ValueError, ws.request, "ws://h/", "K", "a\nX: y")


VALID = [b"", b"plain ascii", "\u00e9\u20ac\U0001F600".encode(), b"\xc2\x80", b"\xdf\xbf", b"\xe0\xa0\x80",
         b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbf", b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf"]
INVALID = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xc2", b"\xc2\x41", b"\xe0\x80\xaf", b"\xe0\x9f\xbf",
           b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xe2\x82", b"\xe2\x28\xa1", b"\xf0\x80\x80\x80",
           b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80",
           b"\xfe", b"\xff", b"a\xf0\x90\x80"]


def test_utf8_strict():
    # On MicroPython this is decode_text's own check; CPython's decoder is strict already.
    for b in VALID:
        assert ws.decode_text(b, len(b)) == b.decode(), b
        assert ws.decode_text(b"ok " + b + b" ok", len(b) + 6) == "ok " + b.decode() + " ok", b
    for b in INVALID:
        assert ws.decode_text(b, len(b)) is None, b
        assert ws.decode_text(b"ok " + b + b" ok", len(b) + 6) is None, b
        assert ws.decode_text(b"ok " + b, len(b) + 3) is None, b
    # Only the first n bytes count.
    assert ws.decode_text(bytearray(b"ab\xff"), 2) == "ab"
    assert ws.decode_text(b"a\xc3\xa9", 2) is None


def test_errors_are_oserrors():
    e = ws.Closed(1009, "too big")
    assert isinstance(e, ws.WSError) and isinstance(e, OSError)
    assert e.code == 1009 and e.reason == "too big"
    h = ws.HandshakeError(401, "HTTP 401")
    assert isinstance(h, ws.WSError) and isinstance(h, OSError) and not isinstance(h, ws.Closed)
    assert h.status == h.code == 401 and h.reason == "HTTP 401"
    assert "401" in repr(h) and "HTTP 401" in repr(h) and "1009" in repr(e) and "too big" in repr(e)
    assert ws.HandshakeError(None, "x").status is None


# ---------------------------------------------------------------- in-memory streams

class FakeStream:
    """Reader and writer in one: reads from `data`, records what is written."""

    def __init__(self, data, chunk=3):
        self.data = data
        self.pos = 0
        self.chunk = chunk
        self.out = bytearray()
        self.closed = False
        self.transport = self

    async def readexactly(self, n):
        if self.closed:
            raise OSError(9)
        if self.pos + n > len(self.data):
            self.pos = len(self.data)
            raise EOFError
        r = self.data[self.pos:self.pos + n]
        self.pos += n
        return r

    def write(self, b):
        if self.closed:
            raise OSError(9)
        self.out += bytes(b)

    async def drain(self):
        pass

    def close(self):
        self.closed = True

    def abort(self):
        self.closed = True

    async def wait_closed(self):
        self.closed = True


class FakeIntoStream(FakeStream):
    """With readinto, handing out at most `chunk` bytes a call, like a socket."""

    async def readinto(self, mv):
        if self.closed:
            raise OSError(9)
        k = min(len(mv), self.chunk, len(self.data) - self.pos)
        mv[:k] = self.data[self.pos:self.pos + k]
        self.pos += k
        return k


def sframe(op, payload=b"", fin=True):
    n = len(payload)
    b0 = (0x80 if fin else 0) | op
    if n < 126:
        return bytes([b0, n]) + payload
    if n < 65536:
        return bytes([b0, 126]) + struct.pack(">H", n) + payload
    return bytes([b0, 127]) + struct.pack(">Q", n) + payload


def client_frames(out):
    """Parse what the client wrote -> [(opcode, unmasked payload)]."""
    res = []
    i = 0
    while i < len(out):
        op = out[i] & 0x0F
        assert out[i] & 0x80 and out[i + 1] & 0x80
        n = out[i + 1] & 0x7F
        i += 2
        if n == 126:
            n = struct.unpack(">H", out[i:i + 2])[0]
            i += 2
        elif n == 127:
            n = struct.unpack(">Q", out[i:i + 8])[0]
            i += 8
        m = out[i:i + 4]
        i += 4
        res.append((op, unmask(out[i:i + n], m)))
        i += n
    return res


async def _conversation(cls):
    big = b"z" * 1500
    data = (sframe(1, b"hel", False) + sframe(9, b"pi") + sframe(0, b"lo", False) + sframe(0, b"!")
            + sframe(1, big) + sframe(10, b"") + sframe(1, "\u00e9".encode())
            + sframe(8, b"\x0f\xa1see you"))
    s = cls(data)
    c = ws.WebSocket(s, s, 4096)
    assert c.open
    assert await c.recv() == "hello!"
    await c.send("x" * 2000)                       # two pieces of the 1024-byte buffer
    await c.ping()
    assert await c.recv() == "z" * 1500 and c.size == 1500
    assert await c.recv() == "\u00e9" and c.size == 2      # its bytes, for BytesPerMessage
    e = None
    try:
        await c.recv()
    except ws.Closed as x:
        e = x
    assert e.code == 4001 and e.reason == "see you"
    assert not c.open and s.closed
    frames = client_frames(s.out)
    assert frames == [(10, b"pi"), (1, b"x" * 2000), (9, b"\x00\x00\x00\x01"), (8, b"\x0f\xa1")]
    assert len(c._tx) == 1024
    await c.close()                                 # idempotent, nothing more sent
    assert client_frames(s.out) == frames
    try:
        await c.recv()
    except ws.Closed as x:
        assert x.code == 4001


def test_conversation_readexactly_stream():
    run(_conversation(FakeStream))


def test_conversation_readinto_stream():
    run(_conversation(FakeIntoStream))


def test_too_big_refused_and_eof():
    run(_too_big_and_eof())


async def _too_big_and_eof():
    for cls in (FakeStream, FakeIntoStream):
        s = cls(bytes([0x81, 127]) + struct.pack(">Q", 1 << 40))   # nothing follows
        c = ws.WebSocket(s, s, 1000)
        try:
            await c.recv()
            assert False
        except ws.Closed as e:
            assert e.code == 1009
        assert client_frames(s.out) == [(8, b"\x03\xf1too big")]
        s = cls(sframe(1, b"partial")[:5])
        c = ws.WebSocket(s, s, 1000)
        try:
            await c.recv()
            assert False
        except ws.Closed as e:
            assert (e.code, e.reason) == (1006, "")
        assert s.out == b"" and not c.open


class SlowStream(FakeIntoStream):
    """Hands out data only up to `avail`; past that a read waits (and can be cancelled)."""

    def __init__(self, data, avail):
        FakeIntoStream.__init__(self, data)
        self.avail = avail

    async def readinto(self, mv):
        import asyncio
        while self.pos >= self.avail:
            await asyncio.sleep(0.01)
        k = min(len(mv), self.chunk, self.avail - self.pos)
        mv[:k] = self.data[self.pos:self.pos + k]
        self.pos += k
        return k


async def _cancelled_recv():
    import asyncio
    data = sframe(1, b"first") + sframe(1, b"second message")
    s = SlowStream(data, 7)                        # "first" whole, nothing of the second yet
    c = ws.WebSocket(s, s, 1000)
    assert await c.recv() == "first"
    try:
        await asyncio.wait_for(c.recv(), 0.05)     # idle: nothing of a frame read
        assert False
    except asyncio.TimeoutError:
        pass
    assert c.open
    s.avail = 10                                   # 3 bytes of the next frame arrive
    try:
        await asyncio.wait_for(c.recv(), 0.05)
        assert False
    except asyncio.TimeoutError:
        pass
    assert not c.open and s.closed
    try:
        await c.recv()
        assert False
    except ws.Closed as e:
        assert (e.code, e.reason) == (1006, "cancelled")


def test_cancelled_recv_idle_keeps_mid_frame_drops():
    run(_cancelled_recv())


async def _server_close(payload, reason=""):
    """The server's Close frame carrying `payload` -> (Closed raised, what the client answered)."""
    s = FakeIntoStream(sframe(8, payload))
    c = ws.WebSocket(s, s, 1000)
    try:
        await c.recv()
        assert False
    except ws.Closed as e:
        assert not c.open and s.closed
        return (e.code, e.reason), client_frames(s.out)


def test_server_close_payloads():
    async def go():
        # Valid: the code is echoed without a reason; 1005 (none) as an empty Close.
        assert await _server_close(b"") == ((1005, ""), [(8, b"")])
        assert await _server_close(b"\x03\xe8") == ((1000, ""), [(8, b"\x03\xe8")])
        assert await _server_close(b"\x0f\xa0bye \xc3\xa9") == ((4000, "bye \u00e9"), [(8, b"\x0f\xa0")])
        for code in (1001, 1003, 1007, 1014, 3000, 4999):
            assert (await _server_close(struct.pack(">H", code) + b"x"))[0] == (code, "x")
        # Refused: 1 byte, codes that may not appear on the wire, a reason not UTF-8.
        for p in [b"\x03"] + [struct.pack(">H", c) for c in (0, 999, 1004, 1005, 1006, 1015, 2999, 5000)]:
            assert await _server_close(p) == ((1002, "bad close"), [(8, b"\x03\xeabad close")]), p
        r = await _server_close(b"\x03\xe8\xff")
        assert r == ((1007, "bad UTF-8"), [(8, b"\x03\xefbad UTF-8")])
    run(go())


def test_client_close_payloads():
    async def go():
        for args, sent in (((), b"\x03\xe8"), ((1011, "no pong"), b"\x03\xf3no pong"),
                           ((1005,), b""), ((1000, "\u00e9" * 100), b"\x03\xe8" + ("\u00e9" * 100).encode()[:123])):
            s = FakeStream(b"")
            c = ws.WebSocket(s, s, 1000)
            await c.close(*args)
            assert client_frames(s.out) == [(8, sent)] and s.closed and not c.open
            await c.close()
            assert client_frames(s.out) == [(8, sent)]
    run(go())


def test_send_lengths_and_mask():
    async def go():
        for n in (0, 1, 3, 4, 125, 126, 127, 1000, 1010, 1011, 4099):
            data = bytes([(i * 7) & 0xFF for i in range(n)])
            s = FakeStream(b"")
            c = ws.WebSocket(s, s, 1000)
            await c.send(data)
            assert s.out[0] == 0x81
            assert s.out[1] == (0x80 | n if n < 126 else 0xFE)
            if n >= 126:
                assert struct.unpack(">H", s.out[2:4])[0] == n
            assert len(s.out) == (2 if n < 126 else 4) + 4 + n
            assert client_frames(s.out) == [(1, data)], n
        # A str goes out from its UTF-8 view (MicroPython) in pieces of the 1 KB
        # buffer, the mask carried on at odd offsets.
        text = "h\u00e9llo \u20ac" * 300
        s = FakeStream(b"")
        c = ws.WebSocket(s, s, 1000)
        await c.send(text)
        assert client_frames(s.out) == [(1, text.encode())]
        # A list of str parts is one message, never joined: parts of every
        # length mod 4 (the mask turns at each), empty ones, a 1 KB buffer
        # boundary inside a part and between parts, multi-byte characters.
        for parts in (["[3,\"1\",", "{}", "]"], ["", "a", "", "bc\u00e9", "\u20ac" * 400, "", "xyz"],
                      ["p" * 1017, "q" * 7, "r" * 1024, "s"], [""]):
            s = FakeStream(b"")
            c = ws.WebSocket(s, s, 4096)
            await c.send(list(parts))
            assert client_frames(s.out) == [(1, "".join(parts).encode())], parts
    run(go())


class Huge:
    """A payload of n zero bytes that is never stored."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return 0


class OneWrite(FakeStream):
    """Takes one write, then fails like a dead socket."""

    def write(self, b):
        FakeStream.write(self, b)
        self.closed = True


def test_send_large_length_headers():
    # Headers only: payloads this big do not fit a test heap; the send fails after the first piece.
    async def go():
        for n, ext in ((65535, b"\xfe\xff\xff"), (65536, b"\xff" + struct.pack(">Q", 65536)),
                       (70001, b"\xff" + struct.pack(">Q", 70001)),
                       ((1 << 32) + 5, b"\xff" + struct.pack(">Q", (1 << 32) + 5))):
            s = OneWrite(b"")
            c = ws.WebSocket(s, s, 1000)
            try:
                await c.send(Huge(n))
                assert False
            except ws.Closed as e:
                assert e.code == 1006
            h = 1 + len(ext)
            assert bytes(s.out[:h]) == b"\x81" + ext, n
            assert len(s.out) == 1024 and unmask(s.out[h + 4:], s.out[h:h + 4]) == bytes(1020 - h), n
    run(go())


def test_ping_frame():
    async def go():
        s = FakeStream(b"")
        c = ws.WebSocket(s, s, 1000)
        await c.ping()
        await c.ping()
        assert s.out[:2] == b"\x89\x84" and len(s.out) == 20
        assert client_frames(s.out) == [(9, b"\x00\x00\x00\x01"), (9, b"\x00\x00\x00\x02")]
    run(go())


def test_frame_header_matrix():
    """The first two bytes of a server frame, after a started fragmented
    message or not: refused with (code, reason), or read on (here into EOF)."""
    ok = [(0x81, 0x05, False), (0x01, 0x05, False), (0x80, 0x05, True), (0x00, 0x7E, True),
          (0x89, 0x7D, False), (0x89, 0x00, True), (0x8A, 0x00, True), (0x88, 0x02, False),
          (0x81, 0x7F, False)]
    bad = [(0xC1, 0x05, False, "RSV"), (0xA1, 0x05, False, "RSV"), (0x91, 0x05, False, "RSV"),
           (0x81, 0x85, False, "masked"), (0x83, 0x00, False, "opcode"), (0x87, 0x00, False, "opcode"),
           (0x8B, 0x00, False, "opcode"), (0x8F, 0x00, True, "opcode"), (0x09, 0x00, False, "ctrl frag"),
           (0x89, 0x7E, False, "ctrl > 125"), (0x88, 0x7F, False, "ctrl > 125"),
           (0x80, 0x05, False, "frag order"), (0x81, 0x05, True, "frag order"), (0x82, 0x05, True, "frag order")]

    async def refused(b0, b1, frag):
        s = FakeStream((sframe(1, b"a", False) if frag else b"") + bytes([b0, b1]))
        c = ws.WebSocket(s, s, 1000)
        try:
            await c.recv()
            assert False
        except ws.Closed as e:
            sent = client_frames(s.out)
            close = [(8, struct.pack(">H", e.code) + e.reason.encode())] if e.code != 1006 else []
            assert [f for f in sent if f[0] == 8] == close
            return e.code, e.reason

    async def go():
        for b0, b1, frag in ok:
            assert await refused(b0, b1, frag) == (1006, ""), (b0, b1, frag)
        for b0, b1, frag, why in bad:
            code, reason = await refused(b0, b1, frag)
            assert code == 1002 and why in reason, (b0, b1, frag, code, reason)
        assert await refused(0x82, 0x05, False) == (1003, "no binary")
        assert await refused(0x02, 0x05, False) == (1003, "no binary")
    run(go())


def test_header_offsets_match_the_names():
    # MicroPython folds the const() names away; CPython keeps them to check.
    if hasattr(ws, "_UPGRADE"):
        for name, k in ((b"upgrade", ws._UPGRADE), (b"connection", ws._CONNECTION),
                        (b"sec-websocket-accept", ws._ACCEPT), (b"sec-websocket-protocol", ws._PROTOCOL),
                        (b"sec-websocket-extensions", ws._EXTENSIONS)):
            assert ws._WANTED.find(b"|" + name + b"|") == k, name
        assert ws._UPGRADE < ws._CONNECTION < ws._ACCEPT     # lowercased values: the two before Accept
