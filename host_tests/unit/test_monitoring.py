"""N03-N08 on a real Station, in-process, on both runtimes. Test names carry the FR ids."""
import json

import compat
from compat import ticks_ms, ticks_add
from diag import monitors as mon
import stationkit as kit
import support
from stationkit import EVSE1, TEMP


def board_monitors():
    return [kit.var(monitors=[
        {"id": 1, "type": "UpperThreshold", "value": 90, "severity": 1, "origin": "HardWired"},
        {"id": 2, "type": "Delta", "value": 10, "severity": 6, "origin": "Preconfigured"}])]


# ---- N04 SetVariableMonitoring ---------------------------------------------------

def test_N04_FR01_FR02_one_result_per_element_in_order_echoing_the_element():
    st = kit.make()
    items = [{"value": 50, "type": "UpperThreshold", "severity": 5, "component": EVSE1, "variable": TEMP},
             {"value": -1, "type": "Delta", "severity": 5, "component": EVSE1, "variable": TEMP},
             {"value": 0, "type": "LowerThreshold", "severity": 4, "component": EVSE1, "variable": TEMP}]
    r = kit.call(st, "SetVariableMonitoring", {"setMonitoringData": items})["setMonitoringResult"]
    assert [x["status"] for x in r] == ["Accepted", "Rejected", "Accepted"]   # TC_N_43
    for item, res in zip(items, r):
        assert res["type"] == item["type"] and res["severity"] == item["severity"]
        assert res["component"] == item["component"] and res["variable"] == item["variable"]
    assert "id" not in r[1] and r[0]["id"] != r[2]["id"]


def test_N04_FR03_FR04_unknown_component_and_variable():
    st = kit.make()
    assert kit.setmon(st, "Delta", 1, comp={"name": "Nope"})["status"] == "UnknownComponent"
    assert kit.setmon(st, "Delta", 1, comp={"name": "EVSE", "evse": {"id": 9}})["status"] == "UnknownComponent"
    assert kit.setmon(st, "Delta", 1, variable={"name": "Nope"})["status"] == "UnknownVariable"


def test_N04_FR05_unsupported_monitor_type_on_a_string_variable():
    st = kit.make([kit.var(), kit.var(name="Model", dtype="string", lo=None, hi=None, value="x")])
    r = kit.setmon(st, "UpperThreshold", 5, variable={"name": "Model"})
    assert r["status"] == "UnsupportedMonitorType"
    assert kit.setmon(st, "Delta", 1, variable={"name": "Model"})["status"] == "Accepted"


def test_N04_FR06_threshold_outside_min_max_rejected_at_the_limit_accepted():
    st = kit.make()
    assert kit.setmon(st, "UpperThreshold", 150.5)["status"] == "Rejected"
    assert kit.setmon(st, "LowerThreshold", -41)["status"] == "Rejected"
    assert kit.setmon(st, "UpperThreshold", 150)["status"] == "Accepted"


def test_N04_FR08_FR11_accepted_with_a_station_generated_id():
    st = kit.make(board_monitors())
    r = kit.setmon(st, "UpperThreshold", 60)
    assert r["status"] == "Accepted" and r["id"] > 2
    assert mon.origin(st.monitors.get(r["id"])) == mon.CUSTOM


def test_N04_FR09_items_and_bytes_per_message_give_callerrors():
    from protocol.codec import CallError
    import support
    st = kit.make(settings={"MonitoringCtrlr.ItemsPerMessage[SetVariableMonitoring]": 2,
                            "MonitoringCtrlr.BytesPerMessage[SetVariableMonitoring]": 400})
    item = {"value": 50, "type": "UpperThreshold", "severity": 5, "component": EVSE1, "variable": TEMP}
    e = support.raises(CallError, kit.call, st, "SetVariableMonitoring", {"setMonitoringData": [item] * 3})
    assert e.code == "OccurrenceConstraintViolation"
    big = dict(item)
    big["component"] = {"name": "EVSE", "instance": "x" * 50, "evse": {"id": 1}}
    big["variable"] = {"name": "Temperature", "instance": "y" * 50}
    e = support.raises(CallError, kit.call, st, "SetVariableMonitoring", {"setMonitoringData": [big, big]})
    assert e.code == "FormatViolation"


def test_N04_FR10_same_type_and_severity_is_duplicate_other_severity_is_not():
    st = kit.make()
    assert kit.setmon(st, "Delta", 5, severity=8)["status"] == "Accepted"
    assert kit.setmon(st, "Delta", 5, severity=7)["status"] == "Accepted"     # TC_N_10
    assert kit.setmon(st, "Delta", 3, severity=8)["status"] == "Duplicate"


def test_N04_FR12_replace_by_id_keeps_the_id():
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 60)["id"]
    r = kit.setmon(st, "UpperThreshold", 70, severity=3, mid=mid)
    assert r["status"] == "Accepted" and r["id"] == mid
    m = st.monitors.get(mid)
    assert m[mon.M_VALUE] == 70 and mon.sev(m) == 3
    assert len([x for x in st.monitors.active if mon.origin(x) == mon.CUSTOM]) == 1


def test_N04_FR13_unknown_id_rejected():
    st = kit.make()
    r = kit.setmon(st, "UpperThreshold", 60, mid=999)
    assert r["status"] == "Rejected" and "id" not in r


def test_N04_FR14_negative_delta_rejected():
    st = kit.make()
    r = kit.setmon(st, "Delta", -1)                                           # TC_N_12
    assert r["status"] == "Rejected" and r["statusInfo"]["reasonCode"] == "ValuePositiveOnly"


