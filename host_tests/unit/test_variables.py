"""GetVariables and SetVariables on a real Station, in-process, on both runtimes."""
from protocol.codec import CallError
import stationkit as kit
import support
from stationkit import EVSE1, TEMP

MON = {"name": "MonitoringCtrlr"}
DD = {"name": "DeviceDataCtrlr"}
COMM = {"name": "OCPPCommCtrlr"}
SETPOINT = {"name": "Setpoint"}


def sensor_var(path, name="Temperature"):
    v = kit.var(name=name)
    v["unit"] = "Celsius"
    v["sensor"] = {"driver": "file", "path": path}
    return v


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def get(st, *pairs, **kw):
    items = []
    for c, v in pairs:
        it = {"component": c, "variable": v}
        if kw.get("attr"):
            it["attributeType"] = kw["attr"]
        items.append(it)
    return kit.call(st, "GetVariables", {"getVariableData": items})["getVariableResult"]


def set1(st, comp, var, text, attr=None):
    it = {"component": comp, "variable": var, "attributeValue": text}
    if attr:
        it["attributeType"] = attr
    return kit.call(st, "SetVariables", {"setVariableData": [it]})["setVariableResult"][0]


def status(r):
    return r["attributeStatus"], r.get("attributeStatusInfo", {}).get("reasonCode")


def test_get_actual_values_of_sensor_and_controller_variables_in_request_order():
    d = support.tmpdir("gv")
    write(d + "/t", "21.5")
    st = kit.make([sensor_var(d + "/t")])
    st.tick()
    r = get(st, (EVSE1, TEMP), (MON, {"name": "OfflineQueuingSeverity"}), (MON, {"name": "Enabled"}),
            (COMM, {"name": "FileTransferProtocols"}), (DD, {"name": "ItemsPerMessage", "instance": "GetReport"}),
            (COMM, {"name": "HeartbeatInterval"}))
    assert [x["attributeValue"] for x in r] == ["21.5", "9", "true", "HTTP,HTTPS,FTP", "20", "300"]
    assert all(x["attributeStatus"] == "Accepted" and x["attributeType"] == "Actual" for x in r)
    assert r[0]["component"] == EVSE1 and r[0]["variable"] == TEMP
    assert r[4]["variable"] == {"name": "ItemsPerMessage", "instance": "GetReport"}


def test_get_unknown_component_unknown_variable_and_unsupported_attribute_type():
    st = kit.make()
    r = get(st, ({"name": "Nope"}, TEMP), ({"name": "EVSE", "evse": {"id": 2}}, TEMP), (EVSE1, {"name": "Nope"}),
            (DD, {"name": "ItemsPerMessage", "instance": "Nope"}))
    assert [x["attributeStatus"] for x in r] == ["UnknownComponent", "UnknownComponent", "UnknownVariable",
                                                 "UnknownVariable"]
    assert all("attributeValue" not in x for x in r)
    r = get(st, (EVSE1, TEMP), attr="MaxSet")
    assert r[0]["attributeStatus"] == "NotSupportedAttributeType" and r[0]["attributeType"] == "MaxSet"


def test_get_without_a_value_is_rejected_with_the_reason_write_only_too():
    d = support.tmpdir("gv")
    st = kit.make([sensor_var(d + "/t"), kit.var(name="Secret", dtype="string", lo=None, hi=None, mut="WriteOnly",
                                                 value="s3")])
    r = get(st, (EVSE1, TEMP), (EVSE1, {"name": "Secret"}))
    assert [status(x) for x in r] == [("Rejected", "NoValue"), ("Rejected", "WriteOnly")]
    assert "attributeValue" not in r[0] and "attributeValue" not in r[1]


def test_a_failing_sensor_is_rejected_and_raises_its_components_problem_variable():
    d = support.tmpdir("gv")
    write(d + "/t", "30")
    st = kit.make([sensor_var(d + "/t")])
    st.tick()
    problem = (EVSE1, {"name": "Problem"})
    assert get(st, problem)[0]["attributeValue"] == "false"
    import os
    os.remove(d + "/t")
    for _ in range(3):
        st.tick()
    r = get(st, (EVSE1, TEMP), problem)
    assert status(r[0]) == ("Rejected", "SensorFault") and "cannot read" in r[0]["attributeStatusInfo"]["additionalInfo"]
    assert r[1]["attributeValue"] == "true"
    write(d + "/t", "31")
    st.tick()
    assert [x["attributeValue"] for x in get(st, (EVSE1, TEMP), problem)] == ["31", "false"]


