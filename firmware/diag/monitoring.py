"""CSMS requests that change monitors: N03 SetMonitoringBase, N04
SetVariableMonitoring, N05 SetMonitoringLevel, N06 ClearVariableMonitoring."""
import json

from diag import monitors as mon, reports
from protocol.codec import CallError


def _limit(station, req, key, which):
    m = station.model
    items = m.ctrl("MonitoringCtrlr.ItemsPerMessage[%s]" % which)
    if len(req[key]) > items:
        raise CallError("OccurrenceConstraintViolation", "%s: more than %d items" % (key, items))
    size = station.session.frame_len or len(json.dumps(req))
    limit = m.ctrl("MonitoringCtrlr.BytesPerMessage[%s]" % which)
    if size > limit:
        raise CallError("FormatViolation", "request of %d bytes exceeds %d" % (size, limit))


def _result(item, status, mid=None, reason=None):
    r = {"status": status, "type": item["type"], "severity": item["severity"],
         "component": item["component"], "variable": item["variable"]}
    if mid is not None:
        r["id"] = mid
    if reason:
        r["statusInfo"] = {"reasonCode": reason}
    return r


def set_one(station, item):
    """One setMonitoringData element -> its setMonitoringResult (N04, in the reference's order)."""
    ms = station.monitors
    model = station.model
    mid = item.get("id")
    old = ms.get(mid) if mid is not None else None
    if mid is not None and old is None:
        return _result(item, "Rejected", reason="UnknownId")
    comp, var = item["component"], item["variable"]
    v = model.find(comp, var)
    if v is None:
        if old is not None:
            return _result(item, "Rejected", reason="MonitorMoved")
        if not model.known_component(comp):
            return _result(item, "UnknownComponent")
        return _result(item, "UnknownVariable")
    t = mon.TYPES.index(item["type"])
    if not v.monitorable or (t <= mon.LOWER and not v.numeric):
        return _result(item, "UnsupportedMonitorType")
    val = item["value"]
    sev = item["severity"]
    if not 0 <= sev <= 9:
        return _result(item, "Rejected", reason="SeverityOutOfRange")
    if t <= mon.LOWER and ((v.min is not None and val < v.min) or (v.max is not None and val > v.max)):
        return _result(item, "Rejected", reason="ValueOutOfRange")
    if t == mon.DELTA and val < 0:
        return _result(item, "Rejected", reason="ValuePositiveOnly")
    if t >= mon.PERIODIC and not 1 <= val <= 86400:
        return _result(item, "Rejected", reason="ValueOutOfRange")
    if old is not None:
        if old[mon.M_ORIGIN] == mon.HARDWIRED:
            return _result(item, "Rejected", reason="HardWiredMonitor")
        if old[mon.M_VAR] is not v:
            return _result(item, "Rejected", reason="MonitorMoved")
    for m in ms.active:
        if m[mon.M_VAR] is v and m[mon.M_TYPE] == t and m[mon.M_SEV] == sev and m[mon.M_ID] != mid:
            return _result(item, "Duplicate")
    if t == mon.DELTA and not v.numeric:
        val = 1   # N04.FR.17: the value of a non-numeric Delta is ignored
    m = mon.new(mid if mid is not None else ms.alloc_id(), t, val, sev, mon.CUSTOM, v,
                item.get("transaction", False))
    ms.install(m, False)
    station.log.write("monitor %d set: %s %s on %s severity %d" % (m[mon.M_ID], item["type"], val, v.label(), sev))
    return _result(item, "Accepted", m[mon.M_ID])


def attach(station):
    s = station.session

    def set_variable_monitoring(req):
        _limit(station, req, "setMonitoringData", "SetVariableMonitoring")
        out = []
        changed = []
        for item in req["setMonitoringData"]:
            r = set_one(station, item)
            out.append(r)
            if r["status"] == "Accepted":
                m = station.monitors.get(r["id"])
                if m[mon.M_TYPE] <= mon.LOWER:
                    changed.append(m)
        if any(r["status"] == "Accepted" for r in out):
            station.monitors.save()      # one write for the whole request
            station.monitors.save_trips()
        # N07.FR.11: a new or modified threshold is checked against the value now.
        fired = None
        for m in changed:
            f = station.monitors.recheck(m)
            if f:
                fired = (fired or []) + f
        if fired:
            station.monitors.save_trips()
            station.outbox.post(fired)
        return {"setMonitoringResult": out}

    def clear_variable_monitoring(req):
        _limit(station, req, "id", "ClearVariableMonitoring")
        out = []
        for mid in req["id"]:
            m = station.monitors.get(mid)
            if m is None:
                st = "NotFound"
            elif m[mon.M_ORIGIN] != mon.CUSTOM:
                st = "Rejected"     # hard-wired and pre-configured monitors are the factory's
            else:
                station.monitors.remove(mid)
                station.log.write("monitor %d cleared" % mid)
                st = "Accepted"
            out.append({"id": mid, "status": st})
        return {"clearMonitoringResult": out}

    def set_monitoring_base(req):
        b = req["monitoringBase"]
        station.monitors.set_base(b)
        station.log.write("monitoring base " + b)
        return {"status": "Accepted"}

    def set_monitoring_level(req):
        sev = req["severity"]
        if not 0 <= sev <= 9:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "OutOfRange"}}
        station.model.set_ctrl("MonitoringCtrlr.ActiveMonitoringLevel", sev)
        station.log.write("monitoring level %d" % sev)
        return {"status": "Accepted"}

    s.on("SetVariableMonitoring", set_variable_monitoring)
    s.on("ClearVariableMonitoring", clear_variable_monitoring)
    s.on("SetMonitoringBase", set_monitoring_base, reports.not_supported("monitoringBase"))
    s.on("SetMonitoringLevel", set_monitoring_level)
