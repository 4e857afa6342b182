"""CSMS requests that change monitors: N03 SetMonitoringBase, N04
SetVariableMonitoring, N05 SetMonitoringLevel, N06 ClearVariableMonitoring.

diag/monitors.py's constants are repeated here as literals (_LOWER, and
slots of a monitor tuple): an attribute of another module costs bytecode
and a name at each use.
"""
import json

from compat import const
from diag import monitors as mon, reports
from protocol import codec

_LOWER = const(1)      # mon.LOWER: types up to it are thresholds
_DELTA = const(2)      # mon.DELTA
_HARDWIRED = const(2)  # mon.HARDWIRED (origins: mon.CUSTOM is 0)


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
    and installed: the new monitor's id, a status that carries no reasonCode
    (a 1-tuple), or the reasonCode of a Rejected."""
    ms = station.monitors
    model = station.model
    mid = item.get("id")
    old = None
    if mid is not None:
        old = ms.get(mid)
        if old is None:
            return "UnknownId"
    comp = item["component"]
    var = item["variable"]
    v = model.find(comp, var)
    if v is None:
        return "MonitorMoved" if old else ("UnknownVariable",) if model.known_component(comp) else ("UnknownComponent",)
    # The result echoes component and variable: the station's equal dicts do,
    # and the request's copies can be collected before the answer is encoded.
    if comp == v.component:
        item["component"] = v.component
    if var == v.variable:
        item["variable"] = v.variable
    t = mon.TYPES.index(item["type"])
    item["type"] = mon.TYPES[t]
    val = item["value"]
    sev = item["severity"]
    if not v.monitorable or (t <= _LOWER and not v.numeric):
        return ("UnsupportedMonitorType",)
    if not 0 <= sev <= 9:
        return "SeverityOutOfRange"
    if t == _DELTA:
        if val < 0:
            return "ValuePositiveOnly"
    elif (t <= _LOWER and ((v.min is not None and val < v.min) or (v.max is not None and val > v.max))) \
            or (t > _DELTA and not 1 <= val <= 86400):
        return "ValueOutOfRange"
    if old:
        if mon.origin(old) == _HARDWIRED:
            return "HardWiredMonitor"
        if old[3] is not v:       # M_VAR
            return "MonitorMoved"
    if ms.duplicate(v, t, sev, mid):
        return ("Duplicate",)
    if mid is None and len(ms.fl) >= station.board["max_monitors"]:
        return "TooManyMonitors"    # the board's bound: each monitor takes RAM and flash
    if t == _DELTA and not v.numeric:
        val = 1   # N04.FR.17: the value of a non-numeric Delta is ignored
    mid = ms.install(mon.new(mid or ms.alloc_id(), t, val, sev, 0, v, item.get("transaction")),  # 0: mon.CUSTOM
                     False)[0]   # M_ID
    station.log.write("monitor %d set: %s %s on %s severity %d" % (mid, item["type"], val, v.label(), sev))
    return mid


def attach(station):
    s = station.session

    def set_mon(req):
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
            elif type(r) is tuple:
                item["status"] = r[0]
            else:
                item["status"] = "Rejected"
                item["statusInfo"] = {"reasonCode": r}
        if accepted:
            ms.save()      # one write for the whole request (monitors and trip states)
        # N07.FR.11: a new or modified threshold is checked against the value now,
        # and a tripped threshold changed into another type clears its alert
        # (post() writes the trip states after the events).
        fired = []
        for r in out:
            if r["status"] == "Accepted":
                fired += ms.recheck(ms.get(r["id"])) or ()
        if fired:
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

    def clear_mon(req):
        _limit(station, req, "id", "ClearVariableMonitoring")
        ms = station.monitors
        out = []
        cleared = False
        for mid in req["id"]:
            m = ms.get(mid)
            st = "NotFound"
            if m:
                st = "Rejected"     # hard-wired and pre-configured monitors are the factory's
                if not mon.origin(m):        # a CustomMonitor
                    ms.remove(mid, False)
                    station.log.write("monitor %d cleared" % mid)
                    st = "Accepted"
                    cleared = True
            out.append({"id": mid, "status": st})
        if cleared:
            ms.save()      # one write for the whole request
        return {"clearMonitoringResult": out}

    def set_base(req):
        b = req["monitoringBase"]
        station.monitors.set_base(b)
        station.log.write("monitoring base " + b)
        return {"status": "Accepted"}

    def set_level(req):
        sev = req["severity"]
        if not 0 <= sev <= 9:
            return {"status": "Rejected", "statusInfo": {"reasonCode": "OutOfRange"}}
        station.model.set_ctrl("MonitoringCtrlr.ActiveMonitoringLevel", sev)
        station.log.write("monitoring level %d" % sev)
        return {"status": "Accepted"}

    s.on("SetVariableMonitoring", set_mon)
    s.on("ClearVariableMonitoring", clear_mon)
    s.on("SetMonitoringBase", set_base, reports.not_supported("monitoringBase"))
    s.on("SetMonitoringLevel", set_level)
