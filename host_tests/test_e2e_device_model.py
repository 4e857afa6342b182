"""GetVariables, SetVariables, GetBaseReport end to end, on both runtimes, against the
real CSMS (every station frame schema-checked), and OfflineQueuingSeverity set over
OCPP deciding what an offline station queues."""
import json
import time

import pytest

import station_proc as sp

EVSE1 = {"name": "EVSE", "evse": {"id": 1}}
TEMP = {"name": "Temperature"}
SETPOINT = {"name": "Setpoint"}
MON = {"name": "MonitoringCtrlr"}
DD = {"name": "DeviceDataCtrlr"}
COMM = {"name": "OCPPCommCtrlr"}
OQS = {"name": "OfflineQueuingSeverity"}


def variables():
    return [sp.temperature(),
            {"component": EVSE1, "variable": SETPOINT, "dataType": "integer", "unit": "A", "min": 6, "max": 32,
             "mutability": "ReadWrite", "value": 16, "monitors": []}]


def launch(tmp_path, runtime, csms, **extra):
    return sp.Station(runtime, sp.board(tmp_path, csms.url, variables=variables(), **extra)).start()


@pytest.fixture
def station(tmp_path, runtime, csms):
    csms.heartbeat = 3600
    sp.write_sensor(tmp_path, 21.5)
    st = launch(tmp_path, runtime, csms, settings={"DeviceDataCtrlr.ItemsPerMessage[GetReport]": 5})
    csms.wait_calls("BootNotification")
    yield st
    st.stop()


def get(csms, *pairs, **kw):
    items = []
    for c, v in pairs:
        it = {"component": c, "variable": v}
        if kw.get("attr"):
            it["attributeType"] = kw["attr"]
        items.append(it)
    r = csms.request("CS-1", "GetVariables", {"getVariableData": items})
    return r if isinstance(r, tuple) else r["getVariableResult"]


def put(csms, *triples):
    items = [{"component": c, "variable": v, "attributeValue": t} for c, v, t in triples]
    return [x["attributeStatus"] for x in csms.request("CS-1", "SetVariables", {"setVariableData": items})
            ["setVariableResult"]]


def sampled(csms):
    """Wait until the temperature sensor has been read once; its value. (Polls: csms.wait
    holds the CSMS's lock, so a request cannot run inside it.)"""
    for _ in range(100):
        r = get(csms, (EVSE1, TEMP))[0]
        if r["attributeStatus"] == "Accepted":
            return r["attributeValue"]
        assert r["attributeStatusInfo"]["reasonCode"] == "NoValue"
        time.sleep(0.1)
    raise AssertionError("the sensor was never sampled")


def test_get_variables_values_statuses_and_limits(station, csms):
    assert sampled(csms) == "21.5"
    r = get(csms, (EVSE1, TEMP), (MON, OQS), (COMM, {"name": "HeartbeatInterval"}),
            (COMM, {"name": "FileTransferProtocols"}),
            (MON, {"name": "ItemsPerMessage", "instance": "SetVariableMonitoring"}),
            (DD, {"name": "ItemsPerMessage", "instance": "GetReport"}),
            (EVSE1, SETPOINT), (EVSE1, {"name": "Problem"}),
            ({"name": "Nope"}, TEMP), (EVSE1, {"name": "Nope"}))
    assert [(x["attributeStatus"], x.get("attributeValue")) for x in r] == [
        ("Accepted", "21.5"), ("Accepted", "9"), ("Accepted", "3600"),     # the interval the CSMS gave at boot
        ("Accepted", "HTTP,HTTPS,FTP"), ("Accepted", "50"), ("Accepted", "5"), ("Accepted", "16"),
        ("Accepted", "false"), ("UnknownComponent", None), ("UnknownVariable", None)]
    assert r[4]["variable"] == {"name": "ItemsPerMessage", "instance": "SetVariableMonitoring"}
    assert get(csms, (EVSE1, TEMP), attr="Target")[0]["attributeStatus"] == "NotSupportedAttributeType"
    err = get(csms, *[(EVSE1, TEMP)] * 21)                        # ItemsPerMessage[GetVariables] is 20
    assert err[0] == "CALLERROR" and err[1] == "OccurrenceConstraintViolation"
    big = ({"name": "C" * 50, "instance": "i" * 50, "evse": {"id": 1}}, {"name": "V" * 50, "instance": "j" * 50})
    err = get(csms, *[big] * 16)                                  # BytesPerMessage[GetVariables] is 4000
    assert err[0] == "CALLERROR" and err[1] == "FormatViolation"
    # Bytes, not characters: 13 items of 3,800 characters are 5,100 bytes of UTF-8.
    wide = {"component": {"name": "\u00e9" * 50, "instance": "i" * 50}, "variable": {"name": "V" * 50, "instance": "j" * 50}}
    text = json.dumps([2, "wide-1", "GetVariables", {"getVariableData": [wide] * 13}], ensure_ascii=False)
    assert len(text) < 4000 < len(text.encode())
    csms.send_raw("CS-1", text)
    assert csms.answer("wide-1")[:2] == ("CALLERROR", "FormatViolation")
    assert station.alive()


