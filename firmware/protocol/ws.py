"""RFC 6455 WebSocket client on asyncio streams, for MicroPython and CPython.

    conn = await ws.connect("wss://csms/ocpp/CP1", ssl=compat.ssl_context(ca))
    await conn.send(text); msg = await conn.recv(); await conn.close()

Text messages only (OCPP-J). One task reads (recv), any task may send; sends
are serialised by a lock and masked into one preallocated 1 KB buffer, a
longer frame going out in pieces of it (that buffer never grows). Received
payloads land in a reusable buffer grown only as far as a message needs
(at most max_size), and a frame announcing more than max_size is refused
from its header alone. Pongs are only seen while a task sits in recv().

recv() and send() may be cancelled (wait_for) while idle; cancelled in the
middle of a frame, they drop the connection (Closed(1006, ...)): a frame cut
short cannot be resumed. Neither runtime's streams lose data when a read is
cancelled before it returned, which is what makes the idle case safe.
"""
import asyncio
import binascii
import hashlib
import struct

from compat import IS_MPY, sleep_ms, ticks_ms, urandom

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0
OP_TEXT = 1
OP_BINARY = 2
OP_CLOSE = 8
OP_PING = 9
OP_PONG = 10

MAX_LINE = 1024      # longest handshake response line we read
MAX_HEADERS = 48     # most header lines in the handshake response
_RBUF = 512          # initial receive buffer; grows up to max_size
# A receive buffer keeps the size of the largest message seen (at most
# max_size): allocating and dropping large buffers per message fragments a
# small heap until a later one no longer fits.
_TBUF = 1024         # transmit buffer: a larger frame goes out in pieces of this
_CLOSE_MS = 2000     # how long close() tries to send its close frame

_WANTED = (b"upgrade", b"connection", b"sec-websocket-accept",
           b"sec-websocket-protocol", b"sec-websocket-extensions")


class WSError(OSError):
    pass


class HandshakeError(WSError):
    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.msg = msg
        self.status = status

    def __str__(self):
        return self.msg


class Closed(WSError):
    def __init__(self, code=1006, reason=""):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self):
        return "closed %d %s" % (self.code, self.reason)


# ---------------------------------------------------------------- pure helpers

def b64(data):
    """Base64 of bytes as str, without the trailing newline."""
    return binascii.b2a_base64(data)[:-1].decode()


def accept_key(key):
    """The Sec-WebSocket-Accept a server must answer to Sec-WebSocket-Key `key` (str)."""
    return b64(hashlib.sha1(key.encode() + GUID).digest())


def parse_url(url):
    """ws[s]://host[:port][/path] -> (secure, host, port, path). ValueError when malformed."""
    if url.startswith("ws://"):
        secure, rest, port = False, url[5:], 80
    elif url.startswith("wss://"):
        secure, rest, port = True, url[6:], 443
    else:
        raise ValueError("not a ws:// or wss:// URL")
    i = rest.find("#")
    if i >= 0:
        rest = rest[:i]
    i = rest.find("/")
    j = rest.find("?")
    if j >= 0 and (i < 0 or j < i):
        hostport, path = rest[:j], "/" + rest[j:]
    elif i >= 0:
        hostport, path = rest[:i], rest[i:]
    else:
        hostport, path = rest, "/"
    if "@" in hostport:
        raise ValueError("credentials in URL not supported")
    if hostport.startswith("["):
        j = hostport.find("]")
        if j < 0:
            raise ValueError("bad IPv6 host")
        host, p = hostport[1:j], hostport[j + 1:]
        if p and p[0] != ":":
            raise ValueError("bad host")
        p = p[1:]
    else:
        host, _, p = hostport.partition(":")
    if p:
        if not p.isdigit():
            raise ValueError("bad port")
        port = int(p)
        if not 0 < port < 65536:
            raise ValueError("bad port")
    if not host:
        raise ValueError("no host")
    for c in " \r\n":
        if c in path:
            raise ValueError("bad path")
    return secure, host, port, path


def build_request(host, port, secure, path, key, subprotocol=None, user=None, password=None):
    """The HTTP/1.1 upgrade request as bytes."""
    hh = "[" + host + "]" if ":" in host else host
    if port != (443 if secure else 80):
        hh = "%s:%d" % (hh, port)
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n") % (path, hh, key)
    if subprotocol:
        if "\r" in subprotocol or "\n" in subprotocol:
            raise ValueError("bad subprotocol")
        req += "Sec-WebSocket-Protocol: %s\r\n" % subprotocol
    if password is not None:
        cred = (user or "") + ":" + password
        req += "Authorization: Basic %s\r\n" % b64(cred.encode())
    return (req + "\r\n").encode()