def test_N04_FR15_replaced_preconfigured_monitor_becomes_custom_until_factory_default():
    st = kit.make(board_monitors())
    r = kit.setmon(st, "Delta", 10, severity=7, mid=2)                         # TC_N_41
    assert r["status"] == "Accepted" and r["id"] == 2
    m = st.monitors.get(2)
    assert mon.origin(m) == mon.CUSTOM and mon.sev(m) == 7
    kit.call(st, "SetMonitoringBase", {"monitoringBase": "FactoryDefault"})
    m = st.monitors.get(2)
    assert mon.origin(m) == mon.PRECONF and mon.sev(m) == 6


PRE_UPPER = {"id": 102, "type": "UpperThreshold", "value": 60, "severity": 4, "origin": "Preconfigured"}


def _back(st, how):
    """Remove the override of monitor 102 (2, 3): by ClearVariableMonitoring or FactoryDefault."""
    if how == "clear":
        for mid in (2, 3, 102):
            if st.monitors.get(mid) and mon.origin(st.monitors.get(mid)) == mon.CUSTOM:
                assert kit.call(st, "ClearVariableMonitoring", {"id": [mid]})["clearMonitoringResult"][0]["status"] == "Accepted"
    else:
        kit.call(st, "SetMonitoringBase", {"monitoringBase": how})


def test_N04_FR15_a_preconfigured_threshold_back_after_its_override_starts_untripped():
    # The override's events told the CSMS cleared=true for id 102, and removing a
    # monitor ends its alert (N07.FR.12): the Preconfigured threshold comes back
    # as a new monitor, so a value beyond it is an alert, then a clear.
    for how in ("clear", "FactoryDefault"):
        st = kit.make([kit.var(monitors=[PRE_UPPER])])
        kit.push(st, 70)
        assert [(e["variableMonitoringId"], e["eventNotificationType"], e["cleared"]) for e in kit.drain(st)] == \
            [(102, "PreconfiguredMonitor", False)]
        kit.setmon(st, "UpperThreshold", 80, mid=102)
        assert [(e["eventNotificationType"], e["cleared"]) for e in kit.drain(st)] == [("CustomMonitor", True)]
        _back(st, how)
        assert mon.origin(st.monitors.get(102)) == mon.PRECONF
        kit.push(st, 70)
        kit.push(st, 70)
        assert [(e["variableMonitoringId"], e["eventNotificationType"], e["cleared"]) for e in kit.drain(st)] == \
            [(102, "PreconfiguredMonitor", False)], how
        assert st.store.load("trips.json") == [102]
        kit.push(st, 50)
        assert [(e["variableMonitoringId"], e["cleared"]) for e in kit.drain(st)] == [(102, True)], how
        assert st.store.load("trips.json") == []


def test_N04_FR15_N03_a_preconfigured_delta_or_periodic_back_on_starts_anew():
    import time
    pre = [{"id": 2, "type": "Delta", "value": 10, "severity": 6, "origin": "Preconfigured"},
           {"id": 3, "type": "Periodic", "value": 60, "severity": 6, "origin": "Preconfigured"}]
    for how in ("clear", "FactoryDefault", "All"):
        st = kit.make([kit.var(monitors=pre)])
        kit.push(st, 20)                                       # the Delta's reference: 20
        if how == "All":
            kit.call(st, "SetMonitoringBase", {"monitoringBase": "HardWiredOnly"})
        else:
            kit.setmon(st, "Delta", 50, severity=7, mid=2)
            kit.setmon(st, "Periodic", 120, severity=7, mid=3)
        kit.push(st, 40)
        kit.drain(st)
        time.sleep(0.02)
        t1 = ticks_ms()
        _back(st, how)
        t2 = ticks_ms()
        kit.push(st, 45)                                       # from 40, the value when it came back
        assert kit.drain(st) == [], how
        due = st.monitors.get(3)[mon.M_DUE]                    # 60 s from when it came back
        assert compat.ticks_diff(due, ticks_add(t1, 60000)) >= 0 and compat.ticks_diff(ticks_add(t2, 60000), due) >= 0, how
        kit.push(st, 56)
        assert [(e["variableMonitoringId"], e["trigger"]) for e in kit.drain(st)] == [(2, "Delta")], how


def test_N04_FR15_N07_FR14_a_preconfigured_threshold_back_across_reboots():
    for early in (False, True):
        st = kit.make([kit.var(monitors=[PRE_UPPER])])
        kit.push(st, 70)
        kit.drain(st)
        kit.setmon(st, "UpperThreshold", 80, mid=102)          # cleared by the override
        kit.drain(st)
        if early:
            st = kit.again(st)                                 # the override and its state persist
            kit.push(st, 70)
            assert kit.drain(st) == []
        kit.call(st, "ClearVariableMonitoring", {"id": [102]})
        st = kit.again(st)                                     # what storage holds: not tripped
        kit.push(st, 70)
        assert [(e["variableMonitoringId"], e["eventNotificationType"], e["cleared"]) for e in kit.drain(st)] == \
            [(102, "PreconfiguredMonitor", False)], early
        st = kit.again(st)                                     # tripped before the reboot: cleared after it
        kit.push(st, 70)
        assert kit.drain(st) == []
        kit.push(st, 50)
        assert [(e["variableMonitoringId"], e["eventNotificationType"], e["cleared"]) for e in kit.drain(st)] == \
            [(102, "PreconfiguredMonitor", True)], early