def test_set_variables_take_effect_and_persist_across_a_reboot(station, csms, tmp_path, runtime):
    assert put(csms, (COMM, {"name": "HeartbeatInterval"}, "1")) == ["Accepted"]
    csms.wait_calls("Heartbeat", 2, timeout=15)                   # not 3600 s later
    assert put(csms, (MON, OQS, "12"), (MON, OQS, "x"), (DD, {"name": "ItemsPerMessage", "instance": "GetReport"}, "9"),
               (EVSE1, SETPOINT, "33"), (EVSE1, TEMP, "5"), (EVSE1, SETPOINT, "24"),
               (COMM, {"name": "MessageTimeout", "instance": "Default"}, "45"),
               ({"name": "Nope"}, SETPOINT, "1")) == [
        "Rejected", "Rejected", "Rejected", "Rejected", "Rejected", "Accepted", "Accepted", "UnknownComponent"]
    r = csms.request("CS-1", "SetVariables", {"setVariableData": [
        {"component": EVSE1, "variable": SETPOINT, "attributeValue": "20", "attributeType": "MaxSet"}]})
    assert r["setVariableResult"][0]["attributeStatus"] == "NotSupportedAttributeType"
    station.stop()
    st2 = launch(tmp_path, runtime, csms)
    try:
        csms.wait_calls("BootNotification", 2)
        r = get(csms, (EVSE1, SETPOINT), (COMM, {"name": "MessageTimeout", "instance": "Default"}),
                (DD, {"name": "ItemsPerMessage", "instance": "GetReport"}))
        assert [x["attributeValue"] for x in r] == ["24", "45", "20"]
    finally:
        st2.stop()


def report(csms, rid, base):
    """GetBaseReport; (status, every NotifyReport page of it once the last one came)."""
    r = csms.request("CS-1", "GetBaseReport", {"requestId": rid, "reportBase": base})
    if r["status"] != "Accepted":
        return r["status"], []

    def done():
        ps = [p for p in csms.calls("NotifyReport") if p["requestId"] == rid]
        return ps and not ps[-1].get("tbc") and ps
    return r["status"], csms.wait(done, timeout=60, what="report %d" % rid)


def rows(pages):
    out = {}
    for p in pages:
        for d in p["reportData"]:
            v = d["variable"]
            out[d["component"]["name"] + "." + v["name"] + ("[%s]" % v["instance"] if "instance" in v else "")] = d
    return out


