"""protocol.codec: OCPP-J framing, encoders and schema validation, on both runtimes.

Runs under pytest (CPython) and under MicroPython via tools/mprun.py. The
official-schema corpus comparison with jsonschema is in
host_tests/test_codec_schemas.py (CPython + MicroPython).
"""
import json

import compat
from protocol import codec
from protocol.codec import CallError, CALL, CALLRESULT, CALLERROR
from support import raises

COMP = {"name": "EVSE", "evse": {"id": 1, "connectorId": 1}}


def _smd(n=3):
    return {"setMonitoringData": [
        {"value": 230.5, "type": "UpperThreshold", "severity": 4, "transaction": False,
         "component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Voltage"}}
        for _ in range(n)]}


def _fails(action, payload, code, desc=None, is_request=True):
    e = raises(CallError, codec.validate, action, is_request, payload)
    assert e.code == code, (e.code, e.description, payload)
    if desc is not None:
        assert e.description == desc, e.description
    return e


def _frame_fails(text, code, msg_id):
    e = raises(CallError, codec.decode, text)
    assert e.code == code, (text, e.code, e.description)
    assert e.msg_id == msg_id, (text, e.msg_id)
    return e


# ------------------------------------------------------------ encoders, round trips

def test_encoders_write_compact_json():
    assert codec.call("m1", "Heartbeat", {}) == '[2,"m1","Heartbeat",{}]'
    assert codec.result("m1", {"currentTime": "2026-11-23T19:00:00.000Z"}) == \
        '[3,"m1",{"currentTime":"2026-11-23T19:00:00.000Z"}]'
    assert codec.error("m1", "NotImplemented", "no") == '[4,"m1","NotImplemented","no",{}]'
    assert codec.error("m1", "GenericError", "x", {"a": 1}) == '[4,"m1","GenericError","x",{"a":1}]'


def test_error_description_cut_to_255():
    f = codec.decode(codec.error("m", "GenericError", "d" * 300))
    assert f[2][1] == "d" * 255


def test_round_trips():
    p = _smd(2)
    assert codec.decode(codec.call("a-1", "SetVariableMonitoring", p)) == [CALL, "a-1", "SetVariableMonitoring", p]
    r = {"status": "Accepted", "statusInfo": {"reasonCode": "ok"}}
    assert codec.decode(codec.result("a-2", r)) == [CALLRESULT, "a-2", r, None]
    assert codec.decode(codec.error("a-3", "FormatViolation", "bad", {"k": [1]})) == \
        [CALLERROR, "a-3", ("FormatViolation", "bad", {"k": [1]}), None]
    # non-ASCII survives
    q = {"data": "\u00e9t\u00e9 \u20ac", "seqNo": 0, "generatedAt": "2026-11-23T19:00:00Z", "requestId": 1}
    f = codec.decode(codec.call("x", "NotifyCustomerInformation", q))
    assert f[3] == q
    codec.validate("NotifyCustomerInformation", True, f[3])


def test_decode_takes_bytes():
    assert codec.decode(b'[2,"1","Heartbeat",{}]') == [CALL, "1", "Heartbeat", {}]


def test_decode_does_not_validate_payloads():
    # the session validates separately; decode only checks the frame
    assert codec.decode('[2,"1","GetLog",[1]]') == [CALL, "1", "GetLog", [1]]
    assert codec.decode('[2,"1","NoSuchAction",{"x":1}]')[2] == "NoSuchAction"
    assert codec.decode('[3,"1","not an object"]') == [CALLRESULT, "1", "not an object", None]



def test_decode_takes_whitespace_around_the_frame():
    # what json.loads takes, decode takes (CPython's path skips json.loads's wrapper
    # only for plain text: protocol/codec_cpython.py)
    for t in (' [3,"1",{}]', '[3,"1",{}]\n', '\t\r\n[3,"1",{}] \n', '[ 3 , "1" , { } ]'):
        assert codec.decode(t) == [CALLRESULT, "1", {}, None], t
    assert codec.decode(b' [3,"1",{}] ') == [CALLRESULT, "1", {}, None]