def parse_status(line):
    """b'HTTP/1.1 101 Switching Protocols' -> 101; HandshakeError when not a status line."""
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3 \
            or not parts[1].isdigit():
        raise HandshakeError("bad status line")
    return int(parts[1])


def add_header(hdrs, line):
    """Record one header line (bytes, no CRLF) in hdrs when it is one we check.

    Keys are lowercased names; repeated headers are joined with ', '."""
    i = line.find(b":")
    if i <= 0:
        raise HandshakeError("malformed header line", 101)
    name = line[:i].strip().lower()
    if name in _WANTED:
        v = line[i + 1:].strip()
        old = hdrs.get(name)
        hdrs[name] = v if old is None else old + b", " + v


def check_response(hdrs, key, subprotocol):
    """Raise HandshakeError unless the 101 headers accept our upgrade."""
    if hdrs.get(b"upgrade", b"").lower() != b"websocket":
        raise HandshakeError("no Upgrade: websocket", 101)
    ok = False
    for t in hdrs.get(b"connection", b"").split(b","):
        if t.strip().lower() == b"upgrade":
            ok = True
    if not ok:
        raise HandshakeError("no Connection: Upgrade", 101)
    if hdrs.get(b"sec-websocket-accept") != accept_key(key).encode():
        raise HandshakeError("bad Sec-WebSocket-Accept", 101)
    proto = hdrs.get(b"sec-websocket-protocol")
    if subprotocol:
        if proto is None:
            raise HandshakeError("server chose no subprotocol", 101)
        if proto != subprotocol.encode():
            raise HandshakeError("server chose another subprotocol", 101)
    elif proto is not None:
        raise HandshakeError("server chose an unrequested subprotocol", 101)
    if b"sec-websocket-extensions" in hdrs:
        raise HandshakeError("server chose an unrequested extension", 101)


def header_error(b0, b1, fragmented):
    """Check the first two bytes of a server frame.

    fragmented: a data message has started and awaits continuation frames.
    Returns None, or (close code, reason) when the frame must be refused."""
    op = b0 & 0x0F
    if b0 & 0x70:
        return 1002, "reserved bits set"
    if b1 & 0x80:
        return 1002, "masked frame from server"
    if op >= 8:
        if op > 10:
            return 1002, "unknown opcode"
        if not b0 & 0x80:
            return 1002, "fragmented control frame"
        if b1 & 0x7F > 125:
            return 1002, "control frame too long"
        return None
    if op > 2:
        return 1002, "unknown opcode"
    if op == OP_CONT:
        if not fragmented:
            return 1002, "continuation without start"
        return None
    if fragmented:
        return 1002, "new message inside a fragmented one"
    if op == OP_BINARY:
        return 1003, "binary messages not accepted"
    return None


def header_into(buf, op, n, mask):
    """Write the header of a FIN frame of opcode `op` with an n-byte payload
    masked by the 4 bytes `mask` into buf (14 bytes at most). Returns its length."""
    buf[0] = 0x80 | op
    if n < 126:
        buf[1] = 0x80 | n
        o = 2
    elif n < 65536:
        buf[1] = 0xFE
        struct.pack_into(">H", buf, 2, n)
        o = 4
    else:
        buf[1] = 0xFF
        struct.pack_into(">Q", buf, 2, n)
        o = 10
    buf[o] = mask[0]
    buf[o + 1] = mask[1]
    buf[o + 2] = mask[2]
    buf[o + 3] = mask[3]
    return o + 4


def mask_into(dst, doff, src, soff, n, mask):
    """dst[doff:doff+n] = src[soff:soff+n] XOR mask, the mask aligned on the
    payload start (soff is the offset of this piece within the payload)."""
    r = soff & 3
    m0 = mask[r]
    m1 = mask[(r + 1) & 3]
    m2 = mask[(r + 2) & 3]
    m3 = mask[(r + 3) & 3]
    i = 0
    n4 = n & ~3
    while i < n4:
        s = soff + i
        d = doff + i
        dst[d] = src[s] ^ m0
        dst[d + 1] = src[s + 1] ^ m1
        dst[d + 2] = src[s + 2] ^ m2
        dst[d + 3] = src[s + 3] ^ m3
        i += 4
    while i < n:
        dst[doff + i] = src[soff + i] ^ mask[(soff + i) & 3]
        i += 1