def test_N04_FR16_an_id_cannot_move_to_another_variable():
    st = kit.make([kit.var(), kit.var(name="Voltage", lo=0, hi=500)])
    mid = kit.setmon(st, "UpperThreshold", 60)["id"]
    r = kit.setmon(st, "UpperThreshold", 60, variable={"name": "Voltage"}, mid=mid)   # TC_N_39
    assert r["status"] == "Rejected"
    assert st.monitors.get(mid)[mon.M_VAR].variable == TEMP


def test_N04_FR18_hardwired_id_rejected():
    st = kit.make(board_monitors())
    assert kit.setmon(st, "UpperThreshold", 80, mid=1)["status"] == "Rejected"
    assert st.monitors.get(1)[mon.M_VALUE] == 90


def test_N04_FR17_non_numeric_delta_value_ignored():
    st = kit.make([kit.var(), kit.var(name="State", dtype="string", lo=None, hi=None, value="A")])
    r = kit.setmon(st, "Delta", 42, variable={"name": "State"})
    assert r["status"] == "Accepted"
    assert st.monitors.get(r["id"])[mon.M_VALUE] == 1


def test_N04_custom_monitors_persist_across_reboot_FR19_N07_FR13():
    st = kit.make(board_monitors())
    mid = kit.setmon(st, "LowerThreshold", 5, severity=2)["id"]
    st2 = kit.again(st)
    m = st2.monitors.get(mid)                                                   # TC_N_53
    assert m is not None and mon.kind(m) == mon.LOWER and m[mon.M_VALUE] == 5 and mon.sev(m) == 2
    assert kit.setmon(st2, "Delta", 1)["id"] > mid    # ids are not reused after a reboot


# ---- N06 ClearVariableMonitoring --------------------------------------------------

def test_N06_FR01_FR02_FR03_FR05_one_result_per_id():
    st = kit.make(board_monitors())
    mid = kit.setmon(st, "UpperThreshold", 60)["id"]
    r = kit.call(st, "ClearVariableMonitoring", {"id": [mid, 777, 1, mid]})["clearMonitoringResult"]
    assert [(x["id"], x["status"]) for x in r] == [(mid, "Accepted"), (777, "NotFound"), (1, "Rejected"),
                                                    (mid, "NotFound")]


def test_N06_FR06_FR07_too_many_ids_or_bytes():
    from protocol.codec import CallError
    import support
    st = kit.make(settings={"MonitoringCtrlr.ItemsPerMessage[ClearVariableMonitoring]": 10,
                            "MonitoringCtrlr.BytesPerMessage[ClearVariableMonitoring]": 100})
    e = support.raises(CallError, kit.call, st, "ClearVariableMonitoring", {"id": list(range(11))})
    assert e.code == "OccurrenceConstraintViolation"
    e = support.raises(CallError, kit.call, st, "ClearVariableMonitoring", {"id": [1234567890123] * 8})
    assert e.code == "FormatViolation"
    r = kit.call(st, "ClearVariableMonitoring", {"id": [1, 2]})
    assert len(r["clearMonitoringResult"]) == 2


def test_N06_cleared_monitor_never_fires_and_sends_no_cleared_event_N07_FR12():
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 60)
    assert [e["variableMonitoringId"] for e in kit.drain(st)] == [mid]
    kit.call(st, "ClearVariableMonitoring", {"id": [mid]})
    kit.push(st, 40)
    kit.push(st, 70)
    assert kit.drain(st) == []                                                  # TC_N_52


# ---- N03 SetMonitoringBase ----------------------------------------------------------

def test_N03_FR03_all_keeps_customs_and_activates_preconfigured():
    st = kit.make(board_monitors())
    kit.call(st, "SetMonitoringBase", {"monitoringBase": "HardWiredOnly"})
    assert st.monitors.get(2) is None
    mid = kit.setmon(st, "LowerThreshold", 0)["id"]
    assert kit.call(st, "SetMonitoringBase", {"monitoringBase": "All"}) == {"status": "Accepted"}
    assert st.monitors.get(2) is not None and st.monitors.get(mid) is not None
    assert st.model.ctrl("MonitoringCtrlr.ActiveMonitoringBase") == "All"


def test_N03_FR04_factory_default_deletes_customs_restores_preconfigured():
    st = kit.make(board_monitors())
    mid = kit.setmon(st, "LowerThreshold", 0)["id"]
    kit.setmon(st, "Delta", 20, severity=6, mid=2)
    kit.call(st, "SetMonitoringBase", {"monitoringBase": "FactoryDefault"})
    assert st.monitors.get(mid) is None
    assert st.monitors.get(2)[mon.M_VALUE] == 10
    assert sorted(m[mon.M_ID] for m in st.monitors.active) == [1, 2]


def test_N03_FR05_hardwired_only_and_it_persists():
    st = kit.make(board_monitors())
    kit.setmon(st, "LowerThreshold", 0)
    kit.call(st, "SetMonitoringBase", {"monitoringBase": "HardWiredOnly"})
    assert [m[mon.M_ID] for m in st.monitors.active] == [1]
    st2 = kit.again(st)
    assert [m[mon.M_ID] for m in st2.monitors.active] == [1]
    assert st2.model.ctrl("MonitoringCtrlr.ActiveMonitoringBase") == "HardWiredOnly"


# ---- N05 SetMonitoringLevel -----------------------------------------------------------

def test_N05_FR01_FR02_level_range_and_persistence():
    st = kit.make()
    for s in (0, 9, 4):
        assert kit.call(st, "SetMonitoringLevel", {"severity": s}) == {"status": "Accepted"}
    for s in (10, -1):
        assert kit.call(st, "SetMonitoringLevel", {"severity": s})["status"] == "Rejected"
    assert kit.again(st).model.ctrl("MonitoringCtrlr.ActiveMonitoringLevel") == 4