# ------------------------------------------------------------ framing errors

def test_invalid_json_is_rpc_framework_error_with_id_minus_1():
    for t in ('', '[2,"1","Heartbeat",{}', '[2,"1","Heartbeat",{}]]', "['a']", 'nope', '{"a":}', ' ',
              '[3,"1",{}] x', '\ufeff[3,"1",{}]'):
        e = _frame_fails(t, "RpcFrameworkError", "-1")
        assert e.msg_type is None


def test_a_frame_too_deep_to_read_answers_its_call_id_when_its_start_gives_one():
    # CPython stops at its recursion limit, MicroPython's json.loads runs out
    # of heap: either way the frame cannot be read, and the connection lives.
    n = 20000
    e = _frame_fails('[2,"req-7","GetVariables",' + "[" * n + "]" * n + "]", "RpcFrameworkError", "req-7")
    assert e.msg_type == CALL
    e = _frame_fails(b'[2, "b", "GetVariables", ' + b"[" * n + b"]" * n + b"]", "RpcFrameworkError", "b")
    e = _frame_fails("[" * n + "]" * n, "RpcFrameworkError", "-1")
    assert e.msg_type is None
    _frame_fails('[3,"r",' + "[" * n + "]" * n + "]", "RpcFrameworkError", "-1")


def test_not_an_array_is_rpc_framework_error():
    for t in ('{}', '"x"', '5', 'null', 'true', '{"0":2}'):
        _frame_fails(t, "RpcFrameworkError", "-1")


def test_unreadable_message_id():
    for t in ('[]', '[2]', '[2,5,"Heartbeat",{}]', '[2,null,"Heartbeat",{}]',
              '[2,["1"],"Heartbeat",{}]', '[2,"%s","Heartbeat",{}]' % ("x" * 37)):
        _frame_fails(t, "RpcFrameworkError", "-1")
    # 36 characters is fine
    assert codec.decode('[2,"%s","Heartbeat",{}]' % ("x" * 36))[1] == "x" * 36


def test_message_type_not_an_integer():
    for t in ('["2","m","Heartbeat",{}]', '[2.0,"m","Heartbeat",{}]', '[true,"m","Heartbeat",{}]',
              '[null,"m","Heartbeat",{}]'):
        _frame_fails(t, "RpcFrameworkError", "m")


def test_unknown_message_type_number():
    for t in ('[5,"m",{}]', '[6,"m","Heartbeat",{}]', '[1,"m"]', '[0,"m","A",{}]', '[-2,"m","A",{}]'):
        e = _frame_fails(t, "MessageTypeNotSupported", "m")
        assert e.msg_type is None


def test_wrong_element_count_is_protocol_error():
    cases = (('[2,"m","Heartbeat"]', CALL), ('[2,"m","Heartbeat",{},{}]', CALL), ('[2,"m"]', CALL),
             ('[3,"m"]', CALLRESULT), ('[3,"m",{},{}]', CALLRESULT),
             ('[4,"m","GenericError","x"]', CALLERROR), ('[4,"m","GenericError","x",{},1]', CALLERROR))
    for t, mt in cases:
        e = _frame_fails(t, "ProtocolError", "m")
        assert e.msg_type == mt, t


def test_call_action_and_callerror_elements_must_be_strings():
    e = _frame_fails('[2,"m",7,{}]', "ProtocolError", "m")
    assert e.msg_type == CALL
    for t in ('[4,"m",1,"x",{}]', '[4,"m","GenericError",null,{}]', '[4,"m","GenericError","x",[]]'):
        e = _frame_fails(t, "ProtocolError", "m")
        assert e.msg_type == CALLERROR


# ------------------------------------------------------------ validation

def test_known_actions():
    for a in ("GetLog", "LogStatusNotification", "GetMonitoringReport", "NotifyMonitoringReport",
              "SetMonitoringBase", "SetVariableMonitoring", "SetMonitoringLevel",
              "ClearVariableMonitoring", "NotifyEvent", "CustomerInformation",
              "NotifyCustomerInformation", "BootNotification", "Heartbeat", "StatusNotification",
              "GetVariables", "SetVariables", "GetBaseReport", "NotifyReport", "TriggerMessage"):
        assert codec.known(a), a
    assert not codec.known("Authorize")
    assert not codec.known("getlog")


