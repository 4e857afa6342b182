"""Shared by the bench helpers (tools/bench_*.py); runs on MicroPython and CPython.

Clocks, a counter of bytes allocated, board files, scratch folders, and
FakeLink: the CSMS end of a station's session in the same process, so a
bench drives the real Session (decode, validate, handler, encode) without
a socket. tools/bench.py starts the helpers; see docs/bench.md.
"""
import gc
import json
import os
import sys
import time

MPY = sys.implementation.name == "micropython"

if MPY:
    def now_us():
        return time.ticks_us()

    def since_us(t0):
        return time.ticks_diff(time.ticks_us(), t0)

    def mem():
        return gc.mem_alloc()
else:
    def now_us():
        return time.perf_counter_ns() // 1000

    def since_us(t0):
        return time.perf_counter_ns() // 1000 - t0

    def mem():
        return 0


def emit(kind, **fields):
    """One result line for tools/bench.py: BENCH {json}."""
    fields["kind"] = kind
    print("BENCH " + json.dumps(fields))


def rmtree(d):
    try:
        names = os.listdir(d)
    except OSError:
        return
    for n in names:
        p = d + "/" + n
        try:
            os.remove(p)
        except OSError:
            rmtree(p)
    os.rmdir(d)


def makedirs(path):
    cur = ""
    for p in path.split("/"):
        if not p:
            continue
        cur = p if cur == "" else cur + "/" + p
        try:
            os.mkdir(cur)
        except OSError:
            pass


def fresh(path):
    """An empty folder at path (relative to the repository root)."""
    rmtree(path)
    makedirs(path)
    return path


def write_file(path, text):
    with open(path + ".new", "w") as f:
        f.write(text)
    os.rename(path + ".new", path)


EVSE1 = {"name": "EVSE", "evse": {"id": 1}}


def var(i, sensor=None, name="Temperature"):
    """A decimal variable on EVSE i (a file sensor when sensor is a path)."""
    v = {"component": {"name": "EVSE", "evse": {"id": i}}, "variable": {"name": name},
         "dataType": "decimal", "unit": "Celsius", "min": -40, "max": 150, "mutability": "ReadOnly",
         "monitors": []}
    if sensor is not None:
        v["sensor"] = {"driver": "file", "path": sensor}
    return v


def board(storage, variables, sample_ms=100, **extra):
    b = {"board": "host",
         "station": {"id": "CS-1", "vendor": "Acme", "model": "M1", "serial": "SN1", "firmware": "0.1"},
         "csms": {"url": "ws://127.0.0.1:1/ocpp", "password": None, "ca": None},
         "storage": storage, "sample_ms": sample_ms, "variables": variables, "customers": []}
    for k in extra:
        b[k] = extra[k]
    b["_dir"] = "."
    return b


def station(b):
    from device import config
    from station import Station
    config.check(b)
    return Station(b)


class FakeLink:
    """The connection a Session writes to, and the CSMS behind it.

    Every CALL the station sends is answered with an empty CALLRESULT through
    session._dispatch (decode + validate, as from a socket); every frame is
    counted per action and, when `log` is a path, appended to that file for
    the host to check against the official schemas afterwards. The CSMS side
    keeps no frame in RAM: ids and actions are sliced out of the text.
    `sample` is called at each frame (the moment the frame and the payload it
    was built from are both alive) to sample the heap.
    """

    def __init__(self, session, log=None, sample=None):
        self.s = session
        self.open = True
        self.counts = {}
        self.last = {}          # action -> True when its last CALL had tbc
        self.statuses = {}      # action -> "status" of its last CALL, when it has one
        self.result = None      # text of the last CALLRESULT the station sent (a response)
        self.sample = sample
        self.f = open(log, "w") if log else None
        session.conn = self
        session.online = True
        session.booted = True

    async def send(self, text):
        if self.sample is not None:
            self.sample()
        if type(text) is list:      # a message in parts (ws.send): the CSMS reads it whole
            text = "".join(text)
        if self.f is not None:
            self.f.write(text)
            self.f.write("\n")
        if text.startswith("[2,"):
            i = text.index('"', 4)
            mid = text[4:i]
            j = text.index('"', i + 3)
            action = text[i + 3:j]
            self.counts[action] = self.counts.get(action, 0) + 1
            self.last[action] = '"tbc":true' in text
            k = text.find('"status":"')
            if k > 0:
                self.statuses[action] = text[k + 10:text.index('"', k + 10)]
            import asyncio
            asyncio.create_task(self._answer(mid))
        else:
            self.result = text

    async def _answer(self, mid):
        await self.s._dispatch('[3,"%s",{}]' % mid)

    def n(self, action):
        return self.counts.get(action, 0)

    async def request(self, mid, action, payload_json):
        """Serve a CSMS CALL as the session does; returns the response frame text.
        payload_json may be a function that makes the text: then only the frame
        is alive while the station serves it (the CSMS's own copy of the payload
        is not the station's heap)."""
        self.result = None
        # The frame is an argument only, never a local here: the session drops
        # its text once parsed, and nothing else may hold it.
        await self.s._dispatch(frame(mid, action, payload_json))
        return self.result

    def close(self):
        if self.f is not None:
            self.f.close()
            self.f = None


def frame(mid, action, payload_json):
    """A CALL frame's text, joined once as a received frame is (the CSMS's
    copies of the payload are not the station's heap); payload_json: text, or
    a function giving it in parts."""
    if callable(payload_json):
        p = payload_json()
        p.insert(0, '[2,"%s","%s",' % (mid, action))
        p.append("]")
        return "".join(p)
    return '[2,"%s","%s",%s]' % (mid, action, payload_json)


async def until(pred, ms=20000, step=5):
    """Wait (yielding to the loop) until pred() is true; False after ms."""
    import asyncio
    t = 0
    while not pred():
        if t >= ms:
            return False
        if MPY:
            await asyncio.sleep_ms(step)
        else:
            await asyncio.sleep(step / 1000)
        t += step
    return True
