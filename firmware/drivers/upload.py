"""File upload clients on asyncio streams: HTTP(S) PUT, HTTP(S) POST
multipart/form-data, FTP passive STOR. Same code on MicroPython and CPython.

The body is never in RAM: the caller gives its exact byte count and a
function returning a fresh iterator of bytes-like pieces (an empty piece is
a place to yield to the event loop). Pieces are copied into one 1 KB
transmit buffer, written and drained buffer by buffer.

Every failure is an UploadError whose .status is the LogStatusNotification
status it stands for (BadMessage, NotSupportedOperation, PermissionDenied,
UploadFailure) and whose .security says the security log should have it
(TLS and connection failures, refused credentials).
"""
import asyncio
import binascii

from compat import IS_MPY, urandom

SCHEMES = {"http": 80, "https": 443, "ftp": 21}
IO_MS = 30000        # longest wait for any one read, write or connect
TX = 1024            # transmit buffer
MAX_LINE = 512       # longest reply line read (status line, header, FTP reply)
MAX_HEADERS = 64


class UploadError(Exception):
    def __init__(self, msg, status="UploadFailure", security=False):
        super().__init__(msg)
        self.msg = msg
        self.status = status
        self.security = security

    def __str__(self):
        return self.msg


# ---------------------------------------------------------------- locations

def _unquote(s):
    """Percent-decoding (user, password, FTP path)."""
    if "%" not in s:
        return s
    out = bytearray()
    b = s.encode()
    i = 0
    while i < len(b):
        c = b[i]
        if c == 37:
            h = b[i + 1:i + 3]
            if len(h) != 2 or not _hex(h[0]) or not _hex(h[1]):
                raise UploadError("bad %-escape in location", "BadMessage")
            out.append(int(h, 16))
            i += 3
        else:
            out.append(c)
            i += 1
    try:
        return out.decode()
    except UnicodeError:
        raise UploadError("bad %-escape in location", "BadMessage")


def _hex(c):
    return 48 <= c <= 57 or 65 <= c <= 70 or 97 <= c <= 102


class Location:
    """A parsed remoteLocation: scheme, host, port, user, password, path (as in the URL)."""

    def __init__(self, scheme, host, port, user, password, path):
        self.scheme = scheme
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.path = path

    def public(self):
        """The location without credentials, for logs."""
        h = "[" + self.host + "]" if ":" in self.host else self.host
        return "%s://%s:%d%s" % (self.scheme, h, self.port, self.path)

    def hostport(self):
        h = "[" + self.host + "]" if ":" in self.host else self.host
        if self.port != SCHEMES[self.scheme]:
            h = "%s:%d" % (h, self.port)
        return h


def parse(url):
    """remoteLocation -> Location. UploadError BadMessage when malformed,
    NotSupportedOperation for a scheme other than http, https, ftp."""
    for c in url:
        if c <= " " or c == "\x7f":
            raise UploadError("location has spaces or control characters", "BadMessage")
    i = url.find("://")
    scheme = url[:i].lower() if i > 0 else ""
    if not scheme or not scheme.isalpha():
        raise UploadError("location is not a URL", "BadMessage")
    if scheme not in SCHEMES:
        raise UploadError("scheme %s not supported" % scheme, "NotSupportedOperation")
    rest = url[i + 3:]
    j = rest.find("#")
    if j >= 0:
        rest = rest[:j]
    end = len(rest)
    for c in "/?":
        j = rest.find(c)
        if 0 <= j < end:
            end = j
    auth, path = rest[:end], rest[end:]
    if not path.startswith("/"):
        path = "/" + path
    user = password = None
    j = auth.rfind("@")
    if j >= 0:
        cred, auth = auth[:j], auth[j + 1:]
        k = cred.find(":")
        if k >= 0:
            user, password = _unquote(cred[:k]), _unquote(cred[k + 1:])
        else:
            user = _unquote(cred)
    port = SCHEMES[scheme]
    if auth.startswith("["):
        k = auth.find("]")
        if k < 0:
            raise UploadError("bad IPv6 host in location", "BadMessage")
        host, p = auth[1:k], auth[k + 1:]
        if p and p[0] != ":":
            raise UploadError("bad host in location", "BadMessage")
        p = p[1:]
    else:
        k = auth.find(":")
        host, p = (auth[:k], auth[k + 1:]) if k >= 0 else (auth, "")
    if not host:
        raise UploadError("no host in location", "BadMessage")
    if p:
        if not p.isdigit() or not 0 < int(p) < 65536:
            raise UploadError("bad port in location", "BadMessage")
        port = int(p)
    decoded = _unquote(path)              # also refuses a bad %-escape
    for v in (user or "", password or "", decoded if scheme == "ftp" else ""):
        if "\r" in v or "\n" in v:       # %0D%0A would inject FTP commands
            raise UploadError("escaped line break in location", "BadMessage")
    return Location(scheme, host, port, user, password, path)