def test_unknown_action_is_not_implemented():
    e = _fails("Authorize", {}, "NotImplemented")
    assert e.msg_id is None
    e = raises(CallError, codec.validate, "Reset", False, {}, "m-9")
    assert e.code == "NotImplemented" and e.msg_id == "m-9"


def test_payload_not_an_object_is_format_violation():
    for p in ([], "x", 5, None, True, [{}]):
        _fails("Heartbeat", p, "FormatViolation")


def test_valid_payloads_pass():
    codec.validate("SetVariableMonitoring", True, _smd(5))
    codec.validate("Heartbeat", True, {})
    codec.validate("Heartbeat", False, {"currentTime": "2026-11-23T19:00:00.000Z"})
    codec.validate("BootNotification", True, {"reason": "PowerUp", "chargingStation": {
        "model": "M", "vendorName": "V", "modem": {"iccid": "1", "imsi": "2"}}})
    codec.validate("GetLog", True, {"logType": "DiagnosticsLog", "requestId": 1, "retries": 0,
                                    "log": {"remoteLocation": "ftp://h/", "latestTimestamp": "2026-11-23T19:00:00Z"}})
    codec.validate("ClearVariableMonitoring", True, {"id": [1, 2, 3]})
    codec.validate("LogStatusNotification", False, {})


def test_missing_required_is_occurrence_violation():
    _fails("GetLog", {"logType": "DiagnosticsLog", "log": {"remoteLocation": "u"}},
           "OccurrenceConstraintViolation", "requestId: required")
    p = _smd()
    del p["setMonitoringData"][1]["component"]["evse"]["id"]
    _fails("SetVariableMonitoring", p, "OccurrenceConstraintViolation",
           "setMonitoringData[1].component.evse.id: required")


def test_min_and_max_items_are_occurrence_violations():
    _fails("SetVariableMonitoring", {"setMonitoringData": []}, "OccurrenceConstraintViolation",
           "setMonitoringData: minItems 1")
    _fails("ClearVariableMonitoring", {"id": []}, "OccurrenceConstraintViolation", "id: minItems 1")
    crit = ["ThresholdMonitoring", "DeltaMonitoring", "PeriodicMonitoring"]
    codec.validate("GetMonitoringReport", True, {"requestId": 1, "monitoringCriteria": crit})
    _fails("GetMonitoringReport", {"requestId": 1, "monitoringCriteria": crit + crit[:1]},
           "OccurrenceConstraintViolation", "monitoringCriteria: maxItems 3")


def test_wrong_json_type_is_type_violation():
    _fails("SetMonitoringLevel", {"severity": "5"}, "TypeConstraintViolation", "severity: integer expected")
    _fails("NotifyCustomerInformation", {"data": 5, "seqNo": 0, "generatedAt": "2026-11-23T19:00:00Z",
                                         "requestId": 1}, "TypeConstraintViolation", "data: string expected")
    p = _smd()
    p["setMonitoringData"][2]["value"] = "230"
    _fails("SetVariableMonitoring", p, "TypeConstraintViolation", "setMonitoringData[2].value: number expected")
    p = _smd()
    p["setMonitoringData"][0]["transaction"] = "false"
    _fails("SetVariableMonitoring", p, "TypeConstraintViolation",
           "setMonitoringData[0].transaction: boolean expected")
    p = _smd()
    p["setMonitoringData"][0]["component"] = "EVSE"
    _fails("SetVariableMonitoring", p, "TypeConstraintViolation", "setMonitoringData[0].component: object expected")
    _fails("SetVariableMonitoring", {"setMonitoringData": {}}, "TypeConstraintViolation",
           "setMonitoringData: array expected")
    _fails("ClearVariableMonitoring", {"id": [1, "2"]}, "TypeConstraintViolation", "id[1]: integer expected")
    _fails("GetMonitoringReport", {"requestId": 1, "monitoringCriteria": [3]}, "TypeConstraintViolation",
           "monitoringCriteria[0]: string expected")
    _fails("GetLog", {"logType": 1, "requestId": 1, "log": {"remoteLocation": "u"}},
           "TypeConstraintViolation", "logType: string expected")
    _fails("Heartbeat", {"currentTime": 1795600800}, "TypeConstraintViolation",
           "currentTime: string expected", False)


