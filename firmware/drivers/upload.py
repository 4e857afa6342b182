"""Log upload clients: HTTP(S) PUT, HTTP(S) POST multipart/form-data, FTP
passive STOR, on asyncio streams (the WebSocket client's, so a station has
that code loaded already). Same code on MicroPython and CPython.

Every function costs heap while the module is loaded (about 150 bytes
before its code on the 64-bit port), so there are few: HTTP and FTP share
the connection, the writes, and the reply reading (_cmd reads an FTP reply
and an HTTP status line alike). No connect, read or write waits more
than 30 s.

The body is an iterator of bytes-like pieces (512 bytes each from
diag/logupload.py; an empty one is a point to let other tasks run) whose
total size the caller counted before: it is never in RAM. Each piece is
written and drained before the next is asked for.

A refusal raises Fail(status, message), status being the
LogStatusNotification one (false: UploadFailure); socket and TLS errors
pass through as they come (the caller logs them for security).
"""
import asyncio
import binascii

from compat import IS_MPY, sleep_ms, urandom

PORTS = {"http": 80, "https": 443, "ftp": 21}
Fail = RuntimeError     # not a class of its own: a class costs heap; nothing else here raises it


def parse(url, name):
    """remoteLocation -> (scheme, host, port, user or None, password, path,
    target, host[:port] as in a Host header and in logs). `target` is what a
    PUT or STOR writes: a path ending in '/' names a folder and `name` goes
    in it, as curl -T does. Fail BadMessage when malformed,
    NotSupportedOperation for a scheme other than http, https, ftp."""
    i = url.find("://")
    s = url[:max(i, 0)].lower()
    if s not in PORTS:
        # Only a scheme goes into the reason (logged): text before a "://" that
        # is no scheme may hold credentials ("https//u:pw@h/?next=http://x").
        raise Fail("NotSupportedOperation", s) if s.isalpha() else Fail("BadMessage", "bad URL")
    try:
        for c in url:
            if c <= " " or c == "\x7f":
                raise ValueError
        a = url[i + 3:].split("#")[0]
        j = min((a + "/").find("/"), (a + "?").find("?"))     # the authority ends there
        a, p = a[:j], a[j:]
        if p[:1] != "/":
            p = "/" + p
        c, at, a = a.rpartition("@")
        u, _, pw = c.partition(":")
        k = a.rfind(":")
        if k <= a.rfind("]"):       # no port, or ':' inside [IPv6]
            k = len(a)
        h, q = a[:k], a[k + 1:]
        if h[:1] == "[":
            if h[-1] != "]":
                raise ValueError
            h = h[1:-1]
        n = int(q or PORTS[s])
        if not h or not 0 < n < 65536:
            raise ValueError
        t = p.partition("?")
        t = t[0] + (name if t[0][-1] == "/" else "") + t[1] + t[2]
        # Percent-decoding. A line break in the result is refused: %0D%0A
        # would inject FTP commands or HTTP headers.
        v = []
        for x in (u, pw, t):
            x = x.split("%")
            b = x[0].encode()
            for y in x[1:]:
                b += binascii.unhexlify(y[0] + y[1]) + y[2:].encode()
            x = b.decode()
            if "\r" in x or "\n" in x:
                raise ValueError
            v.append(x)
        u, pw, d = v
        if not at:
            u = None
        if s == "ftp":
            t = d[1:]               # RFC 1738: relative to the login folder
    except Exception:
        raise Fail("BadMessage", "bad URL")
    return (s, h, n, u, pw, p, t,
            ("[%s]" % h if ":" in h else h) + ("" if n == PORTS[s] else ":%d" % n))


async def _cmd(r, w, cmd, ok):
    """Send an FTP command (if any), then read up to the reply: the first
    line with a status code (HTTP/1.x NNN or FTP NNN, not an FTP NNN- one)
    whose first digit is in `ok` or that is final (>= 200). Other lines (an
    FTP reply's middle, an HTTP 1xx and its headers) go by. Lines are read
    a byte at a time, so none is ever longer than 512 bytes in RAM; a longer
    one or the end of the stream is an OSError. Fail unless the code's first
    digit is in `ok`, with PermissionDenied for refused credentials (else a
    false status: UploadFailure). The reply line, as str.

    Constants here are short strings and ints on purpose: a str longer than
    10 characters, any bytes or tuple constant is an object of its own on
    the heap (~80 bytes each while the module is loaded)."""
    if cmd:
        w.write((cmd + "\r\n").encode())
        await asyncio.wait_for(w.drain(), 30)
    while True:
        ln = bytes()
        while not ln or ln[-1] != 10:
            # MicroPython: the socket itself, polled for 30 s, at once and
            # then less and less often (1 ms first, 20 ms after a second); a
            # wait_for would hold ~1.1 KB of tasks while the server thinks.
            c = None
            k = 0
            while c is None:
                c = r.s.read(1) if IS_MPY else await asyncio.wait_for(r.read(1), 30)
                if c is None:
                    if k > 30000:
                        raise OSError(110)
                    c = 1 + k // 50
                    await sleep_ms(c)
                    k += c
                    c = None
            if not c or len(ln) > 512:
                raise OSError(104)      # as if reset: closed early, or not a reply
            ln += c
        ln = ln.decode()
        c = ln[9:] if ln[:5] == "HTTP/" else ln
        if c[:3].isdigit() and c[3] != "-" and (c[0] in ok or c[0] > "1"):
            break
    if c[0] not in ok:      # cmd[:4]: a PASS never shows its argument
        c = int(c[:3])
        raise Fail(c in (401, 403, 530, 532) and "PermissionDenied",
                   ("HTTP %d" if ln[0] == "H" else "FTP %d to " + cmd[:4]) % c)
    return ln


