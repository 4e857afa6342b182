"""CSMS requests that change monitors: N03 SetMonitoringBase, N04
SetVariableMonitoring, N05 SetMonitoringLevel, N06 ClearVariableMonitoring."""
import json

from diag import monitors as mon, reports
from protocol import codec

# Results that carry no reasonCode; any other string _set() returns is the
# reasonCode of a Rejected.
PLAIN = ("UnknownComponent", "UnknownVariable", "UnsupportedMonitorType", "Duplicate")


def _limit(station, req, key, which):
    m = station.model
    ctrl = "MonitoringCtrlr.%sPerMessage[" + which + "]"
    items = m.ctrl(ctrl % "Items")
    if len(req[key]) > items:
        raise codec.CallError("OccurrenceConstraintViolation", "%s: more than %d items" % (key, items))
    size = station.session.frame_len or len(json.dumps(req))
    limit = m.ctrl(ctrl % "Bytes")
    if size > limit:
        raise codec.CallError("FormatViolation", "request of %d bytes exceeds %d" % (size, limit))


def _set(station, item):
    """One setMonitoringData element, checked (N04, in the reference's order)
    and installed: the new monitor's id, or the status or Rejected reason."""
    ms = station.monitors
    mid = item.get("id")
    old = ms.get(mid) if mid is not None else None
    if mid is not None and old is None:
        return "UnknownId"
    comp, var = item["component"], item["variable"]
    v = station.model.find(comp, var)
    if v is None:
        if old is not None:
            return "MonitorMoved"
        if not station.model.known_component(comp):
            return "UnknownComponent"
        return "UnknownVariable"
    # The result echoes component and variable: the station's equal dicts do,
    # and the request's copies can be collected before the answer is encoded.
    if comp == v.component:
        item["component"] = v.component
    if var == v.variable:
        item["variable"] = v.variable
    t = mon.TYPES.index(item["type"])
    item["type"] = mon.TYPES[t]
    if not v.monitorable or (t <= mon.LOWER and not v.numeric):
        return "UnsupportedMonitorType"
    val = item["value"]
    sev = item["severity"]
    if not 0 <= sev <= 9:
        return "SeverityOutOfRange"
    if t <= mon.LOWER and ((v.min is not None and val < v.min) or (v.max is not None and val > v.max)):
        return "ValueOutOfRange"
    if t == mon.DELTA and val < 0:
        return "ValuePositiveOnly"
    if t >= mon.PERIODIC and not 1 <= val <= 86400:
        return "ValueOutOfRange"
    if old is not None:
        if mon.origin(old) == mon.HARDWIRED:
            return "HardWiredMonitor"
        if old[mon.M_VAR] is not v:
            return "MonitorMoved"
    if ms.duplicate(v, t, sev, mid):
        return "Duplicate"
    if t == mon.DELTA and not v.numeric:
        val = 1   # N04.FR.17: the value of a non-numeric Delta is ignored
    m = mon.new(mid if mid is not None else ms.alloc_id(), t, val, sev, mon.CUSTOM, v,
                item.get("transaction", False))
    ms.install(m, False)
    station.log.write("monitor %d set: %s %s on %s severity %d" % (m[mon.M_ID], item["type"], val, v.label(), sev))
    return m[mon.M_ID]


def attach(station):
    s = station.session

    def set_variable_monitoring(req):
        """Each item is turned into its result in place, in the request's own
        list: the answer costs no second copy of the request, and the item's
        value (a float, maybe) is let go."""
        _limit(station, req, "setMonitoringData", "SetVariableMonitoring")
        ms = station.monitors
        out = req["setMonitoringData"]
        accepted = False
        for item in out:
            r = _set(station, item)
            item.pop("value", None)
            item.pop("transaction", None)
            item.pop("id", None)
            if type(r) is int:
                item["status"] = "Accepted"
                item["id"] = r
                accepted = True
            elif r in PLAIN:
                item["status"] = r
            else:
                item["status"] = "Rejected"
                item["statusInfo"] = {"reasonCode": r}
        if accepted:
            ms.save()      # one write for the whole request
            ms.save_trips()
        # N07.FR.11: a new or modified threshold is checked against the value now.
        fired = None
        for r in out:
            if r["status"] == "Accepted" and mon.TYPES.index(r["type"]) <= mon.LOWER:
                f = ms.recheck(ms.get(r["id"]))
                if f:
                    fired = f if fired is None else fired + f
        if fired:
            ms.save_trips()
            station.outbox.post(fired)
        # The answer as JSON text in parts, each result let go once encoded:
        # at the end of a request its dicts and its text are not both alive.
        parts = ['{"setMonitoringResult":[']
        for i in range(len(out)):
            if i:
                parts.append(",")
            parts.append(codec.dumps(out[i]))
            out[i] = None
        parts.append("]}")
        return parts

    def clear_variable_monitoring(req):
        _limit(station, req, "id", "ClearVariableMonitoring")
        ms = station.monitors
        out = []
        cleared = False
        for mid in req["id"]:
            m = ms.get(mid)
            if m is None:
                st = "NotFound"
            elif mon.origin(m) != mon.CUSTOM:
                st = "Rejected"     # hard-wired and pre-configured monitors are the factory's
            else:
                ms.remove(mid, False)
                station.log.write("monitor %d cleared" % mid)
                st = "Accepted"
                cleared = True
            out.append({"id": mid, "status": st})
        if cleared:
            ms.save()      # one write for the whole request
            ms.save_trips()
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