def frame_into(buf, op, data, mask):
    """A whole masked frame carrying `data` into buf (len(data) + 14 bytes at
    least). Returns the frame length."""
    o = header_into(buf, op, len(data), mask)
    mask_into(buf, o, data, 0, len(data), mask)
    return o + len(data)


def utf8_valid(b, n):
    """Strict UTF-8 check of b[:n] (no overlongs, surrogates or > U+10FFFF).

    MicroPython's decoder only checks the byte structure, so it is not enough."""
    i = 0
    while i < n:
        c = b[i]
        if c < 0x80:
            i += 1
            continue
        lo = 0x80
        hi = 0xBF
        if 0xC2 <= c <= 0xDF:
            k = 1
        elif c == 0xE0:
            k = 2
            lo = 0xA0
        elif c == 0xED:
            k = 2
            hi = 0x9F
        elif 0xE1 <= c <= 0xEF:
            k = 2
        elif c == 0xF0:
            k = 3
            lo = 0x90
        elif c == 0xF4:
            k = 3
            hi = 0x8F
        elif 0xF1 <= c <= 0xF3:
            k = 3
        else:
            return False
        if i + k >= n:
            return False
        c = b[i + 1]
        if c < lo or c > hi:
            return False
        j = i + 2
        i += k + 1
        while j < i:
            if b[j] & 0xC0 != 0x80:
                return False
            j += 1
    return True


def decode_text(b, n):
    """b[:n] as str, or None when it is not valid UTF-8.

    On MicroPython, when the heap has no free block of n bytes (a small heap
    fragmented by a long run), the bytes are handed out in place instead: a
    memoryview of b[:n], valid until the next recv(), which json.loads reads
    as UTF-8 text all the same. Dropping the connection over it would lose
    every frame queued behind this one (host_tests/test_fuzz.py)."""
    try:
        s = str(memoryview(b)[:n], "utf-8")
    except UnicodeError:
        return None
    except MemoryError:
        if IS_MPY and utf8_valid(b, n):
            return memoryview(b)[:n]
        raise
    # CPython's decoder is strict; MicroPython's is not. ASCII needs no second look.
    if IS_MPY and len(s) != n and not utf8_valid(b, n):
        return None
    return s


def close_code_ok(code):
    """May this close code appear in a Close frame on the wire?"""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def close_payload(code, reason=""):
    """Payload of a Close frame: 2-byte code then the UTF-8 reason (<= 123 bytes)."""
    if code is None or code == 1005:
        return b""
    r = reason.encode()[:123] if reason else b""
    return struct.pack(">H", code) + r


def parse_close(p):
    """Close payload -> (code, reason), or (1002 or 1007, why) as a refusal via ValueError."""
    n = len(p)
    if n == 0:
        return 1005, ""
    if n == 1:
        raise ValueError("close payload of 1 byte")
    code = (p[0] << 8) | p[1]
    if not close_code_ok(code):
        raise ValueError("bad close code")
    reason = decode_text(memoryview(p)[2:], n - 2)
    if reason is None:
        raise UnicodeError("close reason not UTF-8")
    return code, reason


# ---------------------------------------------------------------- connection

def _wait(aw, ms):
    if IS_MPY:
        return asyncio.wait_for_ms(aw, ms)
    return asyncio.wait_for(aw, ms / 1000)


async def _kill(w):
    """Close the transport now, without waiting for unsent data."""
    try:
        if IS_MPY:
            w.close()
            await w.wait_closed()   # MicroPython closes the socket here, without yielding
        else:
            w.transport.abort()
    except Exception:
        pass