async def send(loc, name, body, size, post, ctx):
    """Upload `size` bytes of `body` to a parsed location: FTP passive binary
    STOR (anonymous unless the URL has credentials), else HTTP(S) PUT, or
    POST multipart (field uploadedfile) when `post`, with Basic auth from
    the URL. `ctx`: the TLS context for https."""
    s, h, n, u, pw, p, t, hp = loc
    r, w = await asyncio.wait_for(asyncio.open_connection(h, n, ssl=ctx, server_hostname=ctx and h), 30)
    d = w                   # where the body goes: the FTP data connection, once open
    try:
        hd = tail = bytes()
        if s == "ftp":
            await _cmd(r, w, "", "2")
            if u is None:
                u = "anonymous"
                pw = u + "@"
            if (await _cmd(r, w, "USER " + u, "23"))[0] == "3":     # 331: a password is wanted
                await _cmd(r, w, "PASS " + pw, "2")
            await _cmd(r, w, "TYPE I", "2")
            # 227 ... (h1,h2,h3,h4,p1,p2): the data goes to the control
            # connection's host, not the one named (no FTP bounce, NAT works).
            a, b = (await _cmd(r, w, "PASV", "2")).split("(")[1].split(")")[0].split(",")[4:]
            d = (await asyncio.wait_for(asyncio.open_connection(h, int(a) * 256 + int(b)), 30))[1]
            await _cmd(r, w, "STOR " + t, "1")
        else:
            ct = "text/plain"
            if post:
                b = "ocpp" + binascii.hexlify(urandom(8)).decode()
                hd = ('--%s\r\nContent-Disposition: form-data; name="uploadedfile"; filename="%s"\r\n'
                      'Content-Type: text/plain\r\n\r\n' % (b, name)).encode()
                tail = ("\r\n--" + b + "--\r\n").encode()
                ct = "multipart/form-data; boundary=" + b
                t = p
            hd = ("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                  "%s\r\n" % ("POST" if post else "PUT", t, hp, ct, size + len(hd) + len(tail), "" if u is None else
                               "Authorization: Basic " + binascii.b2a_base64((u + ":" + pw).encode()).decode()[:-1] +
                               "\r\n")).encode() + hd
        if not IS_MPY:
            d.transport.set_write_buffer_limits(4096)   # drain() waits above it: a short queue
        # The request head (HTTP), the body, the multipart end (POST); for
        # FTP the body alone, on the data connection.
        e = None
        x = (hd,)
        hd = None       # the head is held by x alone: not while the body goes
        try:
            for k in (body, (tail,), None):
                for p in x:
                    # MicroPython's Stream.write copies what the socket does
                    # not take at once; CPython's transport may keep the
                    # object, so it gets a copy.
                    d.write(p if IS_MPY else bytes(p))
                    # With nothing queued (MicroPython: Stream.out_buf;
                    # CPython: below the high-water mark) drain() would not
                    # wait, and a wait_for around it would cost a task
                    # (MicroPython) or leave a cancelled timer in the loop
                    # (CPython): then only let the other tasks run.
                    await (asyncio.wait_for(d.drain(), 30) if (d.out_buf if IS_MPY else
                           d.transport.get_write_buffer_size() >= 4096) else asyncio.sleep(0))
                x = k
        except OSError as x:
            e = x       # the server may have answered early (HTTP 401) and closed
        if d is not w:      # FTP: EOF ends the file
            d.close()
            await (d.wait_closed() if IS_MPY else asyncio.wait_for(d.wait_closed(), 30))
        try:
            await _cmd(r, w, "", "2")       # the HTTP status, FTP's 226
        except OSError:
            if not e:
                raise
        if e:       # never a success when the body did not go out whole
            raise e
        if d is not w:
            w.write("QUIT\r\n".encode())
    finally:
        for x in (d, w):
            x.close()
            try:
                # MicroPython's closes the socket at once: a wait_for around
                # it would only cost ~1.1 KB of tasks. CPython's waits for
                # the queue to go out.
                await (x.wait_closed() if IS_MPY else asyncio.wait_for(x.wait_closed(), 5))
            except Exception:
                pass