def test_N05_FR03_N07_FR15_only_severity_at_or_below_level_reports():
    st = kit.make()
    kit.setmon(st, "UpperThreshold", 50, severity=3)
    kit.setmon(st, "UpperThreshold", 50, severity=6)
    kit.call(st, "SetMonitoringLevel", {"severity": 5})
    kit.push(st, 60)
    evs = kit.drain(st)
    assert len(evs) == 1 and mon.sev(st.monitors.get(evs[0]["variableMonitoringId"])) == 3


# ---- N07 alerts ---------------------------------------------------------------------------

def test_N07_FR16_FR17_strictly_above_or_below_once_then_cleared_FR02():
    st = kit.make()
    up = kit.setmon(st, "UpperThreshold", 50)["id"]
    lo = kit.setmon(st, "LowerThreshold", 10)["id"]
    for v in (50, 10, 30):
        kit.push(st, v)
    assert kit.drain(st) == []           # equal to the threshold never fires
    kit.push(st, 50.1)
    kit.push(st, 70)
    kit.push(st, 99)
    evs = kit.drain(st)
    assert len(evs) == 1 and evs[0]["variableMonitoringId"] == up and evs[0]["cleared"] is False
    assert evs[0]["trigger"] == "Alerting" and evs[0]["actualValue"] == "50.1"
    kit.push(st, 50)
    evs = kit.drain(st)
    assert len(evs) == 1 and evs[0]["cleared"] is True and evs[0]["actualValue"] == "50"
    kit.push(st, 9.5)
    kit.push(st, 11)
    evs = kit.drain(st)
    assert [(e["variableMonitoringId"], e["cleared"]) for e in evs] == [(lo, False), (lo, True)]


def test_N07_FR05_FR06_event_fields_and_unique_increasing_ids():
    st = kit.make(board_monitors())
    kit.push(st, 20)
    kit.push(st, 95)
    evs = kit.drain(st)
    kinds = sorted((e["variableMonitoringId"], e["eventNotificationType"], e["trigger"]) for e in evs)
    assert kinds == [(1, "HardWiredMonitor", "Alerting"), (2, "PreconfiguredMonitor", "Delta")]
    for e in evs:
        assert e["component"] == EVSE1 and e["variable"] == TEMP
        assert compat.parse_iso(e["timestamp"]) is not None
    ids = [e["eventId"] for e in evs]
    assert len(set(ids)) == 2 and ids == sorted(ids)
    kit.push(st, 20)
    later = kit.drain(st)
    assert min(e["eventId"] for e in later) > max(ids)


def test_N07_event_ids_stay_unique_across_reboot():
    st = kit.make()
    kit.setmon(st, "Delta", 1)
    kit.push(st, 1)
    kit.push(st, 5)
    first = kit.drain(st)[0]["eventId"]
    st2 = kit.again(st)
    kit.push(st2, 1)
    kit.push(st2, 9)
    assert kit.drain(st2)[0]["eventId"] > first


def test_N07_FR07_events_of_one_tick_travel_together():
    st = kit.make()
    kit.setmon(st, "UpperThreshold", 50, severity=5)
    kit.setmon(st, "UpperThreshold", 40, severity=4)
    kit.setmon(st, "Delta", 1, severity=5)
    kit.push(st, 20)
    kit.drain(st)
    kit.push(st, 60)
    names = kit.pending(st)
    assert len(names) == 3 and len(set(n[11:21] for n in names)) == 1
    take, text, more = st.outbox._page(0)
    p = json.loads(text)
    assert len(take) == 3 and len(p["eventData"]) == 3 and not more and "tbc" not in p


def test_N07_FR10_writeonly_variable_reports_empty_actual_value():
    st = kit.make([kit.var(name="Secret", mut="WriteOnly")])
    kit.setmon(st, "UpperThreshold", 5, variable={"name": "Secret"})
    kit.push(st, 10, variable={"name": "Secret"})
    assert kit.drain(st)[0]["actualValue"] == ""


def test_N07_actual_value_truncated_to_reporting_value_size():
    st = kit.make([kit.var(name="Text", dtype="string", lo=None, hi=None, value="")],
                  settings={"DeviceDataCtrlr.ReportingValueSize": 20})
    kit.setmon(st, "Delta", 1, variable={"name": "Text"})
    kit.push(st, "a" * 3000, variable={"name": "Text"})
    assert kit.drain(st)[0]["actualValue"] == "a" * 20


def test_N07_actual_value_reads_back_as_the_value_so_it_never_contradicts_its_threshold():
    st = kit.make([kit.var(name="Energy", lo=None, hi=None)])
    E = {"name": "Energy"}
    kit.setmon(st, "LowerThreshold", 123457, variable=E)
    kit.push(st, 123458.0, variable=E)
    kit.push(st, 123456.7, variable=E)                     # below 123457: not "123457"
    kit.push(st, 123457.0, variable=E)
    assert [(e["cleared"], e["actualValue"]) for e in kit.drain(st)] == [(False, "123456.7"), (True, "123457")]
    up = kit.setmon(st, "UpperThreshold", 0.3, variable=E)["id"]
    kit.push(st, 0.1 * 3, variable=E)                      # 0.30000000000000004 is above 0.3
    evs = [e for e in kit.drain(st) if e["variableMonitoringId"] == up]
    assert len(evs) == 1 and float(evs[0]["actualValue"]) > 0.3