def test_null_is_a_type_violation():
    _fails("SetMonitoringLevel", {"severity": None}, "TypeConstraintViolation")
    _fails("GetLog", {"logType": None, "requestId": 1, "log": {"remoteLocation": "u"}}, "TypeConstraintViolation")
    _fails("GetLog", {"logType": "SecurityLog", "requestId": 1, "log": None}, "TypeConstraintViolation")


def test_bools_are_not_integers_or_numbers():
    _fails("SetMonitoringLevel", {"severity": True}, "TypeConstraintViolation", "severity: integer expected")
    _fails("SetMonitoringLevel", {"severity": False}, "TypeConstraintViolation")
    p = _smd()
    p["setMonitoringData"][0]["value"] = True
    _fails("SetVariableMonitoring", p, "TypeConstraintViolation", "setMonitoringData[0].value: number expected")
    _fails("ClearVariableMonitoring", {"id": [True]}, "TypeConstraintViolation")
    # and integers are not booleans
    p = _smd()
    p["setMonitoringData"][0]["transaction"] = 0
    _fails("SetVariableMonitoring", p, "TypeConstraintViolation")


def test_integer_follows_draft4_5_0_is_not_an_integer():
    # jsonschema Draft4Validator: {"type": "integer"} rejects 5.0 (Draft 6 would accept it)
    _fails("SetMonitoringLevel", json.loads('{"severity": 5.0}'), "TypeConstraintViolation")
    _fails("SetMonitoringLevel", json.loads('{"severity": 5e0}'), "TypeConstraintViolation")
    _fails("SetMonitoringLevel", {"severity": 5.5}, "TypeConstraintViolation")
    codec.validate("SetMonitoringLevel", True, json.loads('{"severity": 5}'))
    codec.validate("SetMonitoringLevel", True, json.loads('{"severity": -0}'))
    codec.validate("SetMonitoringLevel", True, {"severity": 123456789012345678901234567890})
    # a number takes both
    for v in ("5", "5.0", "-0.25", "1e3", "123456789012345678901234567890"):
        p = json.loads('{"setMonitoringData":[{"value":%s,"type":"Delta","severity":1,'
                       '"component":{"name":"c"},"variable":{"name":"v"}}]}' % v)
        codec.validate("SetVariableMonitoring", True, p)


def test_enum_violation_is_property_violation():
    _fails("SetMonitoringBase", {"monitoringBase": "Everything"}, "PropertyConstraintViolation",
           "monitoringBase: not in enum")
    _fails("SetMonitoringBase", {"monitoringBase": "all"}, "PropertyConstraintViolation")  # case matters
    _fails("SetMonitoringBase", {"monitoringBase": ""}, "PropertyConstraintViolation")
    _fails("GetMonitoringReport", {"requestId": 1, "monitoringCriteria": ["DeltaMonitoring", "Delta"]},
           "PropertyConstraintViolation", "monitoringCriteria[1]: not in enum")
    for s in ("All", "FactoryDefault", "HardWiredOnly"):
        codec.validate("SetMonitoringBase", True, {"monitoringBase": s})