def target(loc, filename):
    """The path to store at: a location ending in '/' names a folder, and the
    file goes in it under `filename` (as curl -T does)."""
    p = loc.path
    q = p.find("?")
    query = ""
    if q >= 0:
        p, query = p[:q], p[q:]
    if p.endswith("/"):
        p += filename
    return p + query


# ---------------------------------------------------------------- stream helpers

def _io(aw, ms=IO_MS):
    if IS_MPY:
        return asyncio.wait_for_ms(aw, ms)
    return asyncio.wait_for(aw, ms / 1000)


async def _connect(host, port, ssl=None):
    try:
        if ssl is not None:
            r, w = await _io(asyncio.open_connection(host, port, ssl=ssl, server_hostname=host))
        else:
            r, w = await _io(asyncio.open_connection(host, port))
    except asyncio.TimeoutError:
        raise UploadError("connect to %s:%d timed out" % (host, port), security=True)
    except Exception as e:
        what = "TLS failure" if ssl is not None and not _refused(e) else "connection failed"
        raise UploadError("%s to %s:%d: %s" % (what, host, port, _why(e)), security=True)
    if not IS_MPY:
        # drain() only waits above the high-water mark: keep it near one buffer.
        w.transport.set_write_buffer_limits(TX * 4)
    return r, w


def _refused(e):
    n = getattr(e, "errno", None)
    if n is None and isinstance(e, OSError) and e.args and isinstance(e.args[0], int):
        n = e.args[0]
    return n in (111, 113, 101, 104, 110)   # refused, no route, unreachable, reset, timed out


def _why(e):
    s = str(e).strip()
    return "%s %s" % (type(e).__name__, s) if s else type(e).__name__


async def _close(w, graceful=False):
    """Close a stream; graceful lets queued bytes go out first (FTP data: EOF ends the file)."""
    if w is None:
        return
    try:
        if IS_MPY:
            w.close()
            await w.wait_closed()
        elif graceful:
            w.close()
            await _io(w.wait_closed(), 5000)
        else:
            w.transport.abort()
    except Exception:
        pass