def test_N07_FR11_modified_threshold_is_rechecked_at_once():
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 60)
    assert len(kit.drain(st)) == 1
    kit.setmon(st, "UpperThreshold", 70, mid=mid)          # 60 is now inside: cleared
    evs = kit.drain(st)
    assert len(evs) == 1 and evs[0]["cleared"] is True
    kit.setmon(st, "UpperThreshold", 55, mid=mid)          # and outside again: alert
    evs = kit.drain(st)
    assert len(evs) == 1 and evs[0]["cleared"] is False
    new = kit.setmon(st, "LowerThreshold", 65)["id"]       # a new monitor fires at once too
    evs = kit.drain(st)
    assert [e["variableMonitoringId"] for e in evs] == [new]


def _ev(st):
    return [(e["variableMonitoringId"], e["trigger"], e.get("cleared")) for e in kit.drain(st)]


def test_N07_FR11_a_tripped_threshold_changed_to_the_other_threshold_type():
    # The CSMS has one alert open per monitor id (the threshold state machine:
    # crossing, then one cleared=true, no repeat between). A type change keeps it:
    # the new condition no longer holding closes it, still holding keeps it open.
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 60)
    assert _ev(st) == [(mid, "Alerting", False)]
    kit.setmon(st, "LowerThreshold", 10, mid=mid)          # 60 is not below 10: cleared
    assert _ev(st) == [(mid, "Alerting", True)]
    assert st.store.load("trips.json") == []
    kit.push(st, 60)
    assert _ev(st) == []
    kit.push(st, 5)                                        # the new condition, from a clear state
    assert _ev(st) == [(mid, "Alerting", False)]
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 60)
    kit.drain(st)
    kit.setmon(st, "LowerThreshold", 70, mid=mid)          # 60 is below 70: the alert stays open
    assert _ev(st) == []
    assert st.store.load("trips.json") == [mid]
    kit.push(st, 65)
    assert _ev(st) == []
    kit.push(st, 80)
    assert _ev(st) == [(mid, "Alerting", True)]


def test_N07_FR11_a_tripped_threshold_changed_to_delta_or_periodic_sends_cleared():
    for t, x in (("Delta", 5), ("Periodic", 60), ("PeriodicClockAligned", 900)):
        st = kit.make()
        mid = kit.setmon(st, "UpperThreshold", 50)["id"]
        kit.push(st, 60)
        kit.drain(st)
        assert kit.setmon(st, t, x, mid=mid)["status"] == "Accepted"
        evs = kit.drain(st)
        assert [(e["variableMonitoringId"], e["trigger"], e["cleared"]) for e in evs] == [(mid, "Alerting", True)], t
        assert st.store.load("trips.json") == []
        kit.push(st, 61)                                   # within the Delta, and below 50:
        kit.push(st, 58)                                   # no threshold event any more
        assert _ev(st) == [], t
    # An untripped threshold changed to a Delta sends nothing.
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 40)
    kit.setmon(st, "Delta", 5, mid=mid)
    kit.push(st, 42)
    assert _ev(st) == []


def test_N07_FR11_FR14_a_modified_threshold_keeps_its_open_alert_across_a_reboot():
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 60)
    kit.drain(st)
    kit.setmon(st, "LowerThreshold", 70, mid=mid)          # still alerting: no event
    assert kit.drain(st) == []
    st2 = kit.again(st)
    kit.push(st2, 60)
    assert _ev(st2) == []
    kit.push(st2, 75)
    assert _ev(st2) == [(mid, "Alerting", True)]
    # The cleared=true of a threshold turned into a Delta is owed until sent: a
    # power cut after the change was stored and before its event was queued
    # sends it after the reboot.
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 60)
    kit.drain(st)
    v = st.model.find(EVSE1, TEMP)
    st.monitors.install(mon.new(mid, mon.DELTA, 5, 5, mon.CUSTOM, v))   # stored; no recheck yet
    assert st.store.load("trips.json") == [mid]
    st2 = kit.again(st)
    kit.push(st2, 60)
    assert _ev(st2) == [(mid, "Alerting", True)]
    kit.push(st2, 62)
    assert _ev(st2) == []
    assert kit.again(st2).store.load("trips.json") == []


def test_N07_FR12_removing_a_tripped_monitor_sends_no_cleared():
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 60)
    kit.drain(st)
    kit.call(st, "ClearVariableMonitoring", {"id": [mid]})
    kit.push(st, 10)
    assert kit.drain(st) == []


def test_N07_FR14_tripped_before_reboot_cleared_after_it():
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 60)
    kit.drain(st)
    st2 = kit.again(st)
    kit.push(st2, 60)
    assert kit.drain(st2) == []           # still tripped: no second alert
    kit.push(st2, 40)
    evs = kit.drain(st2)
    assert len(evs) == 1 and evs[0]["variableMonitoringId"] == mid and evs[0]["cleared"] is True


def test_N07_FR14_a_new_monitor_tripping_at_once_keeps_the_others_trip_state_on_storage():
    # N07.FR.11 evaluates a new monitor at once; what storage holds after it
    # is every tripped threshold, the older one included.
    st = kit.make()
    first = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 60)
    kit.drain(st)
    second = kit.setmon(st, "UpperThreshold", 55, severity=4)["id"]   # tripped by the recheck alone
    assert [e["variableMonitoringId"] for e in kit.drain(st)] == [second]
    assert sorted(st.store.load("trips.json", [])) == sorted([first, second])
    st2 = kit.again(st)
    kit.push(st2, 40)
    evs = kit.drain(st2)
    assert sorted(e["variableMonitoringId"] for e in evs) == sorted([first, second])
    assert all(e["cleared"] is True for e in evs)


class Cut(Exception):
    """The power goes: nothing after the point that raises it happens."""


def _cut(*args):
    raise Cut()


