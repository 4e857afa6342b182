"""The device model over OCPP: GetVariables, SetVariables, GetBaseReport.

Only the Actual attribute exists. Reads answer per item; a variable with no
value to give (WriteOnly, a sensor not sampled yet, a failing sensor) is
Rejected with a reasonCode saying why rather than Accepted with a made-up
value. Writes parse the text per dataType, check it against the variable's
limits and persist it; a change takes effect at once (the heartbeat
interval, the monitors on the variable). Reports are NotifyReport pages
built one at a time under the DeviceDataCtrlr GetReport item and byte
budgets. docs/device-model.md has the whole contract.
"""
import asyncio
import json

import compat
from device import model as dm
from diag import monitors as mon
from protocol.codec import CallError

ENVELOPE = 200       # bytes of a NotifyReport frame besides its reportData
MIN_BUDGET = 600     # a page holds at least this many bytes of reportData
HEARTBEAT = "OCPPCommCtrlr.HeartbeatInterval"


def limit(station, req, key, which):
    """DeviceDataCtrlr.ItemsPerMessage/BytesPerMessage[which] as CALLERRORs (B06/B05)."""
    m = station.model
    items = m.ctrl("DeviceDataCtrlr.ItemsPerMessage[%s]" % which)
    if len(req[key]) > items:
        raise CallError("OccurrenceConstraintViolation", "%s: more than %d items" % (key, items))
    size = getattr(station.session, "frame_len", 0) or len(json.dumps(req))   # the frame as received
    cap = m.ctrl("DeviceDataCtrlr.BytesPerMessage[%s]" % which)
    if size > cap:
        raise CallError("FormatViolation", "request of %d bytes exceeds %d" % (size, cap))


def value_of(station, v):
    """(text, None) for the Actual value, or (None, reasonCode) when there is none to give."""
    if v.mutability == "WriteOnly":
        return None, "WriteOnly"
    if v.sensor is not None and not v.ok:
        return None, "SensorFault"
    if v.value is None:
        return None, "NoValue"
    lim = min(2500, station.model.ctrl("DeviceDataCtrlr.ReportingValueSize"))
    return dm.text(v.value)[:lim], None


def _result(item, status, reason=None, info=None):
    r = {"attributeStatus": status, "attributeType": item.get("attributeType", "Actual"),
         "component": item["component"], "variable": item["variable"]}
    if reason:
        si = {"reasonCode": reason}
        if info:
            si["additionalInfo"] = info[:512]
        r["attributeStatusInfo"] = si
    return r


def _find(model, item):
    """(variable, None) or (None, the Unknown* status)."""
    v = model.find(item["component"], item["variable"])
    if v is not None:
        return v, None
    return None, "UnknownVariable" if model.known_component(item["component"]) else "UnknownComponent"


def get_one(station, item, room):
    """One getVariableData -> (getVariableResult, bytes of value it used); room: bytes left."""
    v, unknown = _find(station.model, item)
    if unknown:
        return _result(item, unknown), 0
    if item.get("attributeType", "Actual") != "Actual":
        return _result(item, "NotSupportedAttributeType"), 0
    text, why = value_of(station, v)
    if text is None:
        info = v.sensor.error if why == "SensorFault" else None
        return _result(item, "Rejected", why, info), 0
    if len(text) > room:
        # Values of up to 2500 characters times ItemsPerMessage could exceed
        # what the board can hold or the CSMS accept in one message.
        return _result(item, "Rejected", "ResponseTooLarge"), 0
    r = _result(item, "Accepted")
    r["attributeValue"] = text
    return r, len(text)


def set_one(station, item):
    """One setVariableData -> (setVariableResult, the variable changed or None)."""
    model = station.model
    v, unknown = _find(model, item)
    if unknown:
        return _result(item, unknown), None
    if item.get("attributeType", "Actual") != "Actual":
        return _result(item, "NotSupportedAttributeType"), None
    if v.mutability == "ReadOnly":
        return _result(item, "Rejected", "ReadOnly"), None
    if v.sensor is not None:
        return _result(item, "Rejected", "ReadOnly", "the value is measured by a sensor"), None
    raw = item["attributeValue"]
    if len(raw) > model.ctrl("DeviceDataCtrlr.ValueSize"):
        return _result(item, "Rejected", "ValueTooLarge"), None
    try:
        value = dm.parse(v.dtype, raw)
    except ValueError:
        return _result(item, "Rejected", "InvalidValue", "not a valid " + v.dtype), None
    err = model.set_value(v, value)
    if err:
        return _result(item, "Rejected", "ValueOutOfRange" if err == "out of range" else "InvalidValue", err), None
    return _result(item, "Accepted"), v


