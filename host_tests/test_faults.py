"""Fault injection end to end, on both runtimes: the station talks to the real
CSMS (tools/csms.py) through a TCP proxy on 127.0.0.1 (clients/fault_net.Proxy)
that the test kills (the CSMS "dies": every connection aborted) or pauses
(the network stalls: nothing is read either way, TCP back-pressure builds).

- CSMS dies mid-NotifyEvent (it read the request, never answered): the
  events are redelivered after the reconnect with the same eventIds and the
  same content; nothing is lost.
- CSMS dies mid-NotifyMonitoringReport: the report stops (OCPP has no resume),
  the monitors are intact, the next GetMonitoringReport is complete.
- CSMS dies mid-upload (GetLog): the upload finishes, and the final
  LogStatusNotification (Uploaded) waits for the connection and arrives after
  the reconnect. The upload server dying mid-body: the retry uploads it whole.
- The network stalls longer than the call timeout, and CSMS answers come
  after it: NotifyEvent is retried (same eventIds), the late answers are
  dropped, and after the stall everything arrives.
- The CSMS answers CALLERROR to NotifyEvent: retried with backoff, delivered
  when it accepts; refused RETRIES+1 times, the batch is dropped and logged and
  the queue moves on (events.py's policy, docs/robustness.md).

Every fault is counted in FAULTS for the report.
"""
import asyncio
import os
import threading
import time

import pytest

import station_proc as sp
from csms import CSMS
from clients import fault_net as fn

EVSE1 = {"name": "EVSE", "evse": {"id": 1}}
TEMP = {"name": "Temperature"}
FAULTS = {}


def count(kind, n=1):
    FAULTS[kind] = FAULTS.get(kind, 0) + n


@pytest.fixture(scope="module")
def loop():
    lp = fn.Loop()
    yield lp
    lp.stop()


class Rig:
    """CSMS + proxy + station, and the outbox/event views a test needs."""

    def __init__(self, tmp, runtime, loop, sid="CS-1", **board):
        self.tmp = str(tmp)
        self.csms = CSMS().start()
        self.proxy = fn.Proxy(loop, self.csms.port).start()
        self.sid = sid
        sp.write_sensor(tmp, 20)
        settings = {"OCPPCommCtrlr.MessageTimeout[Default]": 2}
        settings.update(board.pop("settings", {}))
        self.st = sp.Station(runtime, sp.board(tmp, self.proxy.url(), sid=sid, sample_ms=100,
                                               settings=settings, **board)).start()
        self.csms.wait_calls("BootNotification", cid=sid, timeout=30)

    def stop(self):
        try:
            self.st.stop()
        finally:
            self.proxy.stop()
            self.csms.stop()

    def setmon(self, *items):
        r = self.csms.request(self.sid, "SetVariableMonitoring", {"setMonitoringData": list(items)})
        assert all(x["status"] == "Accepted" for x in r["setMonitoringResult"]), r
        return [x["id"] for x in r["setMonitoringResult"]]

    def outbox(self):
        try:
            return sorted(n for n in os.listdir(self.st.storage("outbox")) if n.endswith(".json"))
        except OSError:
            return []

    def notify_events(self):
        return self.csms.calls("NotifyEvent", self.sid)

    def reconnected(self, n):
        """Wait for the station's n-th connection to boot."""
        self.csms.wait(lambda: self.csms.connects >= n and self.sid in self.csms.links, 40, "reconnect %d" % n)
        self.csms.wait_calls("BootNotification", n, timeout=40, cid=self.sid)

    def log(self):
        return self.st.read_log()


def item(mtype, value, severity=5, variable=TEMP):
    return {"value": value, "type": mtype, "severity": severity, "component": EVSE1, "variable": variable}


def by_id(events):
    """eventId -> the distinct eventData seen with it (a redelivery must be identical)."""
    out = {}
    for e in events:
        out.setdefault(e["eventId"], [])
        if e not in out[e["eventId"]]:
            out[e["eventId"]].append(e)
    return out


