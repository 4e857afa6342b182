"""Power cuts: kill -9 at random points while the station writes state, on
both runtimes, many times (CYCLES; hundreds under STRESS=1).

The station is kept busy writing: a Delta monitor with value 0 on a noisy
simulated sensor fires every tick (outbox appends, eventid.json blocks), a
threshold crosses every second (trips.json), every event is logged into a
4 KB log ring (rotation every few dozen lines), and the CSMS sets and clears
custom monitors back to back (monitors.jsonl). A cut lands at a random moment,
sometimes during boot. After each cut, before the restart, every file the
station keeps must parse (JSON state and outbox events: written temp-then-
rename, never half); after the restart the station must boot, and:

- every SetVariableMonitoring / ClearVariableMonitoring the CSMS got an
  Accepted answer for is reflected in the GetMonitoringReport (an op cut
  before its answer may go either way; the report then decides);
- every event that sat in the outbox at a cut is delivered by the end,
  a redelivered event has the same eventId and content, and no eventId is
  ever given to two different events.

Customer clear (diag/customers.py): a cut around an accepted clear, on fresh
storage each time: an acknowledged clear stays cleared, the other customer's
data is intact and reported exactly once.

Figures go to CUTS for the report: cuts, cuts that left a temp file (proof the
cut came mid-write), events delivered.
"""
import asyncio
import json
import os
import random
import threading
import time

import pytest

import station_proc as sp
from csms import CSMS
from clients import fault_net as fn

CYCLES = fn.size(10, 150)           # per runtime
CUST_CYCLES = fn.size(9, 60)        # per runtime
EVSE1 = {"name": "EVSE", "evse": {"id": 1}}
TEMP = {"name": "Temperature"}
TYPES = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned")
VALUES = {"UpperThreshold": 140, "LowerThreshold": -30, "Delta": 50, "Periodic": 3600, "PeriodicClockAligned": 3600}
SLOTS = [(t, s) for t in TYPES for s in range(10)]
CUTS = {}


def tally(k, n=1):
    CUTS[k] = CUTS.get(k, 0) + n


def busy_board(tmp, url):
    noisy = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Voltage"},
             "dataType": "decimal", "unit": "V", "min": 0, "max": 500,
             "sensor": {"driver": "sim", "wave": "sine", "base": 230, "amp": 5, "period_s": 1, "noise": 0.5},
             "monitors": [{"id": 1, "type": "Delta", "value": 0, "severity": 4, "origin": "Preconfigured"},
                          {"id": 2, "type": "UpperThreshold", "value": 230, "severity": 2, "origin": "HardWired"}]}
    sp.write_sensor(tmp, 20)
    return sp.board(tmp, url, variables=[sp.temperature(), noisy], sample_ms=50, queue_size=2000,
                    log={"bytes": 4096, "files": 3})


def state_files(st):
    """Every file the station keeps under storage, relative names."""
    root = st.storage()
    out = []
    for d, _, files in os.walk(root):
        for n in files:
            out.append(os.path.relpath(os.path.join(d, n), root))
    return out


def check_files_whole(st):
    """After a cut: every JSON state file and every outbox event parses; returns
    (temp files left, outbox event ids)."""
    temps = 0
    ids = []
    for rel in state_files(st):
        p = st.storage(rel)
        if rel.endswith(".tmp"):
            temps += 1
            continue
        if rel.endswith(".jsonl"):      # a value per line (monitors.jsonl)
            with open(p) as f:
                for ln in f:
                    json.loads(ln)       # raises: a half-written state file
        if rel.endswith(".json"):
            with open(p) as f:
                d = json.load(f)         # raises: a half-written state file
            if rel.startswith("outbox" + os.sep):
                assert d["eventId"] == int(os.path.basename(rel)[:10]), rel
                ids.append(d["eventId"])
    return temps, ids


def report(csms, rid, sid="CS-1"):
    """Custom monitors on EVSE1.Temperature as {(type, severity): id}."""
    r = csms.request(sid, "GetMonitoringReport", {"requestId": rid, "componentVariable": [
        {"component": EVSE1, "variable": TEMP}]}, timeout=20)
    if r["status"] == "EmptyResultSet":
        return {}
    assert r["status"] == "Accepted", r
    pages = csms.wait(lambda: [p for p in csms.calls("NotifyMonitoringReport", sid) if p["requestId"] == rid]
                      if any(p["requestId"] == rid and not p.get("tbc")
                             for p in csms.calls("NotifyMonitoringReport", sid)) else None, 30, "report %d" % rid)
    out = {}
    for p in pages:
        for md in p["monitor"]:
            for vm in md["variableMonitoring"]:
                out[(vm["type"], vm["severity"])] = vm["id"]
    return out


