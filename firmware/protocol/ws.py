"""RFC 6455 WebSocket client on asyncio streams, for MicroPython and CPython.

    conn = await ws.connect("wss://csms/ocpp/CP1", ssl=compat.ssl_context(ca))
    await conn.send(text); msg = await conn.recv(); await conn.close()

Text messages only (OCPP-J). One task reads (recv), any task may send; sends
are serialised by a lock and masked into one preallocated 1 KB buffer, a
longer frame going out in pieces of it (that buffer never grows; the
handshake reads its response lines into it too). Received payloads land in
a reusable buffer grown only as far as a message needs (at most max_size),
and a frame announcing more than max_size is refused from its header alone.
Pongs are only seen while a task sits in recv().

recv() and send() may be cancelled (wait_for) while idle; cancelled in the
middle of a frame, they drop the connection (Closed(1006, ...)): a frame cut
short cannot be resumed. Neither runtime's streams lose data when a read is
cancelled before it returned, which is what makes the idle case safe.

Few functions and short messages on purpose: each function costs ~150 B of
RAM and each long string constant ~80 B, for as long as the module is loaded.
"""
import asyncio
import binascii
import hashlib
import struct

from compat import IS_MPY, const, sleep_ms, ticks_ms, urandom

# Opcodes appear as numbers: 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong.

_MAX_HEADERS = const(48)     # most header lines in the handshake response
_RBUF = const(512)           # initial receive buffer; grows up to max_size
# A receive buffer keeps the size of the largest message seen (at most
# max_size): allocating and dropping large buffers per message fragments a
# small heap until a later one no longer fits.
_TBUF = const(1024)          # transmit buffer, and the longest handshake response line

# The response headers we check, found in one constant (five bytes objects
# and a tuple would be six) and kept under their offset in it:
_WANTED = const(b"|upgrade|connection|sec-websocket-accept|sec-websocket-protocol|sec-websocket-extensions|")
_UPGRADE = const(0)
_CONNECTION = const(8)
_ACCEPT = const(19)
_PROTOCOL = const(40)
_EXTENSIONS = const(63)


class WSError(OSError):
    """This module's errors, all (code, reason): e.code is the close code
    (Closed) or the HTTP status (HandshakeError: 101 when the 101 itself was
    wrong; also e.status), None when there is none; e.reason says why."""

    def __init__(self, code, reason):
        super().__init__(code, reason)
        self.code = self.status = code
        self.reason = reason


# Made by type(): a class statement costs a function for its body.
HandshakeError = type("HandshakeError", (WSError,), {})
Closed = type("Closed", (WSError,), {})


# ---------------------------------------------------------------- pure helpers

def _utf8(d):
    """A message part as UTF-8 bytes: MicroPython views a str so without a copy."""
    if type(d) is str:
        return memoryview(d) if IS_MPY else d.encode()
    return d


def b64(data):
    """Base64 of bytes as str, without the trailing newline."""
    return binascii.b2a_base64(data)[:-1].decode()


def request(url, key, subprotocol=None, user=None, password=None):
    """ws[s]://host[:port][/path] -> (secure, host, port, the HTTP/1.1 upgrade
    request as bytes). ValueError when the URL or the subprotocol is malformed."""
    secure = url.startswith("wss://")
    if not secure and not url.startswith("ws://"):
        raise ValueError("bad scheme")
    rest = url[5 + secure:].split("#")[0]
    i = 0
    while i < len(rest) and rest[i] not in "/?":
        i += 1
    hostport, path = rest[:i], rest[i:]
    if path[:1] != "/":
        path = "/" + path
    host, p = hostport, ""
    i = hostport.rfind(":")
    if i > hostport.rfind("]"):     # a port, not a colon of an [IPv6] address
        host, p = hostport[:i], hostport[i + 1:]
    if host[:1] == "[" and host[-1:] == "]":
        host = host[1:-1]
    elif ":" in host:               # IPv6 without brackets
        host = ""
    d = 443 if secure else 80
    port = int(p) if p.isdigit() else -1 if p else d
    if "@" in hostport or "[" in host or "]" in host or not host \
            or not 0 < port < 65536 or "\r" in rest or "\n" in rest or " " in rest:
        raise ValueError("bad URL")
    hh = "[" + host + "]" if ":" in host else host
    if port != d:
        hh = "%s:%d" % (hh, port)
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n") % (path, hh, key)
    if subprotocol:
        if "\r" in subprotocol or "\n" in subprotocol:
            raise ValueError("bad proto")
        req += "Sec-WebSocket-Protocol: %s\r\n" % subprotocol
    if password is not None:
        req += "Authorization: Basic %s\r\n" % b64(((user or "") + ":" + password).encode())
    return secure, host, port, (req + "\r\n").encode()


