"""N02 GetMonitoringReport -> NotifyMonitoringReport pages.

Filters: monitoringCriteria (Threshold/Delta/Periodic) and componentVariable
with the wildcard rules (missing evse or instance: every EVSE / instance;
missing variable: every variable of the component; missing variable
instance: every instance); both given: the intersection.

Pages are built one at a time from the monitor list (grouped per variable)
under an item budget and a byte budget, sent, and dropped: a report of
hundreds of monitors arrives whole, each page with the same requestId,
seqNo 0..n and tbc on all but the last.

A monitor tuple's slots are used by number (diag/monitors.py: M_ID 0,
M_FLAGS 1, M_VALUE 2, M_VAR 3; the type is the flags' low 3 bits): an
attribute of another module costs bytecode and a name at each use.
"""
import json
from array import array

from compat import iso
from diag import monitors as mon
from protocol import session
from protocol.codec import CallError


def _wanted(m, types, cvs):
    """Does the request's filter select monitor m? types: a bit per monitor
    kind; a componentVariable entry selects the monitor's variable by N02.FR.15-17."""
    if not types >> (m[1] & 7) & 1:
        return False
    if cvs is None:
        return True
    v = m[3]
    vc = v.component
    for cv in cvs:
        c = cv["component"]
        if c["name"] != vc["name"] or ("instance" in c and c["instance"] != vc.get("instance")):
            continue
        e = c.get("evse")
        if e is not None:
            ve = vc.get("evse")
            if ve is None or ve["id"] != e["id"] or ("connectorId" in e and ve.get("connectorId") != e["connectorId"]):
                continue
        f = cv.get("variable")
        if f is None or (f["name"] == v.variable["name"]
                         and ("instance" not in f or f["instance"] == v.variable.get("instance"))):
            return True
    return False


def select(station, req):
    """The ids of the monitors the request asks for, ordered by variable: an
    array (4 B each), so the pending report pins no monitor (one replaced or
    deleted meanwhile is reported as it is then, or not at all)."""
    types = 31        # a bit per monitor kind (diag/monitors.py: UPPER 0 .. ALIGNED 4)
    if "monitoringCriteria" in req:
        types = 0
        for c in req["monitoringCriteria"]:   # Threshold: UPPER, LOWER; Delta; Periodic: PERIODIC, ALIGNED
            types |= (3, 4, 24)["TDP".index(c[0])]
    cvs = req.get("componentVariable")
    act = station.monitors.active
    n = 0
    for m in act:
        if _wanted(m, types, cvs):
            n += 1
    out = array("i", bytes(4 * n))
    n = 0
    for m in act:
        if n < len(out) and _wanted(m, types, cvs):
            out[n] = m[0]
            n += 1
    return out


def pages(ms, ids, budget):
    """Yield (monitor list of MonitoringData dicts, last?) pages under the item
    (40) and byte budgets. ids are looked up in the monitor store from where
    the last one was found: both are in variable order, so the walk is linear."""
    page = []
    used = 100
    cv = None                         # the variable of the page's last group
    i = 0
    pos = 0
    while i < len(ids):
        mid = ids[i]
        j = ms.find(mid, pos)         # the store may have changed between pages
        i += 1
        if j < 0:                     # deleted since the request
            continue
        m = ms.at(j)
        e = {"id": mid, "transaction": mon.tx(m), "value": m[2],
             "type": mon.TYPES[m[1] & 7], "severity": mon.sev(m)}
        size = len(json.dumps(e)) + 2
        v = m[3]
        if cv is not v:
            size += len(json.dumps(v.component)) + len(json.dumps(v.variable)) + 60
        if page and (used + size > budget or (cv is not v and len(page) >= 40)):
            yield page, False
            page = []
            used = 100
            cv = None
            i -= 1                    # this monitor again, at the top of a new page
            continue
        if cv is not v:
            cv = v
            page.append({"component": v.component, "variable": v.variable, "variableMonitoring": []})
        page[-1]["variableMonitoring"].append(e)
        used += size
        pos = j + 1
    yield page, True


def attach(station):
    s = station.session
    jobs = [0]

    async def send(rid, ids):
        # A page's monitors: the message cap less 200 bytes of envelope, 600
        # bytes at least, 1200 at most. A page costs about 2.7 times its text
        # while it is built and sent (the dicts json.dumps needs, then the
        # text): small pages keep a report's peak small, at the price of more
        # round trips (500 monitors: ~45 pages).
        seq = 0
        for page, last in pages(station.monitors, ids, max(600, min(
                station.model.ctrl("DeviceDataCtrlr.%sPerMessage[GetReport]" % "Bytes"),
                station.board["max_message"], 1400) - 200)):
            req = {"requestId": rid, "seqNo": seq, "generatedAt": iso()}
            if page:                  # empty only when the last monitors were deleted meanwhile
                req["monitor"] = page
            if not last:
                req["tbc"] = True
            for _ in range(3):
                try:
                    await s.call("NotifyMonitoringReport", req)
                    break
                except Exception as e:
                    station.log.write("NotifyMonitoringReport %d/%d failed: %r" % (rid, seq, e))
                    if not s.online:
                        return
            seq += 1
        station.log.write("monitoring report %d: %d monitors in %d pages" % (rid, len(ids), seq))

    def get_report(req):
        cvs = req.get("componentVariable")
        if cvs is not None and len(cvs) > station.model.ctrl("DeviceDataCtrlr.%sPerMessage[GetReport]" % "Items"):
            raise CallError("OccurrenceConstraintViolation", "componentVariable: too many items")
        found = select(station, req)
        if not found:
            return {"status": "EmptyResultSet"}
        if not s.job(jobs, send(req["requestId"], found)):
            return session.BUSY
        return {"status": "Accepted"}

    s.on("GetMonitoringReport", get_report, not_supported("monitoringCriteria"))


def not_supported(field):
    """An unknown enum value in `field` answers NotSupported (N02.FR.02,
    N03.FR.02; TC_N_04/TC_N_07) rather than a CALLERROR; other violations
    still get their CALLERROR."""
    def fallback(e, req):
        if e.code == "PropertyConstraintViolation" and e.description.startswith(field) \
                and e.description.endswith("not in enum"):
            return {"status": "NotSupported", "statusInfo": {"reasonCode": "UnsupportedParam"}}
        return None
    return fallback