def test_get_limits_items_and_bytes_per_message_give_callerrors():
    st = kit.make(settings={"DeviceDataCtrlr.ItemsPerMessage[GetVariables]": 2,
                            "DeviceDataCtrlr.BytesPerMessage[GetVariables]": 300})
    e = support.raises(CallError, get, st, (EVSE1, TEMP), (EVSE1, TEMP), (EVSE1, TEMP))
    assert e.code == "OccurrenceConstraintViolation"
    big = {"name": "EVSE", "instance": "x" * 50, "evse": {"id": 1}}
    e = support.raises(CallError, get, st, (big, {"name": "T" * 50}), (big, {"name": "T" * 50}))
    assert e.code == "FormatViolation"
    assert len(get(st, (EVSE1, TEMP), (EVSE1, TEMP))) == 2


def test_get_values_that_would_overflow_the_message_are_rejected_not_sent():
    st = kit.make([kit.var(name="Note", dtype="string", lo=None, hi=None, value="n" * 700)], max_message=1024)
    r = get(st, (EVSE1, {"name": "Note"}), (EVSE1, {"name": "Note"}))
    assert r[0]["attributeValue"] == "n" * 700
    assert status(r[1]) == ("Rejected", "ResponseTooLarge")


def test_set_controller_variables_parse_per_data_type_and_persist():
    st = kit.make()
    assert status(set1(st, MON, {"name": "OfflineQueuingSeverity"}, "3")) == ("Accepted", None)
    assert status(set1(st, MON, {"name": "Enabled"}, "false")) == ("Accepted", None)
    assert status(set1(st, MON, {"name": "SampleInterval"}, "250")) == ("Accepted", None)
    assert st.model.ctrl("MonitoringCtrlr.OfflineQueuingSeverity") == 3
    assert st.model.ctrl("MonitoringCtrlr.Enabled") is False
    st2 = kit.again(st)
    assert st2.model.ctrl("MonitoringCtrlr.OfflineQueuingSeverity") == 3
    assert st2.model.ctrl("MonitoringCtrlr.Enabled") is False
    assert st2.model.ctrl("MonitoringCtrlr.SampleInterval") == 250
    assert get(st2, (MON, {"name": "OfflineQueuingSeverity"}))[0]["attributeValue"] == "3"


def test_set_rejects_out_of_range_wrong_type_read_only_and_other_attribute_types():
    st = kit.make()
    oqs = {"name": "OfflineQueuingSeverity"}
    assert status(set1(st, MON, oqs, "10")) == ("Rejected", "ValueOutOfRange")
    assert status(set1(st, MON, oqs, "-1")) == ("Rejected", "ValueOutOfRange")
    for bad in ("abc", "3.5", "", "1e1", "1_0"):
        assert status(set1(st, MON, oqs, bad)) == ("Rejected", "InvalidValue"), bad
    assert status(set1(st, MON, {"name": "Enabled"}, "yes")) == ("Rejected", "InvalidValue")
    assert st.model.ctrl("MonitoringCtrlr.OfflineQueuingSeverity") == 9
    r = set1(st, MON, {"name": "ItemsPerMessage", "instance": "SetVariableMonitoring"}, "10")
    assert status(r) == ("Rejected", "ReadOnly")
    assert st.model.ctrl("MonitoringCtrlr.ItemsPerMessage[SetVariableMonitoring]") == 50
    assert status(set1(st, MON, {"name": "Available"}, "false")) == ("Rejected", "ReadOnly")
    r = set1(st, MON, oqs, "3", attr="Target")
    assert r["attributeStatus"] == "NotSupportedAttributeType" and r["attributeType"] == "Target"
    assert status(set1(st, {"name": "Nope"}, oqs, "3")) == ("UnknownComponent", None)
    assert status(set1(st, MON, {"name": "Nope"}, "3")) == ("UnknownVariable", None)
    assert st.model.ctrl("MonitoringCtrlr.OfflineQueuingSeverity") == 9