def decode_text(b, n):
    """b[:n] as str, or None when it is not valid UTF-8.

    MicroPython's decoder only checks the byte structure, so non-ASCII text
    is checked here too: no overlongs, surrogates or > U+10FFFF.

    On MicroPython, when the heap has no free block of n bytes (a small heap
    fragmented by a long run), the bytes are handed out in place instead: a
    memoryview of b[:n], valid until the next recv(), which json.loads reads
    as UTF-8 text all the same. Dropping the connection over it would lose
    every frame queued behind this one (host_tests/test_fuzz.py)."""
    s = None
    try:
        s = str(memoryview(b)[:n], "utf-8")
        # CPython's decoder is strict. ASCII needs no second look.
        if not IS_MPY or len(s) == n:
            return s
    except UnicodeError:
        return None
    except MemoryError:
        if not IS_MPY:
            raise
    i = 0
    while i < n:
        c = b[i]
        i += 1
        if c < 0x80:
            continue
        if c < 0xC2 or c > 0xF4:
            return None
        k = 1 if c < 0xE0 else 2 if c < 0xF0 else 3   # continuation bytes
        # The first continuation byte's range excludes overlongs, surrogates, > U+10FFFF.
        lo = 0xA0 if c == 0xE0 else 0x90 if c == 0xF0 else 0x80
        hi = 0x9F if c == 0xED else 0x8F if c == 0xF4 else 0xBF
        if i + k > n or not lo <= b[i] <= hi:
            return None
        k += i
        i += 1
        while i < k:
            if b[i] & 0xC0 != 0x80:
                return None
            i += 1
    return memoryview(b)[:n] if s is None else s


# ---------------------------------------------------------------- connection