def test_max_length_counts_characters():
    p = _smd()
    p["setMonitoringData"][2]["component"]["name"] = "x" * 51
    _fails("SetVariableMonitoring", p, "PropertyConstraintViolation",
           "setMonitoringData[2].component.name: maxLength 50")
    p["setMonitoringData"][2]["component"]["name"] = "\u00e9" * 50  # 100 bytes, 50 characters
    codec.validate("SetVariableMonitoring", True, p)
    p["setMonitoringData"][2]["component"]["name"] = "\u20ac" * 51
    _fails("SetVariableMonitoring", p, "PropertyConstraintViolation")
    # the same through the wire (raw UTF-8)
    t = '[2,"1","SetMonitoringBase",{"monitoringBase":"All","customData":{"vendorId":"%s"}}]'
    codec.validate("SetMonitoringBase", True, codec.decode(t % ("\u00e9" * 255))[3])
    _fails("SetMonitoringBase", codec.decode(t % ("\u00e9" * 256))[3], "PropertyConstraintViolation",
           "customData.vendorId: maxLength 255")


def test_additional_property_is_format_violation():
    _fails("SetMonitoringLevel", {"severity": 1, "level": 2}, "FormatViolation",
           "level: unknown property")
    p = _smd()
    p["setMonitoringData"][1]["variable"]["unit"] = "V"
    _fails("SetVariableMonitoring", p, "FormatViolation",
           "setMonitoringData[1].variable.unit: unknown property")
    _fails("Heartbeat", {"x": 1}, "FormatViolation")


def test_custom_data_is_always_allowed_and_open():
    cd = {"vendorId": "com.example", "anything": [1, {"deep": None}], "customData": 5}
    codec.validate("Heartbeat", True, {"customData": cd})
    p = _smd()
    p["customData"] = cd
    p["setMonitoringData"][0]["customData"] = cd
    p["setMonitoringData"][0]["component"]["evse"]["customData"] = {"vendorId": "v"}
    codec.validate("SetVariableMonitoring", True, p)
    _fails("Heartbeat", {"customData": {"x": 1}}, "OccurrenceConstraintViolation", "customData.vendorId: required")
    _fails("Heartbeat", {"customData": {"vendorId": 1}}, "TypeConstraintViolation",
           "customData.vendorId: string expected")
    _fails("Heartbeat", {"customData": "v"}, "TypeConstraintViolation", "customData: object expected")
    _fails("Heartbeat", {"customData": {"vendorId": "v" * 256}}, "PropertyConstraintViolation")


def test_response_tables():
    codec.validate("GetLog", False, {"status": "AcceptedCanceled", "filename": "log.tgz"})
    _fails("GetLog", {"status": "Accepted", "filename": "f" * 256}, "PropertyConstraintViolation",
           "filename: maxLength 255", False)
    _fails("BootNotification", {"currentTime": "2026-11-23T19:00:00Z", "interval": 300}, "OccurrenceConstraintViolation",
           "status: required", False)
    _fails("SetVariableMonitoring", {"setMonitoringResult": [{"status": "Accepted", "type": "Delta",
                                                              "severity": 1, "component": {"name": "c"},
                                                              "variable": {"name": "v"},
                                                              "statusInfo": {"reasonCode": "r" * 21}}]},
           "PropertyConstraintViolation", "setMonitoringResult[0].statusInfo.reasonCode: maxLength 20", False)


def test_validate_passes_msg_id_through():
    e = raises(CallError, codec.validate, "SetMonitoringLevel", True, {}, "id-7")
    assert e.msg_id == "id-7" and e.code == "OccurrenceConstraintViolation"
    assert e.details == {}


# ------------------------------------------------------------ date-time

GOOD_DT = ("2026-11-23T19:00:00.000Z", "2026-11-23T19:00:00Z", "2026-11-23t19:00:00z",
           "2024-02-29T00:00:00Z", "2000-02-29T23:59:59.999999999+14:00", "2026-12-31T23:59:60Z",
           "2026-01-01T00:00:00-00:00", "2026-06-30T12:30:00.5+05:30", "0001-01-01T00:00:00Z",
           "9999-12-31T23:59:59-23:59")
