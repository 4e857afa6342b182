"""End to end, on both runtimes: boot, heartbeat, reconnect, the first monitor,
and a CALLERROR for a malformed frame after which the station still answers."""
import time

import pytest

import station_proc as sp


@pytest.fixture
def station(tmp_path, runtime, csms):
    csms.heartbeat = 1
    sp.write_sensor(tmp_path, 20)
    st = sp.Station(runtime, sp.board(tmp_path, csms.url)).start()
    yield st
    st.stop()


def test_boot_heartbeat_and_reconnect(station, csms):
    boot = csms.wait_calls("BootNotification")[0]
    assert boot["reason"] == "PowerUp"
    assert boot["chargingStation"] == {"model": "M1", "vendorName": "Acme", "serialNumber": "SN1",
                                       "firmwareVersion": "0.1"}
    csms.wait_calls("Heartbeat", 2, timeout=10)
    csms.restart()
    csms.wait_connected("CS-1", timeout=30)
    csms.wait_calls("BootNotification", 1)
    assert station.alive()


def test_boot_pending_is_retried_at_the_interval(tmp_path, runtime, csms):
    csms.heartbeat = 1
    csms.boot_answers = [("Pending", 1), ("Rejected", 1)]
    st = sp.Station(runtime, sp.board(tmp_path, csms.url)).start()
    try:
        boots = csms.wait_calls("BootNotification", 3, timeout=15)
        assert len(boots) == 3
        csms.wait_calls("Heartbeat", 1, timeout=10)
    finally:
        st.stop()


def test_trigger_message_boot_while_pending_and_rejected_once_accepted(tmp_path, runtime, csms):
    # B02/F06: while Pending the CSMS may trigger a Heartbeat or the
    # BootNotification (sent at once, reason Triggered, not after the
    # 300 s interval); once Accepted, F06.FR.17 rejects the trigger.
    csms.boot_answers = [("Pending", 300)]
    st = sp.Station(runtime, sp.board(tmp_path, csms.url)).start()
    try:
        csms.wait_calls("BootNotification")
        trig = lambda m: csms.request("CS-1", "TriggerMessage", {"requestedMessage": m})["status"]
        assert trig("Heartbeat") == "Accepted"
        csms.wait_calls("Heartbeat", 1, timeout=10)
        assert trig("BootNotification") == "Accepted"
        boots = csms.wait_calls("BootNotification", 2, timeout=10)
        assert [b["reason"] for b in boots] == ["PowerUp", "Triggered"]
        end = time.time() + 10
        while "session online" not in st.read_log() and time.time() < end:
            time.sleep(0.05)
        assert trig("BootNotification") == "Rejected"
        assert trig("Heartbeat") == "Accepted"
        csms.wait_calls("Heartbeat", 2, timeout=10)
        assert len(csms.calls("BootNotification")) == 2
        assert st.alive()
    finally:
        st.stop()


def test_first_upper_threshold_alert_and_clear(station, csms, tmp_path):
    csms.wait_calls("BootNotification")
    r = csms.request("CS-1", "SetVariableMonitoring", {"setMonitoringData": [
        {"value": 50, "type": "UpperThreshold", "severity": 5,
         "component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Temperature"}}]})
    res = r["setMonitoringResult"][0]
    assert res["status"] == "Accepted" and isinstance(res["id"], int)
    sp.write_sensor(tmp_path, 50)      # equal: not above
    sp.write_sensor(tmp_path, 50.5)
    ev = csms.wait(lambda: csms.events(), what="alert")[0]
    assert ev["trigger"] == "Alerting" and ev["actualValue"] == "50.5"
    assert ev["variableMonitoringId"] == res["id"]
    assert ev["eventNotificationType"] == "CustomMonitor"
    assert ev["component"] == {"name": "EVSE", "evse": {"id": 1}}
    assert ev["variable"] == {"name": "Temperature"}
    assert not ev.get("cleared")
    sp.write_sensor(tmp_path, 50)
    evs = csms.wait(lambda: len(csms.events()) >= 2 and csms.events(), what="clear")
    assert evs[1]["cleared"] is True and evs[1]["actualValue"] == "50"
    assert evs[1]["eventId"] > evs[0]["eventId"]


def test_malformed_frame_gets_callerror_and_station_still_answers(station, csms):
    csms.wait_calls("BootNotification")
    csms.send_raw("CS-1", '[2, "bad-1", "SetMonitoringLevel", {"severity": "high"}]')
    err = csms.answer("bad-1")
    assert err[0] == "CALLERROR" and err[1] == "TypeConstraintViolation"
    csms.send_raw("CS-1", '[2, "bad-2", "NoSuchAction", {}]')
    assert csms.answer("bad-2")[1] == "NotImplemented"
    csms.send_raw("CS-1", '{"not": "a frame"')
    r = csms.request("CS-1", "SetMonitoringLevel", {"severity": 5})
    assert r == {"status": "Accepted"}