class WebSocket:
    """An open client connection; made by connect()."""

    def __init__(self, r, w, max_size):
        self._r = r             # the stream reader and writer
        self._w = w
        self.max_size = max_size
        self.open = True
        self.pong_ms = ticks_ms()
        self._cr = None            # (code, reason) once closing began
        self._tx = bytearray(_TBUF)
        self._rx = bytearray(min(_RBUF, max_size) or 1)
        self._c = memoryview(bytearray(125))   # a control frame's payload, or a frame header
        self._n = 0
        self._l = asyncio.Lock()
        self._p = asyncio.Event()
        self._m = False             # recv() has consumed part of a message
        self.size = 0               # bytes of the last message recv() returned (len() counts characters)

    async def _hs(self, url, subprotocol, user, password, ssl):
        """Connect and upgrade. The response is read byte by byte (nothing
        past it is consumed), each line into the transmit buffer."""
        key = b64(urandom(16))
        secure, host, port, req = request(url, key, subprotocol, user, password)
        if not secure:
            ssl = None
        elif ssl is None:
            raise ValueError("ssl needed")
        r, w = await asyncio.open_connection(host, port, ssl=ssl, server_hostname=ssl and host)
        self._r = r
        self._w = w
        w.write(req)
        del req
        await w.drain()
        buf = self._tx
        h = None                # {offset in _WANTED: value} once the status was 101
        for _ in range(_MAX_HEADERS + 2):     # + the status line and the blank line
            n = 0
            while True:
                c = (await r.readexactly(1))[0]
                if c == 10:
                    break
                if n >= _TBUF:
                    raise HandshakeError(None, "long line")
                buf[n] = c
                n += 1
            if n and buf[n - 1] == 13:
                n -= 1
            line = bytes(buf[:n])
            if h is None:
                p = line.split(None, 2)
                if len(p) < 2 or not p[0].startswith(b"HTTP/1.") or len(p[1]) != 3 or not p[1].isdigit():
                    raise HandshakeError(None, "bad status")
                n = int(p[1])
                if n != 101:
                    raise HandshakeError(n, "HTTP %d" % n)
                h = {}
            elif line:
                i = line.find(b":")
                if i <= 0:
                    raise HandshakeError(101, "bad header")
                k = _WANTED.find(b"|" + line[:i].strip().lower() + b"|")
                if k >= 0:              # a repeated header is joined with ", "
                    v = line[i + 1:].strip()
                    if k < _ACCEPT:     # Upgrade and Connection: case-insensitive tokens
                        v = v.lower()
                    h[k] = h[k] + b", " + v if k in h else v
            else:
                break
        else:
            raise HandshakeError(101, "too many headers")
        g = h.get
        p = g(_PROTOCOL)
        up = False
        for t in g(_CONNECTION, b"").split(b","):
            up = up or t.strip() == b"upgrade"
        why = None
        if g(_UPGRADE) != b"websocket":
            why = "no Upgrade"
        elif not up:
            why = "no Connection: Upgrade"
        elif g(_ACCEPT) != binascii.b2a_base64(hashlib.sha1(
                key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())[:-1]:
            why = "bad Accept"
        elif p != (subprotocol.encode() if subprotocol else None):
            why = "no proto" if p is None else "bad proto"
        elif _EXTENSIONS in h:
            why = "extension"
        if why:
            raise HandshakeError(101, why)

    async def _fill(self, b):
        """Read exactly len(b) bytes into memoryview b."""
        r = self._r
        if hasattr(r, "readinto"):
            while b:
                k = await r.readinto(b)
                if k == 0:
                    raise EOFError
                if k:                   # None: nothing yet
                    b = b[k:]
                    self._m = True
        else:
            b[:] = await r.readexactly(len(b))
            self._m = True

    async def send(self, data, op=1):
        """Send one message: text (str, or bytes already UTF-8), or a list of
        str parts sent as one text message, never joined into one string (a
        large answer's peak is its parts, not a copy of them too); op: another
        opcode.

        The payload is masked piece by piece into the one transmit buffer,
        each full buffer written and drained before the next."""
        parts = data if type(data) is list else (data,)
        n = 0
        for d in parts:
            n += len(_utf8(d))
        async with self._l:
            w = self._w
            if w is None:
                raise Closed(*self._cr)
            tx = self._tx
            m0 = urandom(4)
            tx[0] = 0x80 | op           # FIN
            if n < 126:
                tx[1] = 0x80 | n        # MASK bit and the length
                o = 2
            elif n < 65536:
                tx[1] = 0xFE
                struct.pack_into(">H", tx, 2, n)
                o = 4
            else:
                tx[1] = 0xFF
                struct.pack_into(">Q", tx, 2, n)
                o = 10
            tx[o:o + 4] = m0
            o += 4
            g = 0           # payload bytes masked so far
            end = False     # the last piece is written: a cancel in its drain cuts nothing
            try:
                for d in parts:
                    d = _utf8(d)
                    m = len(d)
                    k = g & 3       # the mask turned to this part's first byte
                    mask = m0[k:] + m0[:k] if k else m0
                    g += m
                    i = 0
                    while True:
                        k = min(m - i, _TBUF - o)
                        # Mask d[i:i+k] into tx[o:], the mask aligned on the part's start.
                        # A plain loop: unrolled by four it was a third faster and 120 bytes larger.
                        o -= i
                        for j in range(i, i + k):
                            tx[o + j] = d[j] ^ mask[j & 3]
                        o += i + k
                        i += k
                        end = g >= n and i >= m
                        if o == _TBUF or end:
                            k = memoryview(tx)[:o]
                            # Stream.write copies what the socket did not take at once;
                            # CPython's transport may keep a view of what it is given.
                            w.write(k if IS_MPY else bytes(k))
                            await w.drain()
                            o = 0
                        if i >= m:
                            break
            except OSError:
                raise await self.close(1006, "", 0, True)
            except asyncio.CancelledError:
                # Cancelled in a drain: a frame cut short cannot be finished.
                if not end:
                    await self.close(1006, "cancelled", 0, True)
                raise

    async def ping(self, wait=False):
        """Send a ping; with wait, also wait for a pong (needs a task in recv())."""
        self._n = (self._n + 1) & 0x3FFFFFFF     # a small int on 32-bit ports too
        if wait:
            self._p.clear()
        await self.send(struct.pack(">I", self._n), 9)
        if wait:
            await self._p.wait()

    async def close(self, code=1000, reason="", ms=2000, abort=False):
        """Send a Close frame (trying for ms) if still open, then close the
        transport: at once (abort), else flushing it for up to 1 s. Code 1006
        (the connection failed) sends nothing. Idempotent; the first code and
        reason set stay. Returns the Closed that recv() and send() raise from
        now on."""
        if self._cr is None:
            self._cr = (code, reason)
        if self.open and code != 1006:
            try:
                # Code 1005 means none: an empty payload. A reason is cut to 123 bytes.
                await asyncio.wait_for(self.send(b"" if code == 1005 else
                                                 struct.pack(">H", code) + reason.encode()[:123], 8), ms / 1000)
            except Exception:
                pass
        self.open = False
        self._p.set()                # wakes keepalive()
        w = self._w
        self._w = None
        if w:
            try:
                w.close()
                if IS_MPY:
                    await w.wait_closed()   # closes the socket here, without yielding
                elif not abort:
                    await asyncio.wait_for(w.wait_closed(), 1)
            except Exception:
                pass
            if not IS_MPY:
                w.transport.abort()     # what is left unsent (a no-op once closed)
        return Closed(*self._cr)

    async def recv(self):
        """The next complete text message as str. Raises Closed."""
        if not self.open:
            raise Closed(*self._cr)
        h = self._c
        self._m = False
        n = 0
        frag = False
        try:
            while True:
                await self._fill(h[:2])
                b0 = h[0]
                b1 = h[1]
                op = b0 & 15
                why = None
                if b0 & 0x70:
                    why = "RSV bits"
                elif b1 & 0x80:
                    why = "masked"
                elif op & 7 > 2:                # 3-7 and 11-15
                    why = "bad opcode"
                elif op > 7:
                    if not b0 & 0x80:
                        why = "ctrl frag"
                    elif b1 & 0x7F > 125:
                        why = "ctrl > 125"
                elif (op == 0) != frag:         # continuation without start, or new message inside one
                    why = "frag order"
                elif op == 2:
                    raise await self.close(1003, "no binary")
                if why:
                    raise await self.close(1002, why)
                ln = b1 & 0x7F
                if ln == 126:
                    await self._fill(h[:2])
                    ln = (h[0] << 8) | h[1]
                elif ln == 127:
                    await self._fill(h[:8])
                    if h[0] & 0x80:
                        raise await self.close(1002, "bad length")
                    ln = struct.unpack_from(">Q", h)[0]
                if op > 7:
                    p = self._c[:ln]
                    await self._fill(p)
                    if op == 9:
                        await self.send(p, 10)
                    elif op == 10:
                        self.pong_ms = ticks_ms()
                        self._p.set()
                    else:
                        # Close: echo its code; the server closes TCP after that, we need not wait.
                        c = 1005
                        s = ""
                        if ln:
                            c = (p[0] << 8) | p[1] if ln > 1 else 0
                            if not (1000 <= c <= 1003 or 1007 <= c <= 1014 or 3000 <= c <= 4999):
                                raise await self.close(1002, "bad close")
                            s = decode_text(p[2:], ln - 2)
                            if s is None:
                                raise await self.close(1007, "bad UTF-8")
                        self._cr = (c, s)
                        raise await self.close(c)
                    continue
                need = n + ln
                if need > self.max_size:
                    raise await self.close(1009, "too big")
                rx = self._rx
                if len(rx) < need:
                    # A last frame gets exactly what it needs; a message still
                    # coming in fragments grows by doubling, within max_size.
                    rx = bytearray(need if b0 & 0x80 else min(max(need, 2 * len(rx)), self.max_size))
                    rx[:n] = memoryview(self._rx)[:n]
                    self._rx = rx
                await self._fill(memoryview(rx)[n:need])
                n = need
                if b0 & 0x80:
                    s = decode_text(rx, n)
                    if s is None:
                        raise await self.close(1007, "bad UTF-8")
                    self.size = n
                    return s
                frag = True
        except Closed:
            raise
        except (EOFError, OSError):
            raise await self.close(1006, "", 0, True)
        except asyncio.CancelledError:
            # Cancelled before any byte of a frame was read (an idle timeout):
            # the stream is intact. Cancelled mid-message: it cannot resume.
            if self._m:
                await self.close(1006, "cancelled", 0, True)
            raise

    async def keepalive(self, interval_ms, deadline_ms):
        """Ping every interval_ms; drop the connection when no pong came
        within deadline_ms of starting to send the ping (a ping stuck behind
        a blocked send counts as late). Needs a task in recv() to see the
        pongs. Returns once the connection is closed."""
        try:
            while True:
                await sleep_ms(interval_ms)
                if not self.open:
                    return
                await asyncio.wait_for(self.ping(True), deadline_ms / 1000)
        except asyncio.TimeoutError:
            # Tell the server (briefly: it may be gone), then drop TCP
            # so that a pending recv() raises Closed(1006, "no pong").
            if self._cr is None:
                self._cr = (1006, "no pong")
            await self.close(1011, "no pong", 1000, True)
        except Closed:
            pass


async def connect(url, subprotocol="ocpp2.0.1", user=None, password=None, ssl=None,
                  max_size=65536, timeout_ms=10000):
    """Open a WebSocket. Raises HandshakeError (HTTP-level refusal, timeout,
    EOF during the handshake), WSError (TLS failure that MicroPython reports
    as ValueError), OSError (TCP, and TLS on CPython), ValueError (bad URL,
    wss without ssl)."""
    c = WebSocket(None, None, max_size)
    try:
        await asyncio.wait_for(c._hs(url, subprotocol, user, password, ssl), timeout_ms / 1000)
        return c
    except asyncio.TimeoutError:
        e = HandshakeError(None, "timeout")
    except EOFError:
        e = HandshakeError(None, "EOF")
    except ValueError as x:
        # MicroPython's mbedtls reports certificate failures as ValueError
        # (c._r: the TCP connection was made).
        e = WSError(None, "TLS: " + str(x).strip()) if c._r else x
    except BaseException as x:
        e = x
    await c.close(1006, "", 0, True)
    raise e
