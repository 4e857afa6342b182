"""Codec micro-benchmark, the same code on MicroPython and CPython.

    micropython -c "import sys; sys.path[:0] = [TREE, 'tools']; import bench_codec; bench_codec.main()"
    python tools/bench_codec.py [--ocpp]

For each inbound Diagnostics frame (CSMS -> station): protocol.codec's
decode + validate against bare json.loads of the same text; for each
outbound frame: codec.call / codec.result against bare json.dumps of the
same frame. Microseconds per message = best of REPS runs of a loop sized to
~TARGET_US; bytes allocated per message (MicroPython) from gc.mem_alloc
around one call with the collector off. With --ocpp (CPython), the `ocpp`
package's unpack + schema validation of the same text runs beside it.
Prints BENCH lines (bench_kit.emit) that tools/bench.py collects.
"""
import gc
import json

import bench_kit as kit

REPS = 9
TARGET_US = 12000

TS = "2026-11-23T19:00:00.000Z"
EV = {"name": "EVSE", "evse": {"id": 1}}
TEMP = {"name": "Temperature"}


def _svm_items(n):
    types = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic", "UpperThreshold")
    out = []
    for i in range(n):
        out.append({"value": 80 + i, "type": types[i % 5], "severity": i % 10,
                    "component": {"name": "EVSE", "evse": {"id": 1 + i % 2}}, "variable": TEMP})
    return out


# (name, action, is_request, payload): what the station receives.
INBOUND = (
    ("GetLog", "GetLog", True,
     {"log": {"remoteLocation": "https://logs.example.com/upload/CS-1",
              "oldestTimestamp": "2026-11-23T18:00:00.000Z", "latestTimestamp": TS},
      "logType": "DiagnosticsLog", "requestId": 17, "retries": 3, "retryInterval": 60}),
    ("GetMonitoringReport", "GetMonitoringReport", True,
     {"requestId": 42, "monitoringCriteria": ["ThresholdMonitoring", "DeltaMonitoring"],
      "componentVariable": [{"component": EV, "variable": TEMP}]}),
    ("SetMonitoringBase", "SetMonitoringBase", True, {"monitoringBase": "All"}),
    ("SetVariableMonitoring", "SetVariableMonitoring", True, {"setMonitoringData": _svm_items(5)}),
    ("SetMonitoringLevel", "SetMonitoringLevel", True, {"severity": 5}),
    ("ClearVariableMonitoring", "ClearVariableMonitoring", True, {"id": [101, 102, 103, 104, 105]}),
    ("CustomerInformation", "CustomerInformation", True,
     {"requestId": 7, "report": True, "clear": False,
      "idToken": {"idToken": "04A2B3C4D5E6F7", "type": "ISO14443"}}),
    ("NotifyEvent.conf", "NotifyEvent", False, {}),
    ("NotifyMonitoringReport.conf", "NotifyMonitoringReport", False, {}),
    ("LogStatusNotification.conf", "LogStatusNotification", False, {}),
    ("NotifyCustomerInformation.conf", "NotifyCustomerInformation", False, {}),
)


def _event(eid, mid, value, cleared):
    return {"eventId": eid, "timestamp": TS, "trigger": "Alerting", "actualValue": value,
            "cleared": cleared, "eventNotificationType": "CustomMonitor", "variableMonitoringId": mid,
            "component": EV, "variable": TEMP}


def _page():
    mons = []
    for e in (1, 2):
        vm = []
        for i in range(5):
            vm.append({"id": e * 10 + i, "transaction": False, "value": 80.0 + i,
                       "type": ("UpperThreshold", "LowerThreshold", "Delta", "Periodic",
                                "PeriodicClockAligned")[i], "severity": i})
        mons.append({"component": {"name": "EVSE", "evse": {"id": e}}, "variable": TEMP,
                     "variableMonitoring": vm})
    return {"requestId": 42, "seqNo": 0, "generatedAt": TS, "tbc": True, "monitor": mons}


def _results(items):
    out = []
    for i, it in enumerate(items):
        r = {"status": "Accepted", "type": it["type"], "severity": it["severity"],
             "component": it["component"], "variable": it["variable"], "id": 101 + i}
        out.append(r)
    return out


# (name, action, is_call, payload): what the station sends.
OUTBOUND = (
    ("NotifyEvent", "NotifyEvent", True,
     {"generatedAt": TS, "seqNo": 0, "eventData": [_event(1, 101, "91.5", False), _event(2, 102, "12", True)]}),
    ("NotifyMonitoringReport", "NotifyMonitoringReport", True, _page()),
    ("LogStatusNotification", "LogStatusNotification", True, {"status": "Uploaded", "requestId": 17}),
    ("NotifyCustomerInformation", "NotifyCustomerInformation", True,
     {"data": "x" * 512, "seqNo": 0, "generatedAt": TS, "requestId": 7, "tbc": True}),
    ("GetLog.conf", "GetLog", False,
     {"status": "Accepted", "filename": "CS-1-DiagnosticsLog-20261123T190000Z.log"}),
    ("GetMonitoringReport.conf", "GetMonitoringReport", False, {"status": "Accepted"}),
    ("SetMonitoringBase.conf", "SetMonitoringBase", False, {"status": "Accepted"}),
    ("SetVariableMonitoring.conf", "SetVariableMonitoring", False,
     {"setMonitoringResult": _results(_svm_items(5))}),
    ("SetMonitoringLevel.conf", "SetMonitoringLevel", False, {"status": "Accepted"}),
    ("ClearVariableMonitoring.conf", "ClearVariableMonitoring", False,
     {"clearMonitoringResult": [{"id": 101 + i, "status": "Accepted"} for i in range(5)]}),
    ("CustomerInformation.conf", "CustomerInformation", False, {"status": "Accepted"}),
)


