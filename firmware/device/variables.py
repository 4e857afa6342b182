"""The device model over OCPP: GetVariables, SetVariables, GetBaseReport.

Only the Actual attribute exists. Reads answer per item; a variable with no
value to give (WriteOnly, a sensor not sampled yet, a failing sensor) is
Rejected with a reasonCode saying why rather than Accepted with a made-up
value. Writes parse the text per dataType, check it against the variable's
limits and persist it; a change takes effect at once (the heartbeat
interval, the monitors on the variable). Reports are NotifyReport pages
built one at a time under the DeviceDataCtrlr GetReport item and byte
budgets. docs/device-model.md has the whole contract.

Get, Set and GetBaseReport share one handler, Get and Set one per-item
function: each function costs .mpy bytes and ~150 B of RAM on import, and
each handler a closure.
"""
import json

from compat import const, iso
from device import model as dm
from protocol import session
from protocol.codec import CallError

# Rows of device/model.py's CTRL read here by number (host_tests/unit/test_variables.py checks them)
_ENABLED = const(1)          # MonitoringCtrlr.Enabled
_REPORT_ITEMS = const(10)    # DeviceDataCtrlr.ItemsPerMessage[GetReport], BytesPerMessage next
_GET_ITEMS = const(12)       # DeviceDataCtrlr.ItemsPerMessage[GetVariables], BytesPerMessage next
_SET_ITEMS = const(14)       # DeviceDataCtrlr.ItemsPerMessage[SetVariables], BytesPerMessage next
_VALUE_SIZE = const(16)      # DeviceDataCtrlr.ReportingValueSize
_SET_SIZE = const(17)        # DeviceDataCtrlr.ValueSize
_HEARTBEAT = const(18)       # OCPPCommCtrlr.HeartbeatInterval


def value_of(station, v):
    """(text, None) for the Actual value, or (None, reasonCode) when there is none to give."""
    if v.mutability == "WriteOnly":
        why = "WriteOnly"
    elif v.sensor is not None and not v.ok:
        why = "SensorFault"
    elif v.value is None:
        why = "NoValue"
    else:
        return dm.text(v.value)[:min(2500, station.model.cv[_VALUE_SIZE])], None
    return None, why


def _one(station, item, room):
    """One getVariableData (room: bytes of value still allowed) or setVariableData (room None)
    -> (its result, the variable when Accepted)."""
    model = station.model
    comp = item["component"]
    at = item.get("attributeType", "Actual")
    var = item["variable"]
    v = model.find(comp, var, False)
    st = why = info = val = None
    if v is None:
        st = "UnknownVariable" if model.known_component(comp) else "UnknownComponent"
    elif at != "Actual":
        st = "NotSupportedAttributeType"
    elif room is not None:                                    # get
        val, why = value_of(station, v)
        if why == "SensorFault":
            info = v.sensor.error
        elif val is not None and len(val) > room:
            # Values of up to 2500 characters times ItemsPerMessage could exceed
            # what the board can hold or the CSMS accept in one message.
            val = None
            why = "ResponseTooLarge"
    elif not v.settable():                                     # set
        why = "ReadOnly"
        if v.sensor is not None:
            info = "sensor"          # measured, not written
    else:
        raw = item["attributeValue"]
        why = "InvalidValue"
        if len(raw) > model.cv[_SET_SIZE]:
            why = "ValueTooLarge"
        else:
            try:
                info = model.set_value(v, dm.parse(v.dtype, raw))
            except ValueError:
                info = v.dtype       # the text is not one
            if not info:
                why = None
            elif "range" in info:    # Model.check: "out of range"
                why = "ValueOutOfRange"
    if st is None:
        st = "Rejected" if why else "Accepted"
    r = {"attributeStatus": st, "attributeType": at, "component": comp, "variable": var}
    if why:
        r["attributeStatusInfo"] = si = {"reasonCode": why}
        if info:
            si["additionalInfo"] = info[:512]
    elif val is not None:
        r["attributeValue"] = val
    return r, v if st == "Accepted" else None


def _picked(base, v):
    """Does GetBaseReport's reportBase (Full/Summary/ConfigurationInventory) report v?"""
    c = base[0]
    return c == "F" or (v.summary if c == "S" else v.ctrl or v.settable())