def check_delivery(rig, made):
    """Every event made reached the CSMS, redeliveries identical, the outbox empty."""
    fn.wait(lambda: not rig.outbox(), 60, "the outbox to empty")
    seen = by_id(rig.csms.events(rig.sid))
    assert all(len(v) == 1 for v in seen.values()), [v for v in seen.values() if len(v) > 1]
    assert len(seen) >= made, (len(seen), made)
    ids = sorted(seen)
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids     # no gap: nothing lost
    sent = sum(len(p["eventData"]) for p in rig.notify_events())
    return len(seen), sent - len(seen)      # delivered, redelivered copies


class Blocker:
    """A CSMS hook that holds the first `n` requests of an action unanswered
    (until released or `hold` s passed) and says when the first one arrived."""

    def __init__(self, n=1, hold=8.0):
        self.n = n
        self.hold = hold
        self.seen = 0
        self.arrived = threading.Event()
        self.release = None

    async def __call__(self):
        self.seen += 1
        if self.seen <= self.n:
            self.arrived.set()
            await asyncio.sleep(self.hold)


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_csms_dies_mid_notify_event(tmp_path, runtime, loop):
    rig = Rig(tmp_path, runtime, loop)
    try:
        rig.setmon(item("Delta", 1, 3))
        b = Blocker(1, hold=6)
        rig.csms.hooks["NotifyEvent"] = b
        made = 0
        for v in (25, 30):
            sp.write_sensor(tmp_path, v)
            made += 1
            time.sleep(0.3)
        assert b.arrived.wait(20)
        held = rig.notify_events()[0]["eventData"]
        rig.proxy.kill()                       # the CSMS dies holding the request
        count("csms died mid-NotifyEvent")
        sp.write_sensor(tmp_path, 35)          # an event while reconnecting
        made += 1
        rig.reconnected(2)
        delivered, copies = check_delivery(rig, made)
        seen = by_id(rig.csms.events(rig.sid))
        for e in held:                        # redelivered: the same eventId, the same content
            assert seen[e["eventId"]] == [e]
        assert sum(1 for p in rig.notify_events() for e in p["eventData"] if e == held[0]) >= 2
        count("events delivered", delivered)
        count("events redelivered (same eventId)", copies)
        assert rig.st.alive()
    finally:
        rig.stop()


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_csms_dies_mid_monitoring_report(tmp_path, runtime, loop):
    rig = Rig(tmp_path, runtime, loop)
    try:
        types = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned")
        values = {"UpperThreshold": 140, "LowerThreshold": -30, "Delta": 50, "Periodic": 3600,
                  "PeriodicClockAligned": 3600}
        ids = []
        for sev in (0, 5):
            ids += rig.setmon(*[item(t, values[t], s) for t in types for s in range(sev, sev + 5)])
        assert len(ids) == 50
        b = Blocker(1, hold=6)
        rig.csms.hooks["NotifyMonitoringReport"] = b
        assert rig.csms.request(rig.sid, "GetMonitoringReport", {"requestId": 1})["status"] == "Accepted"
        assert b.arrived.wait(20)
        rig.proxy.kill()
        count("csms died mid-NotifyMonitoringReport")
        rig.reconnected(2)
        rig.csms.hooks.pop("NotifyMonitoringReport")
        assert rig.csms.request(rig.sid, "GetMonitoringReport", {"requestId": 2})["status"] == "Accepted"
        pages = rig.csms.wait(lambda: [p for p in rig.csms.calls("NotifyMonitoringReport", rig.sid)
                                       if p["requestId"] == 2 and not p.get("tbc")]
                              and [p for p in rig.csms.calls("NotifyMonitoringReport", rig.sid)
                                   if p["requestId"] == 2], 30, "report 2")
        got = sorted(vm["id"] for p in pages for md in p["monitor"] for vm in md["variableMonitoring"])
        assert got == sorted(ids)
        assert [p["seqNo"] for p in pages] == list(range(len(pages))) and len(pages) >= 2
        assert "NotifyMonitoringReport 1/0 failed" in rig.log()
        assert rig.st.alive()
    finally:
        rig.stop()