def inbound_texts():
    """(name, action, is_request, frame text) as a CSMS sends them (compact JSON)."""
    out = []
    for name, action, req, p in INBOUND:
        if req:
            f = [2, "csms-0001", action, p]
        else:
            f = [3, "1-17", p]
        out.append((name, action, req, json.dumps(f, separators=(",", ":"))))
    return out


def _loop(fn, arg, n):
    t0 = kit.now_us()
    for _ in range(n):
        fn(arg)
    return kit.since_us(t0)


def timeit(*pairs):
    """Microseconds per call of each (fn, arg): loops sized to about TARGET_US,
    the functions interleaved, best of REPS rounds (load elsewhere on the
    machine only ever adds time, so the minimum is the figure)."""
    ns = []
    for fn, arg in pairs:
        n = 1
        while True:
            dt = _loop(fn, arg, n)
            if dt >= TARGET_US // 8 or n >= 1 << 20:
                break
            n *= 4
        ns.append(max(1, n * TARGET_US // max(dt, 1)))
    best = [None] * len(pairs)
    for _ in range(REPS):
        for i in range(len(pairs)):
            dt = _loop(pairs[i][0], pairs[i][1], ns[i]) / ns[i]
            if best[i] is None or dt < best[i]:
                best[i] = dt
    return best


def allocated(fn, arg):
    """Bytes allocated by one call (MicroPython; None on CPython)."""
    if not kit.MPY:
        return None
    fn(arg)
    gc.collect()
    gc.disable()
    try:
        a = gc.mem_alloc()
        fn(arg)
        return gc.mem_alloc() - a
    finally:
        gc.enable()


# The measured calls, all of one shape: f(job) with job a tuple built
# beforehand, so the harness costs the same on every side of a ratio.

def _in_codec(job):
    # what protocol/session.py does with a frame: decode, then validate the payload
    k, mid, a, b = _decode(job[0])
    if k == 2:
        _validate(a, True, b)
    else:
        _validate(job[1], False, a)


def _in_json(job):
    _loads(job[0])


def _in_decode(job):
    _decode(job[0])


def _in_validate(job):
    _validate(job[1], job[2], job[3])


def _out_call(job):
    _call(job[0], job[1], job[2])


def _out_result(job):
    _result(job[0], job[2])


def _out_json(job):
    _dumps(job[3])


def _in_ocpp(job):
    # The ocpp package's receive path: unpack, then the Draft 4 schema
    # validation validate_payload runs (its synchronous core; the async
    # wrapper adds a thread hop on top).
    m = _om.unpack(job[0])
    if job[2] is False:
        m.action = job[1]
    _om._validate_payload(m, "2.0.1")


def ocpp_async(job, n=400):
    """The ocpp package's default path: `await validate_payload(...)`, which
    (ASYNC_VALIDATION, the default) runs the validation in the loop's thread
    pool. Microseconds per message, best of REPS runs of n."""
    import asyncio

    async def go():
        best = None
        for _ in range(5):
            t0 = kit.now_us()
            for _ in range(n):
                m = _om.unpack(job[0])
                if job[2] is False:
                    m.action = job[1]
                await _om.validate_payload(m, "2.0.1")
            dt = kit.since_us(t0) / n
            if best is None or dt < best:
                best = dt
        return best
    return asyncio.run(go())


_om = _decode = _validate = _call = _result = None
_loads, _dumps = json.loads, json.dumps


def main(with_ocpp=False):
    global _om, _decode, _validate, _call, _result
    from protocol import codec
    _decode, _validate, _call, _result = codec.decode, codec.validate, codec.call, codec.result
    if with_ocpp:
        from ocpp import messages as om
        _om = om
    for name, action, req, text in inbound_texts():
        k, mid, a, b = codec.decode(text)
        job = (text, action, req, b if k == codec.CALL else a)
        _in_codec(job)   # raises if the frame is not valid: the bench would be meaningless
        t = timeit((_in_codec, job), (_in_json, job), (_in_decode, job), (_in_validate, job))
        r = {"name": name, "bytes": len(text), "codec_us": t[0], "json_us": t[1],
             "decode_us": t[2], "validate_us": t[3],
             "codec_alloc": allocated(_in_codec, job), "json_alloc": allocated(_in_json, job)}
        if with_ocpp:
            _in_ocpp(job)
            r["ocpp_us"] = timeit((_in_ocpp, job))[0]
            r["ocpp_async_us"] = ocpp_async(job)
        kit.emit("codec_in", **r)
    for name, action, is_call, p in OUTBOUND:
        if is_call:
            job = ("1-17", action, p, [2, "1-17", action, p])
            fn = _out_call
            text = codec.call("1-17", action, p)
        else:
            job = ("csms-0001", action, p, [3, "csms-0001", p])
            fn = _out_result
            text = codec.result("csms-0001", p)
        t = timeit((fn, job), (_out_json, job))
        r = {"name": name, "bytes": len(text), "codec_us": t[0], "json_us": t[1],
             "codec_alloc": allocated(fn, job), "json_alloc": allocated(_out_json, job), "frame": text}
        kit.emit("codec_out", **r)


if __name__ == "__main__":
    import sys
    sys.path.insert(0, "firmware")
    main("--ocpp" in sys.argv)