class _Lines:
    """Bounded CRLF line reader over a stream (reply lines only, never the body)."""

    def __init__(self, r):
        self.r = r
        self.buf = b""

    async def line(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                ln = self.buf[:i]
                self.buf = self.buf[i + 1:]
                return ln[:-1] if ln.endswith(b"\r") else ln
            if len(self.buf) > MAX_LINE:
                raise UploadError("reply line too long")
            try:
                d = await _io(self.r.read(128))
            except asyncio.TimeoutError:
                raise UploadError("no reply in %d ms" % IO_MS)
            if not d:
                raise UploadError("connection closed before the reply")
            self.buf += d


_BODY = object()


async def _send_body(w, pieces, size, head=None, tail=None):
    """Write head, the body pieces and tail through one TX buffer; return body bytes sent."""
    tx = bytearray(TX)
    mv = memoryview(tx)
    o = 0
    sent = 0
    for part in (head, _BODY, tail):
        if part is None:
            continue
        body = part is _BODY
        for p in (pieces() if body else (part,)):
            n = len(p)
            if not n:
                await asyncio.sleep(0)     # a scan point: let the other tasks run
                continue
            if body:
                sent += n
                if sent > size:
                    raise UploadError("log grew while sending")
            i = 0
            while i < n:
                k = min(n - i, TX - o)
                mv[o:o + k] = memoryview(p)[i:i + k]
                o += k
                i += k
                if o == TX:
                    await _write(w, mv, o)
                    o = 0
    if o:
        await _write(w, mv, o)
    if sent != size:
        raise UploadError("log shrank while sending (%d of %d bytes)" % (sent, size))
    return sent


async def _write(w, mv, n):
    # MicroPython's Stream.write copies what the socket does not take at once;
    # CPython's transport may keep what it is given, so it gets a copy.
    if IS_MPY:
        w.write(mv[:n])
    else:
        w.write(bytes(mv[:n]))
        if not w.transport.is_closing() and w.transport.get_write_buffer_size() <= TX * 4:
            # Below the high-water mark drain() would return at once; a
            # wait_for here would only leave a cancelled timer in the loop.
            await asyncio.sleep(0)
            return
    try:
        await _io(w.drain())
    except asyncio.TimeoutError:
        raise UploadError("send stalled for %d ms" % IO_MS)


def _b64(s):
    return binascii.b2a_base64(s.encode())[:-1].decode()


def _quoted(name):
    """A file name safe inside a quoted header parameter."""
    out = ""
    for c in name:
        out += c if ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "._-") else "_"
    return out


# ---------------------------------------------------------------- HTTP

def http_head(loc, method, filename, size, boundary=None):
    """(request head bytes, multipart preamble or None, epilogue or None)."""
    pre = post = None
    ctype = "text/plain"
    length = size
    if method == "POST":
        pre = ("--%s\r\nContent-Disposition: form-data; name=\"uploadedfile\"; filename=\"%s\"\r\n"
               "Content-Type: text/plain\r\n\r\n" % (boundary, _quoted(filename))).encode()
        post = ("\r\n--%s--\r\n" % boundary).encode()
        ctype = "multipart/form-data; boundary=" + boundary
        length += len(pre) + len(post)
        path = loc.path
    else:
        path = target(loc, filename)
    h = ("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ocpp-station\r\nConnection: close\r\n"
         "Content-Type: %s\r\nContent-Length: %d\r\n") % (method, path, loc.hostport(), ctype, length)
    if loc.user is not None:
        h += "Authorization: Basic %s\r\n" % _b64(loc.user + ":" + (loc.password or ""))
    return (h + "\r\n").encode(), pre, post


async def _http_status(rd):
    """The final status of the response (interim 1xx ones skipped); headers are read and dropped."""
    while True:
        line = await rd.line()
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise UploadError("bad HTTP status line")
        status = int(parts[1])
        for _ in range(MAX_HEADERS):
            if not await rd.line():
                break
        else:
            raise UploadError("too many HTTP header lines")
        if status >= 200:
            return status


async def http(loc, filename, size, pieces, method="PUT", ssl=None):
    """PUT or POST (multipart, field uploadedfile) `size` bytes; return the HTTP status."""
    boundary = None
    if method == "POST":
        boundary = "----ocpp" + binascii.hexlify(urandom(12)).decode()
    head, pre, post = http_head(loc, method, filename, size, boundary)
    r, w = await _connect(loc.host, loc.port, ssl if loc.scheme == "https" else None)
    rd = _Lines(r)
    try:
        try:
            w.write(head)
            del head
            await _send_body(w, pieces, size, pre, post)
        except UploadError:
            raise
        except Exception as e:
            # The server may have answered early (401 before the body) and
            # closed. If not: refused (MicroPython learns it at the first
            # write), reset, or TLS (MicroPython shakes hands at the first write).
            try:
                status = await _http_status(rd)
            except Exception:
                what = "TLS failure" if loc.scheme == "https" and not _refused(e) else "connection failed"
                raise UploadError("%s to %s:%d: %s" % (what, loc.host, loc.port, _why(e)), security=True)
        else:
            status = await _http_status(rd)
    finally:
        await _close(w)
    if status in (401, 403):
        raise UploadError("HTTP %d from %s" % (status, loc.hostport()), "PermissionDenied", True)
    if not 200 <= status < 300:
        raise UploadError("HTTP %d" % status)
    return status