def test_set_heartbeat_interval_changes_the_session_at_once():
    st = kit.make()
    assert status(set1(st, COMM, {"name": "HeartbeatInterval"}, "60")) == ("Accepted", None)
    assert st.session.heartbeat_s == 60
    assert status(set1(st, COMM, {"name": "HeartbeatInterval"}, "0")) == ("Rejected", "ValueOutOfRange")
    assert st.session.heartbeat_s == 60


def test_the_boot_interval_becomes_the_heartbeat_interval_variable():
    st = kit.make(online=False)
    st.session.heartbeat_s = 3600
    st.session._set_online(True)
    assert get(st, (COMM, {"name": "HeartbeatInterval"}))[0]["attributeValue"] == "3600"
    assert kit.again(st).model.ctrl("OCPPCommCtrlr.HeartbeatInterval") == 3600


def test_set_limits_items_and_bytes_per_message_give_callerrors():
    st = kit.make(settings={"DeviceDataCtrlr.ItemsPerMessage[SetVariables]": 1,
                            "DeviceDataCtrlr.BytesPerMessage[SetVariables]": 200})
    it = {"component": MON, "variable": {"name": "OfflineQueuingSeverity"}, "attributeValue": "3"}
    e = support.raises(CallError, kit.call, st, "SetVariables", {"setVariableData": [it, it]})
    assert e.code == "OccurrenceConstraintViolation"
    big = dict(it)
    big["attributeValue"] = "3" + " " * 200
    e = support.raises(CallError, kit.call, st, "SetVariables", {"setVariableData": [big]})
    assert e.code == "FormatViolation"
    assert st.model.ctrl("MonitoringCtrlr.OfflineQueuingSeverity") == 9


def board_vars(path):
    return [kit.var(name="Setpoint", lo=0, hi=100, mut="ReadWrite"),
            kit.var(name="Mode", dtype="OptionList", lo=None, hi=None, mut="ReadWrite", value="Eco"),
            kit.var(name="Phases", dtype="MemberList", lo=None, hi=None, mut="ReadWrite", value="L1"),
            kit.var(name="Until", dtype="dateTime", lo=None, hi=None, mut="WriteOnly"),
            kit.var(name="Serial", dtype="string", lo=None, hi=None, value="SN1"),
            sensor_var(path, name="Measured")]


def test_set_board_variables_written_by_the_csms_persist_and_obey_their_lists():
    d = support.tmpdir("sv")
    vs = board_vars(d + "/m")
    vs[1]["values"] = "Eco,Boost"
    vs[2]["values"] = "L1,L2,L3"
    vs[-1]["mutability"] = "ReadWrite"
    st = kit.make(vs)
    assert status(set1(st, EVSE1, SETPOINT, "42.5")) == ("Accepted", None)
    assert status(set1(st, EVSE1, SETPOINT, "100.5")) == ("Rejected", "ValueOutOfRange")
    assert status(set1(st, EVSE1, SETPOINT, "nan")) == ("Rejected", "InvalidValue")
    assert status(set1(st, EVSE1, SETPOINT, "inf")) == ("Rejected", "InvalidValue")
    assert status(set1(st, EVSE1, {"name": "Mode"}, "Turbo")) == ("Rejected", "InvalidValue")
    assert status(set1(st, EVSE1, {"name": "Mode"}, "Boost")) == ("Accepted", None)
    assert status(set1(st, EVSE1, {"name": "Phases"}, "L1,L4")) == ("Rejected", "InvalidValue")
    assert status(set1(st, EVSE1, {"name": "Phases"}, "L1,L3")) == ("Accepted", None)
    assert status(set1(st, EVSE1, {"name": "Until"}, "tomorrow")) == ("Rejected", "InvalidValue")
    assert status(set1(st, EVSE1, {"name": "Until"}, "2026-11-23T19:00:00.000Z")) == ("Accepted", None)
    assert status(set1(st, EVSE1, {"name": "Serial"}, "SN2")) == ("Rejected", "ReadOnly")
    r = set1(st, EVSE1, {"name": "Measured"}, "5")                 # ReadWrite, but a sensor owns the value
    assert status(r) == ("Rejected", "ReadOnly") and "sensor" in r["attributeStatusInfo"]["additionalInfo"]
    st2 = kit.again(st)
    r = get(st2, (EVSE1, SETPOINT), (EVSE1, {"name": "Mode"}), (EVSE1, {"name": "Phases"}), (EVSE1, {"name": "Until"}))
    assert [x.get("attributeValue") for x in r] == ["42.5", "Boost", "L1,L3", None]
    assert st2.model.find(EVSE1, {"name": "Until"}).value == "2026-11-23T19:00:00.000Z"