class WebSocket:
    """An open client connection; made by connect()."""

    def __init__(self, reader, writer, max_size):
        self._r = reader
        self._w = writer
        self.max_size = max_size
        self.open = True
        self.pong_ms = ticks_ms()
        self._closed = None            # (code, reason) once closing began
        self._tx = bytearray(_TBUF)
        self._rx = bytearray(min(_RBUF, max_size) or 1)
        self._h = memoryview(bytearray(8))
        self._c = memoryview(bytearray(125))
        self._pb = bytearray(4)
        self._nping = 0
        self._lock = asyncio.Lock()
        self._pong = asyncio.Event()
        self._ri = hasattr(reader, "readinto")
        self._part = False             # recv() has consumed part of a message

    # -- transport

    async def _fill(self, mv):
        """Read exactly len(mv) bytes into memoryview mv."""
        n = len(mv)
        if not n:
            return
        if self._ri:
            off = 0
            while off < n:
                k = await self._r.readinto(mv[off:])
                if k is None:
                    continue
                if not k:
                    raise EOFError
                off += k
                self._part = True
        else:
            mv[:] = await self._r.readexactly(n)
            self._part = True

    async def _send(self, op, data):
        """One frame; its payload is masked piece by piece into the one
        transmit buffer, each piece written and drained before the next."""
        if not self.open:
            raise Closed(*self._closed)
        n = len(data)
        async with self._lock:
            if self._w is None:
                raise Closed(*self._closed)
            tx = self._tx
            size = len(tx)
            mask = urandom(4)
            o = header_into(tx, op, n, mask)
            i = 0
            try:
                while True:
                    k = min(n - i, size - o)
                    mask_into(tx, o, data, i, k, mask)
                    i += k
                    if IS_MPY:
                        # Stream.write copies what the socket did not take at once.
                        self._w.write(memoryview(tx)[:o + k])
                    else:
                        # CPython's transport may keep a view of what it is given.
                        self._w.write(bytes(memoryview(tx)[:o + k]))
                    await self._w.drain()
                    if i >= n:
                        break
                    o = 0
            except OSError:
                await self._drop(1006, "")
                raise Closed(*self._closed)
            except asyncio.CancelledError:
                # Cancelled in a drain: a frame cut short cannot be finished.
                if i < n:
                    await self._drop(1006, "send cancelled")
                raise

    async def _drop(self, code, reason, abort=True):
        """Mark closed with (code, reason) unless already marked, and close the transport."""
        if self._closed is None:
            self._closed = (code, reason)
        self.open = False
        self._pong.set()                # wakes keepalive()
        w = self._w
        if w is None:
            return
        self._w = None
        if abort or IS_MPY:
            await _kill(w)
            return
        try:
            w.close()
            await _wait(w.wait_closed(), 1000)
        except Exception:
            await _kill(w)

    async def _fail(self, code, reason):
        await self.close(code, reason)
        raise Closed(code, reason)

    # -- public API

    async def send(self, data):
        """Send one text message (str, or bytes already UTF-8)."""
        if isinstance(data, str):
            # MicroPython views a str as its UTF-8 bytes without a copy.
            data = memoryview(data) if IS_MPY else data.encode()
        await self._send(OP_TEXT, data)

    async def ping(self):
        self._nping = (self._nping + 1) & 0xFFFFFFFF
        struct.pack_into(">I", self._pb, 0, self._nping)
        await self._send(OP_PING, self._pb)

    async def close(self, code=1000, reason=""):
        """Send a Close frame if still open, then close the transport. Idempotent."""
        if self._closed is None:
            self._closed = (code, reason)
        if self._w is None:
            self.open = False
            return
        if self.open:
            try:
                await _wait(self._send(OP_CLOSE, close_payload(code, reason)), _CLOSE_MS)
            except Exception:
                pass
        await self._drop(code, reason, False)

    async def recv(self):
        """The next complete text message as str. Raises Closed."""
        if not self.open:
            raise Closed(*self._closed)
        try:
            return await self._recv()
        except Closed:
            raise
        except (EOFError, OSError):
            await self._drop(1006, "")
            raise Closed(*self._closed)
        except asyncio.CancelledError:
            # Cancelled before any byte of a frame was read (an idle timeout):
            # the stream is intact. Cancelled mid-message: it cannot resume.
            if self._part:
                await self._drop(1006, "recv cancelled")
            raise

    async def _recv(self):
        h = self._h
        self._part = False
        n = 0
        frag = False
        while True:
            await self._fill(h[:2])
            b0 = h[0]
            b1 = h[1]
            err = header_error(b0, b1, frag)
            if err:
                await self._fail(err[0], err[1])
            op = b0 & 0x0F
            ln = b1 & 0x7F
            if ln == 126:
                await self._fill(h[:2])
                ln = (h[0] << 8) | h[1]
            elif ln == 127:
                await self._fill(h)
                if h[0] & 0x80:
                    await self._fail(1002, "bad length")
                ln = struct.unpack(">Q", h)[0]
            if op >= 8:
                p = self._c[:ln]
                await self._fill(p)
                if op == OP_PING:
                    await self._send(OP_PONG, p)
                elif op == OP_PONG:
                    self.pong_ms = ticks_ms()
                    self._pong.set()
                else:
                    await self._on_close(p)
                continue
            if n + ln > self.max_size:
                await self._fail(1009, "message too big")
            need = n + ln
            if len(self._rx) < need:
                # A last frame gets exactly what it needs; a message still
                # coming in fragments grows by doubling, within max_size.
                size = need if b0 & 0x80 else min(max(need, 2 * len(self._rx)), self.max_size)
                nb = bytearray(size)
                memoryview(nb)[:n] = memoryview(self._rx)[:n]
                self._rx = nb
            await self._fill(memoryview(self._rx)[n:need])
            n = need
            if b0 & 0x80:
                s = decode_text(self._rx, n)
                if s is None:
                    await self._fail(1007, "invalid UTF-8")
                return s
            frag = True

    async def _on_close(self, p):
        try:
            code, reason = parse_close(p)
        except UnicodeError:
            await self._fail(1007, "close reason not UTF-8")
        except ValueError:
            await self._fail(1002, "bad close frame")
        # Echo the code; the server closes TCP after that, we need not wait.
        await self.close(code, "")
        self._closed = (code, reason)
        raise Closed(code, reason)

    async def _ping_pong(self):
        self._pong.clear()
        await self.ping()
        await self._pong.wait()

    async def keepalive(self, interval_ms, deadline_ms):
        """Ping every interval_ms; drop the connection when no pong came
        within deadline_ms of starting to send the ping (a ping stuck behind
        a blocked send counts as late). Needs a task in recv() to see the
        pongs. Returns once the connection is closed."""
        while self.open:
            await sleep_ms(interval_ms)
            if not self.open:
                break
            try:
                await _wait(self._ping_pong(), deadline_ms)
            except asyncio.TimeoutError:
                if self.open:
                    # Tell the server (briefly: it may be gone), then drop TCP
                    # so that a pending recv() raises Closed(1006, "pong timeout").
                    if self._closed is None:
                        self._closed = (1006, "pong timeout")
                    try:
                        await _wait(self._send(OP_CLOSE, close_payload(1011, "pong timeout")), 1000)
                    except Exception:
                        pass
                    await self._drop(1006, "pong timeout")
                break
            except Closed:
                break