BAD_DT = ("", "yesterday", "2026-11-23", "2026-11-23T19:00:00", "2026-11-23 19:00:00Z",
          "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-11-00T00:00:00Z",
          "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
          "2026-11-23T24:00:00Z", "2026-11-23T19:60:00Z", "2026-11-23T19:00:61Z",
          "2026-11-23T19:00:00.Z", "2026-11-23T19:00:00+24:00", "2026-11-23T19:00:00+01:60",
          "2026-11-23T19:00:00+0100", "2026-11-23T19:00:00+01", "+026-11-23T19:00:00Z",
          "2026-1-23T19:00:00Z", "2026-11-23T19:00:00Z ", " 2026-11-23T19:00:00Z",
          "2026-11-23T19:00:00Z\n", "\uff12026-11-23T19:00:00Z", "2026-11-23T1\uff19:00:00Z",
          "2026-11-23T19:00:00.5e3Z", "2026-11-23T19:00:00+01:00Z", "2026-11-23T19:00:00ZZ",
          "2026-11-23T19:00:00+ 1:00", "2026-11-23T19:00:00+-1:00", "2026-11-23T19:00:00.1.2Z",
          "2026/11/23T19:00:00Z", "2026-11-23X19:00:00Z", "2026-11-23T19:00:00GMT",
          "2026-11-23T19:00:00\u00e9", "2026-11-23T19:00:00.\u0661Z", "12026-11-23T19:00:00Z")


def test_date_time_format_is_property_violation():
    for s in GOOD_DT:
        codec.validate("Heartbeat", False, {"currentTime": s})
    for s in BAD_DT:
        e = _fails("Heartbeat", {"currentTime": s}, "PropertyConstraintViolation", None, False)
        assert e.description == "currentTime: date-time expected", (s, e.description)


def test_date_time_in_nested_and_array_paths():
    p = {"generatedAt": "2026-11-23T19:00:00Z", "seqNo": 0, "eventData": [
        {"eventId": 1, "timestamp": "2026-11-23T19:00:00Z", "trigger": "Alerting", "actualValue": "1",
         "eventNotificationType": "HardWiredNotification", "component": COMP, "variable": {"name": "P"}},
        {"eventId": 2, "timestamp": "2026-11-31T19:00:00Z", "trigger": "Alerting", "actualValue": "1",
         "eventNotificationType": "HardWiredNotification", "component": COMP, "variable": {"name": "P"}}]}
    _fails("NotifyEvent", p, "PropertyConstraintViolation", "eventData[1].timestamp: date-time expected")
    p["eventData"][1]["timestamp"] = "2026-11-30T19:00:00Z"
    codec.validate("NotifyEvent", True, p)
    _fails("GetLog", {"logType": "DiagnosticsLog", "requestId": 1,
                      "log": {"remoteLocation": "u", "oldestTimestamp": "2026-11-23"}},
           "PropertyConstraintViolation", "log.oldestTimestamp: date-time expected")


def test_date_time_check_is_never_laxer_than_parse_iso():
    # every timestamp the codec lets in can be read with compat.parse_iso
    for s in GOOD_DT:
        assert codec._dt(s), s
        assert compat.parse_iso(s) is not None, s
    for s in BAD_DT:
        assert not codec._dt(s), s
    # parse_iso is laxer on some (int() takes signs and spaces): the codec is not
    for s in ("2026-11-23T19:00:00+ 1:00", "+026-11-23T19:00:00Z", "2026-11-23T19:00:00+99:00"):
        assert not codec._dt(s), s
    # systematic: one character changed at each position of a valid stamp
    base = "2024-02-29T23:59:60.123+05:30"
    n = 0
    for i in range(len(base)):
        for c in "0159:-+.TZtz /a":
            s = base[:i] + c + base[i + 1:]
            if codec._dt(s):
                n += 1
                assert compat.parse_iso(s) is not None, s
    assert n > 50