def test_get_base_report_pages_every_inventory(station, csms):
    sampled(csms)
    status, pages = report(csms, 11, "FullInventory")
    assert status == "Accepted"
    assert [p["seqNo"] for p in pages] == list(range(len(pages))) and len(pages) >= 5
    assert all(p.get("tbc") is True for p in pages[:-1]) and all(len(p["reportData"]) <= 5 for p in pages)
    full = rows(pages)
    assert len(full) == sum(len(p["reportData"]) for p in pages)             # each variable once
    for name in ("MonitoringCtrlr.ItemsPerMessage[SetVariableMonitoring]",
                 "MonitoringCtrlr.BytesPerMessage[SetVariableMonitoring]",
                 "MonitoringCtrlr.ItemsPerMessage[ClearVariableMonitoring]",
                 "MonitoringCtrlr.BytesPerMessage[ClearVariableMonitoring]",
                 "DeviceDataCtrlr.ItemsPerMessage[GetReport]", "DeviceDataCtrlr.BytesPerMessage[GetReport]",
                 "MonitoringCtrlr.OfflineQueuingSeverity", "MonitoringCtrlr.ActiveMonitoringBase",
                 "MonitoringCtrlr.ActiveMonitoringLevel", "EVSE.Temperature", "EVSE.Setpoint", "EVSE.Problem"):
        assert name in full, name
    t = full["EVSE.Temperature"]
    assert t["variableAttribute"] == [{"type": "Actual", "value": "21.5", "mutability": "ReadOnly"}]
    assert t["variableCharacteristics"] == {"dataType": "decimal", "unit": "Celsius", "minLimit": -40,
                                            "maxLimit": 150, "supportsMonitoring": True}
    assert full["DeviceDataCtrlr.ItemsPerMessage[GetReport]"]["variableAttribute"][0]["value"] == "5"
    assert full["MonitoringCtrlr.ActiveMonitoringBase"]["variableCharacteristics"]["valuesList"] == \
        "All,FactoryDefault,HardWiredOnly"
    status, pages = report(csms, 12, "ConfigurationInventory")
    conf = rows(pages)
    assert status == "Accepted" and "EVSE.Setpoint" in conf and "EVSE.Temperature" not in conf
    assert "MonitoringCtrlr.BytesPerMessage[SetVariableMonitoring]" in conf
    status, pages = report(csms, 13, "SummaryInventory")
    assert status == "Accepted"
    assert sorted(rows(pages)) == ["EVSE.Problem", "MonitoringCtrlr.Available", "MonitoringCtrlr.Enabled"]


def test_offline_queuing_severity_set_over_ocpp_decides_what_is_queued(station, csms, tmp_path):
    sampled(csms)
    r = csms.request("CS-1", "SetVariableMonitoring", {"setMonitoringData": [
        {"value": 50, "type": "UpperThreshold", "severity": 2, "component": EVSE1, "variable": TEMP},
        {"value": 60, "type": "UpperThreshold", "severity": 7, "component": EVSE1, "variable": TEMP}]})
    keep, drop = (x["id"] for x in r["setMonitoringResult"])
    assert put(csms, (MON, OQS, "3")) == ["Accepted"]            # the board's default is 9: both would queue
    port = csms.port
    csms.stop()
    csms.wait(lambda: "session offline" in station.read_log(), what="the station to go offline")
    sp.write_sensor(tmp_path, 70)                                 # above both thresholds
    csms.wait(lambda: "severity 7) not queued" in station.read_log(), what="the severity 7 event dropped")
    csms.port = port
    csms.start()
    evs = csms.wait(lambda: csms.events(), timeout=60, what="queued events after the reconnect")
    assert get(csms, (MON, OQS))[0]["attributeValue"] == "3"      # a round trip after the NotifyEvent
    evs = csms.events()
    assert [(e["variableMonitoringId"], e["actualValue"]) for e in evs] == [(keep, "70")]
    assert drop not in [e["variableMonitoringId"] for e in evs]


def test_base_report_while_the_boot_is_pending(tmp_path, runtime, csms):
    csms.boot_answers = [("Pending", 60)]                         # the CSMS reads the device model first (B02)
    sp.write_sensor(tmp_path, 21.5)
    st = launch(tmp_path, runtime, csms)
    try:
        csms.wait_calls("BootNotification")
        status, pages = report(csms, 21, "SummaryInventory")
        assert status == "Accepted"
        assert sorted(rows(pages)) == ["EVSE.Problem", "MonitoringCtrlr.Available", "MonitoringCtrlr.Enabled"]
        assert len(csms.calls("BootNotification")) == 1          # still Pending: no second boot yet
    finally:
        st.stop()