def getlog(rig, rid, url, retries=0):
    return rig.csms.request(rig.sid, "GetLog", {
        "logType": "DiagnosticsLog", "requestId": rid, "retries": retries, "retryInterval": 1,
        "log": {"remoteLocation": url}})


def statuses(rig, rid):
    return [p["status"] for p in rig.csms.calls("LogStatusNotification", rig.sid) if p.get("requestId") == rid]


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_csms_dies_mid_upload_and_upload_server_dies_mid_body(tmp_path, runtime, loop):
    rig = Rig(tmp_path, runtime, loop)
    sink = fn.UploadSink(loop).start()
    try:
        # 1. The CSMS dies while the upload runs: Uploaded is told after the reconnect.
        sink.plan = ["hold"]
        r = getlog(rig, 1, sink.url())
        assert r["status"] == "Accepted", r
        fn.wait(lambda: sink.requests, 30, "the upload to start")
        rig.csms.wait(lambda: statuses(rig, 1) == ["Uploading"], 20, "Uploading")
        rig.proxy.refuse(True)                 # the CSMS is down for a while
        rig.proxy.kill()
        count("csms died mid-upload")
        sink.let_go()                         # the upload completes while offline
        fn.wait(lambda: sink.bodies, 20, "the body")
        time.sleep(1.5)
        assert statuses(rig, 1) == ["Uploading"]
        rig.proxy.refuse(False)
        rig.reconnected(2)
        rig.csms.wait(lambda: statuses(rig, 1) == ["Uploading", "Uploaded"], 30, "Uploaded after reconnect")
        assert len(sink.bodies[0]) == sink.requests[0][3] > 0
        # 2. The upload server dies mid-body on the first attempt: the retry uploads it whole.
        sink.plan = ["cut", "ok"]
        r = getlog(rig, 2, sink.url(), retries=1)
        assert r["status"] == "Accepted", r
        rig.csms.wait(lambda: statuses(rig, 2)[-1:] == ["Uploaded"], 40, "Uploaded after the retry")
        assert statuses(rig, 2) == ["Uploading", "Uploaded"]
        assert [q[2] for q in sink.requests[1:]] == ["cut", "ok"]
        count("upload server died mid-body")
        body = sink.bodies[-1]
        assert body.startswith(b"20") and body.endswith(b"\n") and b"station CS-1 started" in body
        assert rig.st.alive()
    finally:
        sink.stop()
        rig.stop()


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_network_stall_and_late_answers(tmp_path, runtime, loop):
    rig = Rig(tmp_path, runtime, loop, settings={"OCPPCommCtrlr.MessageTimeout[Default]": 1})
    try:
        rig.setmon(item("Delta", 1, 3))
        # Late answers: the first two NotifyEvents are answered after 2.5 s, past the 1 s timeout.
        b = Blocker(2, hold=2.5)
        rig.csms.hooks["NotifyEvent"] = b
        sp.write_sensor(tmp_path, 25)
        made = 1
        rig.csms.wait(lambda: len(rig.notify_events()) >= 3, 30, "retries after timeouts")
        count("answers after the call timeout", 2)
        # The network stalls: the proxy reads nothing either way for 4 s.
        rig.proxy.pause()
        count("network stall (4 s)")
        for v in (30, 35, 40):
            sp.write_sensor(tmp_path, v)
            made += 1
            time.sleep(0.4)
        time.sleep(2.8)
        rig.proxy.resume()
        delivered, copies = check_delivery(rig, made)
        assert copies >= 2                          # retried after the timeouts, same eventId
        assert "no answer in 1000 ms" in rig.log()
        assert "answer for unknown message id" in rig.log()       # the late answers, dropped
        r = rig.csms.request(rig.sid, "SetMonitoringLevel", {"severity": 9})
        assert r == {"status": "Accepted"}
        count("events delivered", delivered)
        count("events redelivered (same eventId)", copies)
        assert rig.st.alive()
    finally:
        rig.stop()