def _dt_ref(s):
    """RFC 3339 date-time with a real calendar date, the slow obvious way."""
    def num(t):  # t as a number; None unless it is all ASCII digits
        r = 0
        for c in t:
            i = "0123456789".find(c)
            if i < 0 or len(c) != 1:
                return None
            r = r * 10 + i
        return r
    if len(s) < 20 or s[4] != "-" or s[7] != "-" or s[10] not in "Tt" or s[13] != ":" or s[16] != ":":
        return False
    f = [num(s[a:a + w]) for a, w in ((0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2))]
    if None in f:
        return False
    y, mo, d, h, mi, se = f
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not (1 <= mo <= 12 and h <= 23 and mi <= 59 and se <= 60) \
            or not 1 <= d <= (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[mo - 1]:
        return False
    rest = s[19:]
    if rest[:1] == ".":
        i = 1
        while i < len(rest) and num(rest[i]) is not None:
            i += 1
        if i == 1:
            return False
        rest = rest[i:]
    if rest in ("Z", "z"):
        return True
    if len(rest) != 6 or rest[0] not in "+-" or rest[3] != ":":
        return False
    oh, om = num(rest[1:3]), num(rest[4:6])
    return oh is not None and om is not None and oh <= 23 and om <= 59


def test_date_time_check_is_the_rfc3339_language():
    # codec._dt (bytecode on MicroPython, a regex on CPython: protocol/codec_cpython.py)
    # against the obvious reference, on every one-character replacement, insertion
    # and deletion of a few valid stamps, and on the calendar's edges
    for s in GOOD_DT + BAD_DT:
        assert bool(codec._dt(s)) == _dt_ref(s), s
    n = 0
    for base in ("2024-02-29T23:59:60.123+05:30", "2023-12-31T00:00:00Z", "2000-02-29t09:09:09.5z",
                 "1900-02-28T19:59:59-23:59"):
        for i in range(len(base) + 1):
            for c in "0123456789:-+.TZtz /a\u00e9":
                for s in (base[:i] + c + base[i + 1:], base[:i] + c + base[i:], base[:i] + base[i + 1:]):
                    assert bool(codec._dt(s)) == _dt_ref(s), s
                    n += 1
    for y in ("0000", "0004", "0100", "1600", "1700", "1996", "1999", "2000", "2100", "2400", "9996"):
        for m in range(0, 14):
            for d in (0, 1, 28, 29, 30, 31, 32):
                s = "%s-%02d-%02dT12:00:00Z" % (y, m, d)
                assert bool(codec._dt(s)) == _dt_ref(s), s
    assert n > 5000


# ------------------------------------------------------------ table mechanics

def _check(t, p):
    # validate against a hand-made table, registered under an action for the call
    codec.REQ["_Test"] = t
    try:
        codec.validate("_Test", True, p)
    finally:
        del codec.REQ["_Test"]


def test_bounded_numbers_and_open_objects():
    # the official 2.0.1 schemas have no minimum/maximum: a hand-made table
    t = {0: ("n",), "n": (-1, 0, 9), "x": (-2, -1.5, None), "o": (-5, {0: (), 1: True, "k": 3})}
    _check(t, {"n": 0})
    _check(t, {"n": 9, "x": -1.5, "o": {"k": "abc", "zz": [1]}})
    for p, code, desc in (({"n": 10}, "PropertyConstraintViolation", "n: maximum 9"),
                          ({"n": -1}, "PropertyConstraintViolation", "n: minimum 0"),
                          ({"n": 1.0}, "TypeConstraintViolation", "n: integer expected"),
                          ({"n": True}, "TypeConstraintViolation", "n: integer expected"),
                          ({"n": 1, "x": -2}, "PropertyConstraintViolation", "x: minimum -1.5"),
                          ({"n": 1, "o": {"k": "abcd"}}, "PropertyConstraintViolation", "o.k: maxLength 3"),
                          ({"n": 1, "o": []}, "TypeConstraintViolation", "o: object expected")):
        e = raises(CallError, _check, t, p)
        assert (e.code, e.description) == (code, desc), (p, e.code, e.description)


def test_first_violation_wins_and_nothing_is_shared():
    # two errors: one CallError, and the payload is left untouched
    p = _smd()
    p["setMonitoringData"][0]["severity"] = "high"
    p["setMonitoringData"][2]["component"]["name"] = "x" * 60
    before = json.dumps(p)
    e = _fails("SetVariableMonitoring", p, "TypeConstraintViolation")
    assert e.description.startswith("setMonitoringData[0].")
    assert json.dumps(p) == before