class Ops(threading.Thread):
    """Sets and clears monitors on EVSE1.Temperature back to back until told to stop;
    each op goes out raw and is judged by whether its answer arrived."""

    def __init__(self, csms, belief, rng, sid="CS-1"):
        super().__init__(daemon=True)
        self.csms = csms
        self.belief = belief          # slot -> id or None
        self.rng = rng
        self.sid = sid
        self.stop = False
        self.log = []                 # (uid, slot, "set"/"clear")
        self.n = 0

    def run(self):
        while not self.stop:
            link = self.csms.links.get(self.sid)
            if link is None:
                return
            slot = self.rng.choice(SLOTS)
            self.n += 1
            uid = "op-%d-%d" % (id(self), self.n)
            mid = self.belief.get(slot)
            if mid is None:
                msg = [2, uid, "SetVariableMonitoring", {"setMonitoringData": [
                    {"value": VALUES[slot[0]], "type": slot[0], "severity": slot[1],
                     "component": EVSE1, "variable": TEMP}]}]
                self.log.append((uid, slot, "set"))
            else:
                msg = [2, uid, "ClearVariableMonitoring", {"id": [mid]}]
                self.log.append((uid, slot, "clear"))
            try:
                asyncio.run_coroutine_threadsafe(link._connection.send(json.dumps(msg)), self.csms.loop).result(5)
            except Exception:
                return
            end = time.time() + 3
            while time.time() < end and not self.answered(uid):
                time.sleep(0.005)
            a = self.answered(uid)
            if a is None:
                return
            self.apply(slot, msg, a)

    def answered(self, uid):
        for f in reversed(list(self.csms.frames)):
            m = f[2]
            if f[0] == "in" and isinstance(m, list) and len(m) >= 3 and m[0] in (3, 4) and m[1] == uid:
                return m
        return None

    def apply(self, slot, msg, a):
        assert a[0] == 3, a
        if msg[2] == "SetVariableMonitoring":
            r = a[2]["setMonitoringResult"][0]
            assert r["status"] == "Accepted", r
            self.belief[slot] = r["id"]
        else:
            assert a[2]["clearMonitoringResult"][0]["status"] == "Accepted", a
            self.belief[slot] = None


def settle_belief(ops, belief, actual):
    """Acknowledged ops must show in `actual`; the op cut before its answer may
    go either way. Returns the slots that were checked."""
    last = {}
    for uid, slot, kind in ops.log:
        last[slot] = (uid, kind)
    unsure = set(slot for slot, (uid, kind) in last.items() if ops.answered(uid) is None)
    for slot in SLOTS:
        if slot in unsure:
            continue
        want = belief.get(slot)
        got = actual.get(slot)
        assert (want is None) == (got is None) and (want is None or want == got), (
            "acknowledged %s lost over a power cut: want %s, report has %s" % (slot, want, got))
    for slot in SLOTS:
        belief[slot] = actual.get(slot)
    return len(unsure)


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_power_cuts_during_state_writes(tmp_path, runtime):
    rng = random.Random(4242 + (runtime == "cpython"))
    csms = CSMS().start()

    async def slowish():
        await asyncio.sleep(0.03)

    csms.hooks["NotifyEvent"] = slowish
    path = busy_board(tmp_path, csms.url)
    belief = {s: None for s in SLOTS}
    queued = set()          # eventIds seen in the outbox at a cut
    rid = 0
    temps = 0
    unsure = 0
    st = None
    ops = None
    try:
        for cycle in range(CYCLES):
            st = sp.Station(runtime, path).start()
            n0 = csms.connects
            if rng.random() < 0.2:
                time.sleep(rng.uniform(0.0, 0.6))          # a cut during boot
                st.kill()
            else:
                csms.wait(lambda: csms.connects > n0 and "CS-1" in csms.links, 30, "boot %d" % cycle)
                csms.wait(lambda: len(csms.calls("BootNotification")) >= n0 + 1, 30, "boot")
                rid += 1
                if ops is not None and ops.log:
                    unsure += settle_belief(ops, belief, report(csms, rid))
                ops = Ops(csms, belief, rng)
                ops.start()
                time.sleep(rng.uniform(0.05, 1.5))
                st.kill()
                ops.stop = True
                ops.join(10)
            tally("power cuts")
            t, ids = check_files_whole(st)
            temps += 1 if t else 0
            queued.update(ids)
            csms.wait(lambda: "CS-1" not in csms.links, 10, "the link to drop")
        # The last boot: everything queued goes out; the report matches what was acknowledged.
        st = sp.Station(runtime, path).start()
        csms.wait(lambda: "CS-1" in csms.links, 30, "the last boot")
        rid += 1
        actual = report(csms, rid)
        if ops is not None and ops.log:
            unsure += settle_belief(ops, belief, actual)
        assert any(belief.values()) or not ops.log
        csms.hooks.pop("NotifyEvent")
        csms.request("CS-1", "SetMonitoringBase", {"monitoringBase": "HardWiredOnly"})   # stop the Delta storm
        fn.wait(lambda: not [n for n in os.listdir(st.storage("outbox")) if n.endswith(".json")], 60,
                "the outbox to drain")
        seen = {}
        for e in csms.events():
            seen.setdefault(e["eventId"], [])
            if e not in seen[e["eventId"]]:
                seen[e["eventId"]].append(e)
        reused = [v for v in seen.values() if len(v) > 1]
        assert not reused, "an eventId given to two events: %s" % reused[:2]
        lost = sorted(queued - set(seen))
        assert not lost, "queued at a cut, never delivered: %s" % lost[:20]
        assert "Traceback" not in st.output(), st.output()[-3000:]
        tally("cuts that left a temp file (mid-write)", temps)
        tally("events delivered across cuts", len(seen))
        tally("events queued at a cut, all delivered", len(queued))
        tally("ops cut before their answer", unsure)
        print("\npower cuts %s: %d cuts, %d mid-write (temp file left), %d events delivered, "
              "%d queued at cuts, %d ops unanswered" % (runtime, CYCLES, temps, len(seen), len(queued), unsure))
    finally:
        if st is not None:
            st.stop()
        csms.stop()