def _trip_writes(st):
    """At each write of trips.json, the number of events the outbox holds."""
    seen = []
    save = st.store.save

    def spy(name, obj):
        if name == "trips.json":
            seen.append(len(kit.pending(st)))
        save(name, obj)
    st.store.save = spy
    return seen


def test_N07_FR14_a_cut_before_an_alert_or_its_clear_is_queued_loses_neither():
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 20)
    kit.drain(st)
    st.outbox.post = _cut                   # the power goes before the alert reaches the outbox
    st.push(EVSE1, TEMP, 60)
    support.raises(Cut, st.tick)
    assert st.store.load("trips.json") == []
    st2 = kit.again(st)
    kit.push(st2, 60)
    assert _ev(st2) == [(mid, "Alerting", False)]
    st2.outbox.post = _cut                  # and before its clear does
    st2.push(EVSE1, TEMP, 40)
    support.raises(Cut, st2.tick)
    assert st2.store.load("trips.json") == [mid]
    st3 = kit.again(st2)
    kit.push(st3, 40)
    assert _ev(st3) == [(mid, "Alerting", True)]


def test_N07_FR11_FR14_a_cut_before_the_clear_of_a_modified_threshold_is_queued_sends_it_after():
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 60)
    kit.drain(st)
    st.outbox.post = _cut
    support.raises(Cut, kit.setmon, st, "Delta", 5, mid=mid)   # stored, its cleared=true not queued
    assert st.store.load("trips.json") == [mid]
    st2 = kit.again(st)
    kit.push(st2, 60)
    assert _ev(st2) == [(mid, "Alerting", True)]


def test_N07_FR14_a_cut_after_the_alert_is_queued_and_before_its_trip_state_gives_a_duplicate():
    st = kit.make()
    mid = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.push(st, 20)
    kit.drain(st)
    st.monitors.save_trips = _cut           # the power goes between the outbox and trips.json
    st.push(EVSE1, TEMP, 60)
    support.raises(Cut, st.tick)
    first = kit.queued(st)
    assert [(e["variableMonitoringId"], e["cleared"]) for e in first] == [(mid, False)]
    st2 = kit.again(st)
    kit.push(st2, 60)                       # the same alert again, under a new eventId
    evs = kit.drain(st2)
    assert [(e["variableMonitoringId"], e["cleared"]) for e in evs] == [(mid, False), (mid, False)]
    assert evs[0]["eventId"] < evs[1]["eventId"]
    kit.push(st2, 40)
    assert _ev(st2) == [(mid, "Alerting", True)]


def test_N07_FR14_trip_states_are_written_once_after_their_events_are_in_the_outbox():
    st = kit.make([kit.var(), kit.var(name="Setpoint", lo=0, hi=100, mut="ReadWrite", value=10)])
    sp = {"name": "Setpoint"}
    a = kit.setmon(st, "UpperThreshold", 50)["id"]
    b = kit.setmon(st, "UpperThreshold", 55, severity=4)["id"]
    c = kit.setmon(st, "UpperThreshold", 40, variable=sp)["id"]
    kit.push(st, 20)
    kit.drain(st)
    seen = _trip_writes(st)
    kit.push(st, 60)                        # the tick: two trips, one write, after both events
    assert seen == [2]
    assert sorted(st.store.load("trips.json")) == sorted([a, b])
    kit.drain(st)
    del seen[:]
    kit.setmon(st, "UpperThreshold", 70, mid=a)          # SetVariableMonitoring's recheck: a clears
    assert seen[-1] == 1 and sorted(st.store.load("trips.json")) == [b]
    kit.drain(st)
    del seen[:]
    kit.call(st, "SetVariables", {"setVariableData": [
        {"component": EVSE1, "variable": sp, "attributeValue": "42"}]})   # SetVariables' recheck
    assert seen == [1] and sorted(st.store.load("trips.json")) == sorted([b, c])


def test_N04_transaction_monitor_counts_only_while_a_transaction_runs():
    st = kit.make()
    item = {"value": 50, "type": "UpperThreshold", "severity": 5, "component": EVSE1, "variable": TEMP,
            "transaction": True}
    mid = kit.call(st, "SetVariableMonitoring", {"setMonitoringData": [item]})["setMonitoringResult"][0]["id"]
    kit.push(st, 60)
    assert kit.drain(st) == []                     # over, but no transaction
    st.monitors.set_transaction(1, "tx-1")
    kit.push(st, 60)                               # the same value: now it counts
    evs = kit.drain(st)
    assert [(e["variableMonitoringId"], e["cleared"], e["transactionId"]) for e in evs] == [(mid, False, "tx-1")]
    st.monitors.set_transaction(1, None)
    kit.push(st, 40)
    assert kit.drain(st) == []                     # back in range after the transaction: nothing
    st.monitors.set_transaction(2, "tx-2")
    kit.push(st, 40)
    assert [e["cleared"] for e in kit.drain(st)] == [True]


def test_N04_a_new_monitor_beyond_the_boards_max_monitors_is_rejected():
    # Each monitor takes RAM and flash: the board bounds them (board ones included).
    st = kit.make(max_monitors=3)
    ids = [kit.setmon(st, "UpperThreshold", 50 + i, severity=i)["id"] for i in range(3)]
    r = kit.setmon(st, "UpperThreshold", 60, severity=7)
    assert r["status"] == "Rejected" and r["statusInfo"] == {"reasonCode": "TooManyMonitors"}
    assert kit.setmon(st, "UpperThreshold", 70, severity=0, mid=ids[0])["status"] == "Accepted"  # a change
    kit.call(st, "ClearVariableMonitoring", {"id": [ids[1]]})
    assert kit.setmon(st, "UpperThreshold", 60, severity=7)["status"] == "Accepted"
    assert len(kit.again(st).monitors.active) == 3