def pages(station, base, items, budget):
    """Yield (reportData list, last?) for the variables of the report base, one page at a time,
    each under `items` entries and `budget` bytes (a page holds one entry at least)."""
    page = []
    used = 0
    for v in station.model.all():
        if not _picked(base, v):
            continue
        # The ReportData of one variable: its Actual attribute and its characteristics.
        a = {"type": "Actual", "mutability": v.mutability}
        text = value_of(station, v)[0]
        if text is not None:
            a["value"] = text
        if v.ctrl or v.settable():
            a["persistent"] = True
        c = {"dataType": v.dtype, "supportsMonitoring": bool(v.monitorable)}
        if v.unit:
            c["unit"] = v.unit[:16]
        if v.min is not None:
            c["minLimit"] = v.min
        if v.max is not None:
            c["maxLimit"] = v.max
        if v.values and v.dtype.endswith("List"):     # OptionList, MemberList, SequenceList
            c["valuesList"] = v.values[:1000]
        d = {"component": v.component, "variable": v.variable, "variableAttribute": [a],
             "variableCharacteristics": c}
        size = len(json.dumps(d)) + 2
        if page and (len(page) >= items or used + size > budget):
            yield page, False
            page = []
            used = 0
        page.append(d)
        used += size
    if page:
        yield page, True


async def _send(station, rid, base):
    """The NotifyReport pages of a GetBaseReport. A page's reportData: the message cap
    less 200 bytes of envelope, 600 bytes at least."""
    s = station.session
    model = station.model
    log = station.log.write
    cap = min(model.cv[_REPORT_ITEMS + 1], station.board["max_message"])
    seq = 0
    for page, last in pages(station, base, model.cv[_REPORT_ITEMS], max(cap - 200, 600)):
        req = {"requestId": rid, "seqNo": seq, "generatedAt": iso(), "reportData": page}
        if not last:
            req["tbc"] = True
        for attempt in range(3):
            try:
                # need_boot=False: a CSMS may ask for the report while the boot is Pending (B02).
                await s.call("NotifyReport", req, need_boot=False)
                break
            except Exception as e:
                log("NotifyReport %d/%d: %r" % (rid, seq, e))
                c = s.conn
                if c is None or not c.open:
                    return
        seq += 1
    log("base report %d: %d pages" % (rid, seq))


def attach(station):
    """The handlers close over the station alone, one cell (the session, model and
    log they read through it were a cell each, and a closure more for each handler)."""
    jobs = [0]    # GetBaseReport jobs under way (Session.job)

    def variables(req):
        """GetVariables, SetVariables and GetBaseReport: the request's keys tell which."""
        s = station.session
        model = station.model
        if "reportBase" in req:
            base = req["reportBase"]
            for v in model.all():
                if _picked(base, v):
                    if not s.job(jobs, _send(station, req["requestId"], base)):
                        return session.BUSY
                    return {"status": "Accepted"}
            return {"status": "EmptyResultSet"}
        g = "getVariableData" in req
        k = "getVariableData" if g else "setVariableData"
        # DeviceDataCtrlr.ItemsPerMessage/BytesPerMessage[GetVariables] or [SetVariables]
        # as CALLERRORs (B06/B05)
        cv = model.cv
        i = _GET_ITEMS if g else _SET_ITEMS
        cap = cv[i]
        n = len(req[k])
        code = "OccurrenceConstraintViolation"
        if n <= cap:
            cap = cv[i + 1]
            n = getattr(s, "frame_len", 0) or len(json.dumps(req))   # the frame as received
            code = "FormatViolation"
        if n > cap:
            raise CallError(code, "%d > %d" % (n, cap))
        room = station.board["max_message"] - 100 if g else None
        out = []
        changed = []
        for item in req[k]:
            if g:    # the result's bytes besides its value
                room -= len(json.dumps(item)) + 100
            r, v = _one(station, item, room)
            out.append(r)
            if g:
                room -= len(r.get("attributeValue", ""))
            elif v:
                changed.append(v)
                station.log.write("%s set to %s" % (v.label(), dm.text(v.value)[:40]))
        # A change takes effect now: what the station does not re-read by itself, and the
        # value driven monitors on the variable (periodic ones keep their schedule).
        fired = []
        ms = station.monitors
        evaluate = cv[_ENABLED]
        for v in changed:
            if v.name == "OCPPCommCtrlr.HeartbeatInterval":
                s.heartbeat_s = v.value
            if evaluate:
                for m in ms.on_variable(v):    # find() gives back the object its monitors hold
                    if m[1] & 7 < 3:            # its type (diag/monitors.py): UPPER, LOWER, DELTA
                        fired += ms.recheck(m) or ()
        if fired:
            station.outbox.post(fired)     # then the trip states
        return {k[:3] + "VariableResult": out}

    def online(up):
        # The BootNotification interval is the heartbeat interval (B01): the
        # variable follows it, so a GetVariables reads what the session uses.
        hb = station.session.heartbeat_s
        model = station.model
        if up and model.cv[_HEARTBEAT] != hb:
            err = model.set_ctrl("OCPPCommCtrlr.HeartbeatInterval", hb)
            if err:
                model.cv[_HEARTBEAT] = hb
                station.log.write("heartbeat %d s, not persisted: %s" % (hb, err))

    s = station.session
    s.on("GetVariables", variables)
    s.on("SetVariables", variables)
    s.on("GetBaseReport", variables)
    s.listen(online)