def test_set_value_size_limits_string_values():
    st = kit.make([kit.var(name="Note", dtype="string", lo=None, hi=None, mut="ReadWrite")],
                  settings={"DeviceDataCtrlr.ValueSize": 10})
    assert status(set1(st, EVSE1, {"name": "Note"}, "x" * 11)) == ("Rejected", "ValueTooLarge")
    assert status(set1(st, EVSE1, {"name": "Note"}, "x" * 10)) == ("Accepted", None)


def test_a_set_is_evaluated_by_the_variables_monitors_at_once():
    st = kit.make([kit.var(name="Setpoint", lo=0, hi=100, mut="ReadWrite", value=10)])
    up = kit.setmon(st, "UpperThreshold", 40, variable=SETPOINT)["id"]
    kit.setmon(st, "Delta", 5, severity=7, variable=SETPOINT)
    kit.setmon(st, "Periodic", 3600, severity=8, variable=SETPOINT)
    kit.drain(st)
    set1(st, EVSE1, SETPOINT, "42")
    evs = kit.queued(st)                                           # queued by the set, no tick ran
    assert sorted(e["trigger"] for e in evs) == ["Alerting", "Delta"]
    assert [e["actualValue"] for e in evs] == ["42", "42"]
    assert [e for e in evs if e["trigger"] == "Alerting"][0]["variableMonitoringId"] == up
    kit.drain(st)
    st.tick()
    assert kit.queued(st) == []                                    # the tick does not fire them again
    set1(st, EVSE1, SETPOINT, "30")
    evs = kit.drain(st)
    assert [e.get("cleared") for e in evs if e["trigger"] == "Alerting"] == [True]


def test_a_set_while_monitoring_is_disabled_queues_nothing():
    st = kit.make([kit.var(name="Setpoint", lo=0, hi=100, mut="ReadWrite", value=10)])
    kit.setmon(st, "UpperThreshold", 40, variable=SETPOINT)
    set1(st, MON, {"name": "Enabled"}, "false")
    set1(st, EVSE1, SETPOINT, "42")
    assert kit.queued(st) == []


def test_connectors_of_one_evse_are_distinct_components():
    c1 = {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}
    c2 = {"name": "Connector", "evse": {"id": 1, "connectorId": 2}}
    st = kit.make([kit.var(comp=c1, name="Plugged", dtype="boolean", lo=None, hi=None, value=True),
                   kit.var(comp=c2, name="Plugged", dtype="boolean", lo=None, hi=None, value=False)])
    r = get(st, (c1, {"name": "Plugged"}), (c2, {"name": "Plugged"}),
            ({"name": "Connector", "evse": {"id": 1, "connectorId": 3}}, {"name": "Plugged"}))
    assert [x.get("attributeValue") for x in r] == ["true", "false", None]
    assert r[2]["attributeStatus"] == "UnknownComponent"


def test_controller_variables_are_found_by_their_parts_not_by_a_name_that_looks_alike():
    st = kit.make()
    r = get(st, (DD, {"name": "ItemsPerMessage[GetReport]"}), (DD, {"name": "ItemsPerMessage", "instance": ""}),
            ({"name": "DeviceDataCtrlr", "instance": "x"}, {"name": "ValueSize"}),
            ({"name": "DeviceDataCtrlr", "evse": {"id": 1}}, {"name": "ValueSize"}),
            (DD, {"name": "ValueSize", "instance": ""}), (COMM, {"name": "MessageTimeout", "instance": "Default"}))
    assert [x["attributeStatus"] for x in r] == ["UnknownVariable", "UnknownVariable", "UnknownComponent",
                                                 "UnknownComponent", "Accepted", "Accepted"]
    v = st.model.find(COMM, {"name": "MessageTimeout", "instance": "Default"})
    # Made when asked, then kept: a monitor holding it and a later find() see one object.
    assert v is st.model.find(COMM, {"name": "MessageTimeout", "instance": "Default"}) and v.ctrl and v.label() == \
        "OCPPCommCtrlr.MessageTimeout"
    assert v.value == st.model.ctrl("OCPPCommCtrlr.MessageTimeout[Default]") == 30
    assert v.component == COMM and v.variable == {"name": "MessageTimeout", "instance": "Default"}
    assert v.key == "OCPPCommCtrlr|||MessageTimeout|Default" and v.name == "OCPPCommCtrlr.MessageTimeout[Default]"
    assert (v.dtype, v.mutability, v.unit, v.min, v.max, v.values) == ("integer", "ReadWrite", "s", 1, 3600, None)
    assert v.numeric and v.monitorable and not v.summary and v.settable() and v.sensor is None
    assert not st.model.find(COMM, {"name": "FileTransferProtocols"}).monitorable


