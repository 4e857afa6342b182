"""Drive firmware/protocol/ws.py against a test server; runs on CPython and MicroPython.

    ws_probe.py <scenario> <port> [args...]

Prints one line per observation (the test asserts on them) and ends with 'END'.
Scenarios:
  echo <port>                          talk to the echo server, then close
  auth <port> <user> <password>        connect with Basic auth, print the greeting
  proto <port> <subprotocol|->         connect asking for a subprotocol ('-': none)
  recv <port> [max_size [timeout_ms]]  connect, print every message until Closed
  send <port> <n1,n2,...>              connect, send texts of those lengths and a ping,
                                       then recv until Closed
  idle <port>                          recv() under wait_for timing out twice, then recv
  keepalive <port> <interval> <deadline>  keepalive task + recv until Closed
  wss <port> <ca_file>                 wss:// echo with compat.ssl_context(ca_file)
"""
import sys

sys.path.insert(0, "firmware")

import asyncio  # noqa: E402
import gc  # noqa: E402

import compat  # noqa: E402
from protocol import ws  # noqa: E402


def out(*a):
    print(*a)


def report(e):
    if isinstance(e, ws.Closed):
        out("CLOSED", e.code, e.reason)
    elif isinstance(e, ws.HandshakeError):
        out("HANDSHAKE", e.status, e.reason)
    elif type(e) is ws.WSError:
        out("WSERROR", e.reason)
    else:
        out("ERROR", type(e).__name__)
        if hasattr(sys, "print_exception"):
            sys.print_exception(e, sys.stderr)
        else:
            import traceback
            traceback.print_exception(e, file=sys.stderr)


async def recv_all(conn):
    while True:
        try:
            m = await conn.recv()
        except ws.Closed as e:
            report(e)
            out("OPEN", conn.open)
            return
        out("MSG", len(m), m[:80])


async def s_echo(port):
    conn = await ws.connect("ws://127.0.0.1:%d/ocpp/CP1" % port)
    out("HELLO", await conn.recv())
    texts = ["hello", "h\u00e9llo \u20ac \U0001F600", "x" * 200, "y" * 20000, ""]
    for t in texts:
        await conn.send(t)
        r = await conn.recv()
        out("ECHO", len(t), "ok" if r == t else "BAD")
    await conn.send(b"bytes ok")
    out("ECHO", "bytes", await conn.recv())
    out("TXBUF", len(conn._tx))
    await conn.close()
    out("OPEN", conn.open)
    await conn.close()
    out("CLOSE2 ok")
    try:
        await conn.recv()
    except ws.Closed as e:
        report(e)
    try:
        await conn.send("late")
    except ws.Closed as e:
        out("SEND after close:", e.code)


async def s_auth(port, user, password):
    conn = await ws.connect("ws://127.0.0.1:%d/ocpp/%s" % (port, user), user=user, password=password)
    out("AUTH ok", await conn.recv())
    await conn.close()


async def s_proto(port, proto):
    sp = None if proto == "-" else proto
    conn = await ws.connect("ws://127.0.0.1:%d/p" % port, subprotocol=sp)
    out("PROTO ok", await conn.recv())
    await conn.close()


async def s_recv(port, max_size=65536, timeout_ms=3000):
    conn = await ws.connect("ws://127.0.0.1:%d/raw" % port, max_size=max_size, timeout_ms=timeout_ms)
    out("CONNECTED")
    await recv_all(conn)


async def s_send(port, sizes):
    conn = await ws.connect("ws://127.0.0.1:%d/raw" % port, timeout_ms=3000)
    sizes = [int(x) for x in sizes.split(",")]
    for n in sizes:
        # One allocation per message: a MicroPython test heap is small.
        if n % 10 == 0:
            data = "0123456789" * (n // 10)        # str: sent from its UTF-8 view
        else:
            data = bytearray(n)
            for i in range(n):
                data[i] = 48 + i % 10
        await conn.send(data)
        data = None
        gc.collect()
    await conn.ping()
    out("SENT", len(sizes))
    await recv_all(conn)


async def s_idle(port):
    conn = await ws.connect("ws://127.0.0.1:%d/raw" % port, timeout_ms=3000)
    for _ in range(2):
        try:
            await asyncio.wait_for(conn.recv(), 0.2)
            out("NO TIMEOUT")
        except asyncio.TimeoutError:
            out("TIMEOUT open", conn.open)
    await recv_all(conn)


async def s_keepalive(port, interval, deadline):
    conn = await ws.connect("ws://127.0.0.1:%d/ka" % port, timeout_ms=3000)
    t0 = compat.ticks_ms()
    p0 = conn.pong_ms
    task = asyncio.create_task(conn.keepalive(interval, deadline))
    await recv_all(conn)
    out("ELAPSED", compat.ticks_diff(compat.ticks_ms(), t0))
    out("PONGS", "yes" if compat.ticks_diff(conn.pong_ms, p0) > 0 else "no")
    await task
    out("KEEPALIVE returned")


async def s_wss(port, ca):
    ctx = compat.ssl_context(ca)
    conn = await ws.connect("wss://127.0.0.1:%d/ocpp/CP1" % port, ssl=ctx, timeout_ms=5000)
    out("HELLO", await conn.recv())
    for t in ("over tls", "z" * 3000):
        await conn.send(t)
        out("ECHO", len(t), "ok" if await conn.recv() == t else "BAD")
    await conn.close()
    out("OPEN", conn.open)


async def main(argv):
    sc = argv[1]
    port = int(argv[2])
    rest = argv[3:]
    try:
        if sc == "echo":
            await s_echo(port)
        elif sc == "auth":
            await s_auth(port, rest[0], rest[1])
        elif sc == "proto":
            await s_proto(port, rest[0])
        elif sc == "recv":
            await s_recv(port, *[int(x) for x in rest])
        elif sc == "send":
            await s_send(port, rest[0])
        elif sc == "idle":
            await s_idle(port)
        elif sc == "keepalive":
            await s_keepalive(port, int(rest[0]), int(rest[1]))
        elif sc == "wss":
            await s_wss(port, rest[0])
        else:
            out("unknown scenario", sc)
    except Exception as e:  # the test asserts on what was raised
        report(e)
    out("END")


asyncio.run(main(sys.argv))