def test_N02_N04_threshold_value_kept_as_given_int_or_decimal():
    st = kit.make()
    a = kit.setmon(st, "UpperThreshold", 50)["id"]
    b = kit.setmon(st, "LowerThreshold", 10.5)["id"]
    assert [type(st.monitors.get(i)[mon.M_VALUE]) for i in (a, b)] == [int, float]
    rows = [r for r in kit.again(st).store.rows("monitors.jsonl") if type(r) is list]
    assert [(r[0], r[2], type(r[2])) for r in rows] == [(a, 50, int), (b, 10.5, float)]


def test_N07_FR18_numeric_delta_reference_moves_with_each_event():
    st = kit.make()
    mid = kit.setmon(st, "Delta", 10)["id"]
    fired = []
    for v in range(20, 61, 2):            # a steady drift of 40 fires once per step above 10
        kit.push(st, v)
        fired.extend(e["actualValue"] for e in kit.drain(st))
    assert fired == ["32", "44", "56"]
    kit.push(st, 46)                     # down by exactly 10: not more than delta
    kit.push(st, 45.5)
    evs = kit.drain(st)
    assert [e["actualValue"] for e in evs] == ["45.5"] and "cleared" not in evs[0]
    assert evs[0]["trigger"] == "Delta" and evs[0]["variableMonitoringId"] == mid


def test_N07_FR19_non_numeric_delta_fires_on_any_change():
    st = kit.make([kit.var(name="State", dtype="string", lo=None, hi=None, value="Idle"),
                   kit.var(name="Plugged", dtype="boolean", lo=None, hi=None, value=False)])
    kit.setmon(st, "Delta", 1, variable={"name": "State"})
    kit.setmon(st, "Delta", 1, variable={"name": "Plugged"})
    kit.push(st, "Idle", variable={"name": "State"})
    assert kit.drain(st) == []
    kit.push(st, "Charging", variable={"name": "State"})
    kit.push(st, True, variable={"name": "Plugged"})
    assert [e["actualValue"] for e in kit.drain(st)] == ["Charging", "true"]


def test_N07_FR04_offline_queue_by_offline_queuing_severity():
    st = kit.make(online=False, settings={"MonitoringCtrlr.OfflineQueuingSeverity": 4})
    kit.setmon(st, "UpperThreshold", 50, severity=4)
    kit.setmon(st, "UpperThreshold", 50, severity=5)       # TC_N_23: OfflineQueuingSeverity + 1
    kit.push(st, 60)
    evs = kit.drain(st)
    assert len(evs) == 1 and mon.sev(st.monitors.get(evs[0]["variableMonitoringId"])) == 4


def test_N07_offline_queue_survives_reboot_in_order():
    st = kit.make(online=False)
    kit.setmon(st, "Delta", 1)
    for v in (1, 5, 9, 13):
        kit.push(st, v)
    st2 = kit.again(st, online=False)
    evs = kit.queued(st2)
    assert [e["actualValue"] for e in evs] == ["5", "9", "13"]
    assert st2.outbox.count == 3


def test_N07_full_queue_drops_least_severe_first_and_logs_it():
    st = kit.make(online=False, queue_size=3)
    kit.setmon(st, "Delta", 1, severity=2)
    kit.setmon(st, "Delta", 1, severity=8)
    kit.push(st, 0)
    kit.push(st, 5)      # 2 events (sev 2 and 8)
    kit.push(st, 10)     # 2 more: the queue holds 3 -> a severity-8 one goes
    sevs = sorted(mon.sev(st.monitors.get(e["variableMonitoringId"])) for e in kit.queued(st))
    assert sevs == [2, 2, 8]
    kit.push(st, 15)     # severity 2 again: the severity-8 one goes, then the new sev 8 is dropped
    sevs = sorted(mon.sev(st.monitors.get(e["variableMonitoringId"])) for e in kit.queued(st))
    assert sevs == [2, 2, 2]
    assert st.outbox.dropped == 3
    assert "outbox full" in "".join(ln for t, ln in st.log.lines())


def test_a_full_outbox_drops_the_oldest_of_its_least_severe_events():
    st = kit.make(online=False, queue_size=3)
    kit.setmon(st, "Delta", 1, severity=8)
    kit.setmon(st, "Delta", 1, severity=2)
    kit.push(st, 0)
    kit.push(st, 5)      # events 1 (sev 8) and 2 (sev 2)
    kit.push(st, 10)     # 3 (sev 8), then 4 (sev 2) makes room: event 1 goes, the oldest sev 8
    assert [e["eventId"] for e in kit.queued(st)] == [2, 3, 4]
    kit.push(st, 15)     # 5 (sev 8) takes 3's place, 6 (sev 2) takes 5's
    assert [e["eventId"] for e in kit.queued(st)] == [2, 4, 6]
    assert st.outbox.dropped == 3


def test_a_queue_size_lowered_since_the_events_were_queued_holds_at_boot():
    # The bound holds from the boot on, by the same rule: least severe first, oldest first.
    st = kit.make(online=False)
    kit.setmon(st, "Delta", 1, severity=8)
    kit.setmon(st, "Delta", 1, severity=2)
    for v in (0, 5, 10, 15):
        kit.push(st, v)      # events 1, 3, 5 (sev 8) and 2, 4, 6 (sev 2)
    assert st.outbox.count == 6
    st.board["queue_size"] = 3
    st2 = kit.again(st, online=False)
    assert [e["eventId"] for e in kit.queued(st2)] == [2, 4, 6] and st2.outbox.count == 3
    assert len([ln for t, ln in st2.log.lines() if "outbox over queue_size" in ln]) == 3