# ---------------------------------------------------------------- FTP

async def _ftp_reply(rd):
    """One (possibly multi-line) FTP reply -> (code, first line)."""
    first = await rd.line()
    if len(first) < 3 or not first[:3].isdigit():
        raise UploadError("bad FTP reply")
    code = int(first[:3])
    if first[3:4] == b"-":
        end = first[:3] + b" "
        for _ in range(MAX_HEADERS):
            if (await rd.line()).startswith(end):
                break
        else:
            raise UploadError("FTP reply too long")
    return code, first


async def _ftp_cmd(w, rd, cmd):
    w.write(cmd.encode() + b"\r\n")
    await _io(w.drain())
    return await _ftp_reply(rd)


def _denied(code, what):
    if code in (530, 532):
        return UploadError("FTP %d for %s" % (code, what), "PermissionDenied", True)
    return UploadError("FTP %d for %s" % (code, what))


def pasv_port(line):
    """227 Entering Passive Mode (h1,h2,h3,h4,p1,p2) -> data port.

    The address in it is ignored: the data connection goes to the control
    connection's host (no FTP bounce, works behind NAT)."""
    i = line.find(b"(")
    j = line.find(b")", i)
    nums = line[i + 1:j].split(b",") if 0 <= i < j else []
    if len(nums) != 6:
        raise UploadError("bad PASV reply")
    try:
        return int(nums[4]) * 256 + int(nums[5])
    except ValueError:
        raise UploadError("bad PASV reply")


async def ftp(loc, filename, size, pieces):
    """Passive-mode binary STOR of `size` bytes; anonymous unless the URL has credentials."""
    path = _unquote(target(loc, filename))
    if path.startswith("/"):
        path = path[1:]          # RFC 1738: relative to the login folder
    r, w = await _connect(loc.host, loc.port)
    rd = _Lines(r)
    dw = None
    try:
        code, _ = await _ftp_reply(rd)
        if code != 220:
            raise _denied(code, "greeting")
        user = loc.user if loc.user is not None else "anonymous"
        code, _ = await _ftp_cmd(w, rd, "USER " + user)
        if code == 331:
            pw = loc.password if loc.password is not None else "anonymous@"
            code, _ = await _ftp_cmd(w, rd, "PASS " + pw)
        if code not in (230, 202):
            raise _denied(code, "login as " + user)
        code, _ = await _ftp_cmd(w, rd, "TYPE I")
        if code != 200:
            raise _denied(code, "TYPE I")
        code, line = await _ftp_cmd(w, rd, "PASV")
        if code != 227:
            raise _denied(code, "PASV")
        dr, dw = await _connect(loc.host, pasv_port(line))
        code, _ = await _ftp_cmd(w, rd, "STOR " + path)
        if code not in (125, 150):
            raise _denied(code, "STOR")
        await _send_body(dw, pieces, size)
        d, dw = dw, None
        await _close(d, True)
        code, _ = await _ftp_reply(rd)
        if code not in (226, 250):
            raise _denied(code, "transfer")
        try:
            await _io(_ftp_cmd(w, rd, "QUIT"), 2000)
        except Exception:
            pass
    except OSError as e:
        raise UploadError("connection failed to %s:%d: %s" % (loc.host, loc.port, _why(e)),
                          security=True)
    finally:
        await _close(dw)
        await _close(w)
    return size


async def send(loc, filename, size, pieces, method="PUT", ssl=None):
    """Upload to a parsed location by its scheme. Raises UploadError."""
    if loc.scheme == "ftp":
        return await ftp(loc, filename, size, pieces)
    return await http(loc, filename, size, pieces, method, ssl)