def take_effect(station, changed):
    """Apply what the station does not re-read by itself, and evaluate the monitors on
    the changed variables now rather than at the next tick."""
    hb = station.model.named[HEARTBEAT]
    fired = None
    ms = station.monitors
    evaluate = station.model.ctrl("MonitoringCtrlr.Enabled")
    for v in changed:
        if v is hb:
            station.session.heartbeat_s = v.value
        if not evaluate:
            continue
        for m in ms.on_variable(v):
            if mon.kind(m) <= mon.DELTA:   # value driven; periodic ones keep their schedule
                f = ms.recheck(m)
                if f:
                    fired = f if fired is None else fired + f
    if fired:
        ms.save_trips()
        station.outbox.post(fired)


# ---- reports -------------------------------------------------------------------

def _config(v):
    return v.ctrl or v.settable()


def _summary(v):
    return v.summary


def _full(v):
    return True


BASES = {"ConfigurationInventory": _config, "FullInventory": _full, "SummaryInventory": _summary}


def report_data(station, v):
    """The ReportData of one variable: its Actual attribute and its characteristics."""
    a = {"type": "Actual", "mutability": v.mutability}
    text, why = value_of(station, v)
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
    if v.values and v.dtype in ("OptionList", "MemberList", "SequenceList"):
        c["valuesList"] = v.values[:1000]
    return {"component": v.component, "variable": v.variable, "variableAttribute": [a],
            "variableCharacteristics": c}


def pages(station, pick, items, budget):
    """Yield (reportData list, last?) for the variables pick() selects, one page at a time,
    each under `items` entries and `budget` bytes (a page holds one entry at least)."""
    page = []
    used = 0
    for v in station.model.vars:
        if not pick(v):
            continue
        d = report_data(station, v)
        size = len(json.dumps(d)) + 2
        if page and (len(page) >= items or used + size > budget):
            yield page, False
            page = []
            used = 0
        page.append(d)
        used += size
    if page:
        yield page, True


def budgets(station):
    """(items, bytes) per NotifyReport page."""
    m = station.model
    cap = min(m.ctrl("DeviceDataCtrlr.BytesPerMessage[GetReport]"), station.board["max_message"])
    return m.ctrl("DeviceDataCtrlr.ItemsPerMessage[GetReport]"), max(cap - ENVELOPE, MIN_BUDGET)


def attach(station):
    s = station.session
    model = station.model

    def get_variables(req):
        limit(station, req, "getVariableData", "GetVariables")
        room = station.board["max_message"] - 100
        out = []
        for item in req["getVariableData"]:
            room -= len(json.dumps(item["component"])) + len(json.dumps(item["variable"])) + 120
            r, used = get_one(station, item, room)
            room -= used
            out.append(r)
        return {"getVariableResult": out}

    def set_variables(req):
        limit(station, req, "setVariableData", "SetVariables")
        out = []
        changed = []
        for item in req["setVariableData"]:
            r, v = set_one(station, item)
            out.append(r)
            if v is not None:
                changed.append(v)
                station.log.write("variable %s set to %s" % (v.label(), dm.text(v.value)[:40]))
        if changed:
            take_effect(station, changed)
        return {"setVariableResult": out}

    async def send(rid, base):
        items, budget = budgets(station)
        seq = 0
        for page, last in pages(station, BASES[base], items, budget):
            req = {"requestId": rid, "seqNo": seq, "generatedAt": compat.iso(), "reportData": page}
            if not last:
                req["tbc"] = True
            for attempt in range(3):
                try:
                    # need_boot=False: a CSMS may ask for the report while the boot is Pending (B02).
                    await s.call("NotifyReport", req, need_boot=False)
                    break
                except Exception as e:
                    station.log.write("NotifyReport %d/%d failed: %r" % (rid, seq, e))
                    c = s.conn
                    if c is None or not c.open:
                        return
            seq += 1
        station.log.write("base report %d (%s) in %d pages" % (rid, base, seq))

    def get_base_report(req):
        pick = BASES[req["reportBase"]]
        for v in model.vars:
            if pick(v):
                break
        else:
            return {"status": "EmptyResultSet"}
        asyncio.create_task(send(req["requestId"], req["reportBase"]))
        return {"status": "Accepted"}

    def online(up):
        # The BootNotification interval is the heartbeat interval (B01): the
        # variable follows it, so a GetVariables reads what the session uses.
        hb = s.heartbeat_s
        if up and model.ctrl(HEARTBEAT) != hb:
            err = model.set_ctrl(HEARTBEAT, hb)
            if err:
                model.named[HEARTBEAT].value = hb
                station.log.write("heartbeat interval %d s from the CSMS: %s, not persisted" % (hb, err))

    s.on("GetVariables", get_variables)
    s.on("SetVariables", set_variables)
    s.on("GetBaseReport", get_base_report)
    s.listen(online)