# ---------------------------------------------------------------- customer clear

A = {"customerIdentifier": "cust-A"}
B = {"customerIdentifier": "cust-B"}
A_DATA = "Customer A: " + "a" * 1500
B_DATA = "Customer B: Hauptstrasse 1"


def customer_text(csms, rid, ref):
    p = {"requestId": rid, "report": True, "clear": False}
    p.update(ref)
    r = csms.request("CS-1", "CustomerInformation", p, timeout=20)
    assert r["status"] == "Accepted", r
    parts = csms.wait(lambda: [x for x in csms.calls("NotifyCustomerInformation") if x["requestId"] == rid]
                      if any(x["requestId"] == rid and not x.get("tbc")
                             for x in csms.calls("NotifyCustomerInformation")) else None, 30, "customer %d" % rid)
    return "".join(x["data"] for x in sorted(parts, key=lambda x: x["seqNo"]))


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_power_cut_around_customer_clear(tmp_path, runtime):
    rng = random.Random(77 + (runtime == "cpython"))
    csms = CSMS().start()
    acked = 0
    try:
        for cycle in range(CUST_CYCLES):
            tmp = tmp_path / ("c%d" % cycle)
            tmp.mkdir()
            sp.write_sensor(tmp, 20)
            path = sp.board(tmp, csms.url, customers=[dict(A, data=A_DATA), dict(B, data=B_DATA)])
            st = sp.Station(runtime, path).start()
            n0 = csms.connects
            uid = "clear-%d" % cycle
            if cycle % 3 == 2:
                time.sleep(rng.uniform(0.0, 0.3))           # a cut during boot: seeding the store
                st.kill()
                sent = False
            else:
                csms.wait(lambda: csms.connects > n0 and "CS-1" in csms.links, 30, "boot")
                link = csms.links["CS-1"]
                asyncio.run_coroutine_threadsafe(link._connection.send(json.dumps(
                    [2, uid, "CustomerInformation", dict(A, requestId=cycle + 1, report=False, clear=True)])),
                    csms.loop).result(5)
                time.sleep(rng.uniform(0.0, 0.05))
                st.kill()
                sent = True
            tally("power cuts")
            check_files_whole(st)
            ok = any(f[0] == "in" and isinstance(f[2], list) and f[2][:2] == [3, uid] for f in list(csms.frames))
            acked += ok
            csms.wait(lambda: "CS-1" not in csms.links, 10, "the link to drop")
            st = sp.Station(runtime, path).start()
            n0 = csms.connects
            csms.wait(lambda: csms.connects > n0 and "CS-1" in csms.links, 30, "reboot")
            try:
                a = customer_text(csms, 1000 + cycle * 2, A)
                b = customer_text(csms, 1001 + cycle * 2, B)
                if ok:
                    assert a == "No customer data found", "an acknowledged clear came back after a cut"
                elif sent:
                    assert a in ("No customer data found", A_DATA), a[:200]
                else:
                    assert a == A_DATA, "customer A after a cut during seeding: %r" % a[:300]
                assert b == B_DATA, "customer B after a cut: %r" % b[:300]
            finally:
                st.stop()
            csms.wait(lambda: "CS-1" not in csms.links, 10, "the link to drop")
        tally("customer clears acknowledged before a cut", acked)
    finally:
        csms.stop()