async def _readline(r, buf):
    """One CRLF-terminated line (without it) of at most len(buf) bytes, read
    byte by byte so nothing past the handshake is consumed."""
    n = 0
    lim = len(buf)
    while True:
        c = (await r.readexactly(1))[0]
        if c == 10:
            break
        if n >= lim:
            raise HandshakeError("response line too long")
        buf[n] = c
        n += 1
    if n and buf[n - 1] == 13:
        n -= 1
    return bytes(memoryview(buf)[:n])


async def _handshake(box, secure, host, port, path, key, subprotocol, user, password, ssl, max_size):
    req = build_request(host, port, secure, path, key, subprotocol, user, password)
    if secure:
        r, w = await asyncio.open_connection(host, port, ssl=ssl, server_hostname=host)
    else:
        r, w = await asyncio.open_connection(host, port)
    box.append(w)
    w.write(req)
    del req
    await w.drain()
    buf = bytearray(MAX_LINE)
    status = parse_status(await _readline(r, buf))
    if status != 101:
        raise HandshakeError("HTTP status %d" % status, status)
    hdrs = {}
    for _ in range(MAX_HEADERS + 1):     # + the blank line
        line = await _readline(r, buf)
        if not line:
            break
        add_header(hdrs, line)
    else:
        raise HandshakeError("too many header lines", 101)
    check_response(hdrs, key, subprotocol)
    return WebSocket(r, w, max_size)


async def connect(url, subprotocol="ocpp2.0.1", user=None, password=None, ssl=None,
                  max_size=65536, timeout_ms=10000):
    """Open a WebSocket. Raises HandshakeError (HTTP-level refusal, timeout,
    EOF during the handshake), WSError (TLS failure that MicroPython reports
    as ValueError), OSError (TCP, and TLS on CPython), ValueError (bad URL,
    wss without ssl)."""
    secure, host, port, path = parse_url(url)
    if secure and ssl is None:
        raise ValueError("wss:// needs an ssl context")
    key = b64(urandom(16))
    box = []
    try:
        return await _wait(_handshake(box, secure, host, port, path, key, subprotocol,
                                      user, password, ssl, max_size), timeout_ms)
    except BaseException as e:
        if box:
            await _kill(box[0])
        if isinstance(e, asyncio.TimeoutError):
            raise HandshakeError("handshake timeout")
        if isinstance(e, EOFError):
            raise HandshakeError("connection closed during handshake")
        if box and isinstance(e, ValueError):
            # MicroPython's mbedtls reports certificate failures as ValueError.
            raise WSError("TLS: " + str(e).strip())
        raise