def test_monitors_on_controller_variables_see_their_values_and_survive_a_reboot():
    # A controller variable is an object only once asked for: its monitors must still
    # find the one variable (Duplicate, modify by id) and read the value SetVariables wrote.
    st = kit.make()
    hb = {"name": "HeartbeatInterval"}
    r = kit.setmon(st, "Delta", 10, comp=COMM, variable=hb)
    assert r["status"] == "Accepted"
    mid = r["id"]
    assert kit.setmon(st, "Delta", 20, comp=COMM, variable=hb)["status"] == "Duplicate"
    assert kit.setmon(st, "Delta", 15, comp=COMM, variable=hb, mid=mid)["status"] == "Accepted"
    r = kit.setmon(st, "UpperThreshold", 5, severity=3, comp=MON, variable={"name": "OfflineQueuingSeverity"})
    assert r["status"] == "Accepted"
    ev = kit.drain(st)       # 9 > 5: the new threshold fired at once
    assert [(e["trigger"], e["actualValue"], e["variable"]["name"]) for e in ev] == \
        [("Alerting", "9", "OfflineQueuingSeverity")]
    assert status(set1(st, COMM, hb, "400")) == ("Accepted", None)
    ev = kit.drain(st)
    assert [(e["trigger"], e["actualValue"], e["variableMonitoringId"]) for e in ev] == [("Delta", "400", mid)]
    import gc
    import compat
    st.tick()
    gc.collect()
    before = compat.mem_alloc()
    for _ in range(20):
        st.tick()
    if compat.IS_MPY:
        assert compat.mem_alloc() - before == 0
    assert kit.queued(st) == []
    st2 = kit.again(st)
    assert sorted(m[0] for m in st2.monitors.active) == sorted(m[0] for m in st.monitors.active)
    assert kit.setmon(st2, "Delta", 20, comp=COMM, variable=hb)["status"] == "Duplicate"
    assert status(set1(st2, COMM, hb, "300")) == ("Accepted", None)
    assert [e["actualValue"] for e in kit.drain(st2)] == ["300"]


def test_a_board_variable_may_not_take_a_controller_variables_place_but_may_sit_beside_it():
    from device import config
    e = support.raises(config.ConfigError, kit.make, [kit.var(comp=MON, name="Enabled", dtype="boolean",
                                                               lo=None, hi=None)])
    assert e.key == "variables" and "MonitoringCtrlr.Enabled" in e.why
    st = kit.make([kit.var(comp=MON, name="Extra", dtype="integer", lo=0, hi=5, mut="ReadWrite", value=3)])
    r = get(st, (MON, {"name": "Extra"}), (MON, {"name": "Enabled"}))
    assert [x.get("attributeValue") for x in r] == ["3", "true"]


def test_variables_alike_share_characteristics_but_1_and_1_0_stay_apart():
    c2 = {"name": "EVSE", "evse": {"id": 2}}
    st = kit.make([kit.var(), kit.var(comp=c2), kit.var(name="Other", lo=-40.0),
                   kit.var(name="Count", dtype="integer", lo=0, hi=10, mut="ReadWrite", value=1)])
    a, b, c, d = [st.model.find(s["component"], s["variable"]) for s in st.board["variables"]]
    assert a.ch is b.ch and a.ch is not c.ch
    assert type(c.min) is float and type(a.min) is int and a.numeric and d.numeric
    assert d.settable() and d.value == 1 and (d.min, d.max, d.mutability) == (0, 10, "ReadWrite")
    assert set1(st, EVSE1, {"name": "Count"}, "7")["attributeStatus"] == "Accepted" and d.value == 7
    assert kit.again(st).model.find(EVSE1, {"name": "Count"}).value == 7