class Refuser:
    """A hook answering CALLERROR (InternalError) while `on`, counting calls."""

    def __init__(self, times):
        self.times = times      # refuse this many first calls (None: while on)
        self.on = True
        self.calls = 0

    async def __call__(self):
        self.calls += 1
        if self.on and (self.times is None or self.calls <= self.times):
            raise RuntimeError("refused by the test")


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_callerror_to_notify_event_retried_then_delivered(tmp_path, runtime, loop):
    rig = Rig(tmp_path, runtime, loop)
    try:
        rig.setmon(item("Delta", 1, 3))
        h = Refuser(2)
        rig.csms.hooks["NotifyEvent"] = h
        sp.write_sensor(tmp_path, 25)
        rig.csms.wait(lambda: len(rig.notify_events()) >= 3, 30, "a third attempt")
        delivered, copies = check_delivery(rig, 1)
        ps = rig.notify_events()
        assert [p["eventData"] for p in ps[:3]] == [ps[0]["eventData"]] * 3     # same events, same ids
        count("CALLERROR to NotifyEvent", 2)
        count("events delivered", delivered)
        count("events redelivered (same eventId)", copies)
    finally:
        rig.stop()


def test_callerror_forever_drops_the_batch_and_moves_on(tmp_path, loop):
    """Both runtimes at once (the policy waits 2 + 4 + 8 s): refused RETRIES+1
    times, the batch is dropped and logged; the next event is delivered."""
    from diag import events
    tmp_m, tmp_c = tmp_path / "m", tmp_path / "c"
    tmp_m.mkdir()
    tmp_c.mkdir()
    csms = CSMS().start()
    h = Refuser(None)
    csms.hooks["NotifyEvent"] = h
    rigs = []
    try:
        for tmp, rt, sid in ((tmp_m, "micropython", "CS-M"), (tmp_c, "cpython", "CS-C")):
            sp.write_sensor(tmp, 20)
            st = sp.Station(rt, sp.board(tmp, csms.url, sid=sid, sample_ms=100)).start()
            rigs.append((tmp, st, sid))
        for tmp, st, sid in rigs:
            csms.wait_calls("BootNotification", cid=sid, timeout=30)
            r = csms.request(sid, "SetVariableMonitoring", {"setMonitoringData": [item("Delta", 1, 3)]})
            assert r["setMonitoringResult"][0]["status"] == "Accepted"
            sp.write_sensor(tmp, 25)
        for tmp, st, sid in rigs:
            fn.wait(lambda: "NotifyEvent refused %d times" % (events.RETRIES + 1) in st.read_log(), 40,
                    "the drop on " + sid)
        h.on = False
        for tmp, st, sid in rigs:
            ps = csms.calls("NotifyEvent", sid)
            assert len(ps) == events.RETRIES + 1 and all(p["eventData"] == ps[0]["eventData"] for p in ps)
            dropped = ps[0]["eventData"][0]["eventId"]
            assert "events %d dropped" % dropped in st.read_log()
            sp.write_sensor(tmp, 30)
            got = csms.wait(lambda: [e for e in csms.events(sid) if e["eventId"] > dropped], 20, "the next event")
            assert got[0]["actualValue"] == "30"
            fn.wait(lambda: not [n for n in os.listdir(st.storage("outbox")) if n.endswith(".json")], 20, "empty")
            count("CALLERROR to NotifyEvent", events.RETRIES + 1)
            count("events dropped by the CALLERROR policy", 1)
            assert st.alive()
    finally:
        for tmp, st, sid in rigs:
            st.stop()
        csms.stop()