def test_N07_monitoring_disabled_sends_nothing():
    st = kit.make()
    kit.setmon(st, "UpperThreshold", 50)
    st.model.set_ctrl("MonitoringCtrlr.Enabled", False)
    kit.push(st, 60)
    assert kit.drain(st) == []


def test_N07_hardwired_notification_for_a_sensor_fault_and_recovery():
    st = kit.make()

    class Flaky:
        value = 20.0
        error = "no answer on the bus"

        def read(self):
            return self.value

    v = st.model.find(EVSE1, TEMP)
    v.sensor = Flaky()
    st.monitors.sensed = [v]
    st.tick()
    v.sensor.value = None
    for _ in range(3):
        st.tick()
    evs = kit.drain(st)
    assert len(evs) == 1
    e = evs[0]
    assert e["eventNotificationType"] == "HardWiredNotification" and e["cleared"] is False
    assert e["techCode"] == "SensorFault" and "variableMonitoringId" not in e
    st.tick()
    assert kit.drain(st) == []
    v.sensor.value = 21.0
    st.tick()
    evs = kit.drain(st)
    assert len(evs) == 1 and evs[0]["cleared"] is True


# ---- N08 periodic ---------------------------------------------------------------------------

def test_N08_FR06_periodic_fires_every_value_seconds_after_set():
    st = kit.make()
    mid = kit.setmon(st, "Periodic", 2)["id"]
    kit.push(st, 20)
    m = st.monitors.get(mid)
    t0 = m[mon.M_DUE]
    assert st.monitors.evaluate(ticks_add(t0, -1)) is None
    f = st.monitors.evaluate(t0)
    assert len(f) == 1 and f[0][1] == "Periodic"
    assert st.monitors.get(mid)[mon.M_DUE] == ticks_add(t0, 2000)   # a fired monitor is a new tuple
    assert st.monitors.evaluate(ticks_add(t0, 1999)) is None
    st.outbox.post(f)
    e = kit.drain(st)[0]
    assert e["trigger"] == "Periodic" and e["actualValue"] == "20" and "cleared" not in e


def test_N08_FR07_clock_aligned_on_the_epoch_once_per_slot():
    st = kit.make()
    try:
        compat.set_time(1795600800 + 3600 * 5 + 17)            # 15:00:17 UTC
        mid = kit.setmon(st, "PeriodicClockAligned", 900)["id"]
        m = st.monitors.get(mid)
        assert m[mon.M_SLOT] == (1795600800 + 3600 * 5 + 900) * 1000   # 15:15:00, not 15:00:17+900
        compat.set_time(1795600800 + 3600 * 5 + 899)               # ticks ran ahead of the wall clock
        assert st.monitors.evaluate(m[mon.M_DUE]) is None
        m = st.monitors.get(mid)                                   # rescheduled: a new tuple
        assert m[mon.M_SLOT] == (1795600800 + 3600 * 5 + 900) * 1000
        compat.set_time(1795600800 + 3600 * 5 + 900)
        f = st.monitors.evaluate(m[mon.M_DUE])
        assert f is not None and len(f) == 1
        assert st.monitors.evaluate(ticks_ms()) is None          # once per slot
        assert st.monitors.get(mid)[mon.M_SLOT] == (1795600800 + 3600 * 5 + 1800) * 1000
        # a day-long interval lands on midnight UTC, whatever the hour
        d = kit.setmon(st, "PeriodicClockAligned", 86400, severity=4)["id"]
        assert st.monitors.get(d)[mon.M_SLOT] == (1795600800 + 14 * 3600) * 1000
    finally:
        compat.set_time(compat.now())


def test_N08_FR07_clock_aligned_slots_hold_in_float32_state():
    # ESP32 and RP2040 builds read floats out of the arrays as float32, which
    # rounds an epoch millisecond by up to a minute: a slot must come once,
    # not before the wall clock reaches it, and never be skipped. An 'f'
    # array stores float32 on both host runtimes.
    from array import array
    st = kit.make()
    st.monitors.s = array("f", st.monitors.s)
    try:
        t0 = 1795600800 + 3600 * 5                                 # 15:00:00 UTC
        compat.set_time(t0 + 17)
        mid = kit.setmon(st, "PeriodicClockAligned", 60)["id"]
        fired = 0
        for k in range(1, 40):                                     # 39 minutes, slot by slot
            m = st.monitors.get(mid)
            assert m[mon.M_SLOT] == (t0 + 60 * k) * 1000
            compat.set_time(t0 + 60 * k - 1)                       # the tick clock ran ahead
            assert st.monitors.evaluate(m[mon.M_DUE]) is None
            m = st.monitors.get(mid)
            assert m[mon.M_SLOT] == (t0 + 60 * k) * 1000
            compat.set_time(t0 + 60 * k)
            f = st.monitors.evaluate(m[mon.M_DUE])
            fired += len(f or ())
            assert st.monitors.evaluate(m[mon.M_DUE]) is None      # once per slot
        assert fired == 39
    finally:
        compat.set_time(compat.now())


def test_N08_FR03_periodic_events_are_queued_offline():
    st = kit.make(online=False)
    mid = kit.setmon(st, "Periodic", 1)["id"]
    kit.push(st, 20)
    m = st.monitors.get(mid)
    st.outbox.post(st.monitors.evaluate(m[mon.M_DUE]))
    assert len(kit.queued(st)) == 1