def test_a_decimal_is_the_shortest_text_that_reads_back_as_the_same_number():
    from device import model as dm
    for v, t in ((21.1, "21.1"), (123456.7, "123456.7"), (21.1234567, "21.1234567"), (20.0, "20"),
                 (-0.5, "-0.5"), (1.5e-07, "1.5e-07"), (2.5e20, "2.5e+20"), (100.25, "100.25")):
        assert dm.text(v) == t, (v, dm.text(v))
    # No value is shown rounded onto another number; what is not a short decimal
    # shows the digits that tell it apart (17 at most on a double, 9 on float32).
    for v in (0.1 * 3, 21.5 - 2 ** -40, 1 / 3, 123456.7 + 2 ** -30, 16777217.5, -1e-300):
        t = dm.text(v)
        assert float(t) == v and len(t.replace("-", "").replace(".", "").split("e")[0].lstrip("0")) <= 17, t
    assert dm.text(float("inf")) == "inf" and dm.text(float("nan")) == "nan"
    r = get(kit.make([kit.var(name="Setpoint", mut="ReadWrite", value=21.1234567)]), (EVSE1, SETPOINT))
    assert r[0]["attributeValue"] == "21.1234567"


def test_the_model_of_a_four_sensor_board_stays_small_on_micropython():
    # 21 controller variables stored a dozen attributes, a key, a name and a variable
    # dict each: 14.7 KB for this board on the x64 port; 5.3 KB with one small object each
    # and a key string per board variable; 2.2 KB since (one list of the controller values,
    # lookups by scanning; the file paths included).
    import gc
    import sys
    if sys.implementation.name != "micropython":
        return
    import drivers
    from device import config, model
    from drivers import store
    d = support.tmpdir("heap")
    specs = []
    for i in range(4):
        write("%s/t%d" % (d, i), "20")
        specs.append(sensor_var("%s/t%d" % (d, i)))
        specs[-1]["component"] = {"name": "EVSE", "evse": {"id": i + 1}}
    b = kit.board(specs)
    b["storage"] = d + "/state"
    b["_dir"] = "."
    config.check(b)
    s = store.Store(b["storage"])
    m = model.Model(b, s, drivers.sensor)   # warm: names interned, modules loaded
    m = None
    gc.collect()
    a = gc.mem_alloc()
    m = model.Model(b, s, drivers.sensor)
    gc.collect()
    used = gc.mem_alloc() - a
    assert len(m.vars) == 8 and len(m.cv) == 21 and used < 2560, used


def test_the_controller_rows_read_by_number_are_the_named_ones():
    # station.py, diag/events.py and device/variables.py read Model.cv by row number (their
    # _X = const(n)), not by name.
    st = kit.make()
    for i, name in ((1, "MonitoringCtrlr.Enabled"), (6, "MonitoringCtrlr.OfflineQueuingSeverity"),
                    (8, "MonitoringCtrlr.ActiveMonitoringLevel"), (9, "MonitoringCtrlr.SampleInterval"), (10, "DeviceDataCtrlr.ItemsPerMessage[GetReport]"),
                    (11, "DeviceDataCtrlr.BytesPerMessage[GetReport]"),
                    (12, "DeviceDataCtrlr.ItemsPerMessage[GetVariables]"),
                    (13, "DeviceDataCtrlr.BytesPerMessage[GetVariables]"),
                    (14, "DeviceDataCtrlr.ItemsPerMessage[SetVariables]"),
                    (15, "DeviceDataCtrlr.BytesPerMessage[SetVariables]"),
                    (16, "DeviceDataCtrlr.ReportingValueSize"), (17, "DeviceDataCtrlr.ValueSize"),
                    (18, "OCPPCommCtrlr.HeartbeatInterval")):
        assert st.model.ci(name) == i, name
    for n in ("MonitoringCtrlr.Enabledx", "MonitoringCtrlr.Enable", "MonitoringCtrlr_Enabled",
              "DeviceDataCtrlr.ItemsPerMessage[GetReport", "DeviceDataCtrlr.ItemsPerMessage[GetReport)",
              "DeviceDataCtrlr.ItemsPerMessage", "DeviceDataCtrlr.ItemsPerMessage(GetReport]"):
        support.raises(KeyError, st.model.ci, n)
