"""Build a real Station in-process (no network) for unit tests on both runtimes."""
import json

import compat
from device import config
from station import Station
import support

EVSE1 = {"name": "EVSE", "evse": {"id": 1}}
TEMP = {"name": "Temperature"}


def var(comp=None, name="Temperature", dtype="decimal", lo=-40, hi=150, mut="ReadOnly", monitors=None, value=None):
    v = {"component": comp or EVSE1, "variable": {"name": name}, "dataType": dtype,
         "mutability": mut, "monitors": monitors or []}
    if lo is not None:
        v["min"] = lo
    if hi is not None:
        v["max"] = hi
    if value is not None:
        v["value"] = value
    return v


def board(variables=None, **extra):
    b = {"board": "host",
         "station": {"id": "CS-1", "vendor": "Acme", "model": "M1"},
         "csms": {"url": "ws://127.0.0.1:1/ocpp"},
         "sample_ms": 100,
         "variables": variables if variables is not None else [var()],
         "customers": []}
    for k in extra:
        b[k] = extra[k]
    return b


def make(variables=None, storage=None, online=True, **extra):
    """A Station on a fresh (or given) storage folder; returns it."""
    b = board(variables, **extra)
    b["storage"] = storage or support.tmpdir("st")
    b["_dir"] = "."
    config.check(b)
    st = Station(b)
    st.session.online = online
    return st


def again(st, online=True):
    """The same board and storage, as after a reboot."""
    st2 = Station(st.board)
    st2.session.online = online
    return st2


def call(st, action, payload):
    """Serve a CSMS request the way the session does (validation included)."""
    from protocol import codec
    payload = json.loads(json.dumps(payload))   # the station's own copy, as parsed off the wire
    codec.validate(action, True, payload)
    r = st.session.handlers[action](payload)
    if isinstance(r, list):      # the response as JSON text in parts: what the CSMS reads
        r = json.loads("".join(r))
    codec.validate(action, False, r)
    return r


def record(st):
    """A CSMS behind the station's own CALLs: each is checked against its schema,
    kept in st.sent as (action, payload) and answered {}. A payload the station
    gives as JSON text (NotifyEvent) is kept as the CSMS reads it, parsed."""
    from protocol import codec
    st.sent = []

    async def call(action, payload, timeout_ms=None, need_boot=True):
        if isinstance(payload, str):
            payload = json.loads(payload)
        codec.validate(action, True, payload)
        st.sent.append((action, payload))
        return {}
    st.session.call = call
    return st


def pending(st):
    """The outbox's event file names, in order."""
    import os
    return sorted(n for n in os.listdir(st.outbox.dir) if n.endswith(".json"))


def queued(st):
    """eventData dicts waiting in the outbox, in order."""
    out = []
    for n in pending(st):
        with open(st.outbox.dir + "/" + n) as f:
            out.append(json.load(f))
    return out


def drain(st):
    """Pretend the CSMS took everything queued; returns it."""
    evs = queued(st)
    for n in pending(st):
        import os
        os.remove(st.outbox.dir + "/" + n)
    st.outbox.count = 0
    return evs


def setmon(st, mtype, value, severity=5, comp=None, variable=None, mid=None):
    item = {"value": value, "type": mtype, "severity": severity,
            "component": comp or EVSE1, "variable": variable or TEMP}
    if mid is not None:
        item["id"] = mid
    return call(st, "SetVariableMonitoring", {"setMonitoringData": [item]})["setMonitoringResult"][0]


def push(st, value, comp=None, variable=None):
    st.push(comp or EVSE1, variable or TEMP, value)
    st.tick()
