"""GetBaseReport -> NotifyReport pages on a real Station, in-process, on both runtimes."""
import asyncio
import json

from device import model
from protocol import codec
import stationkit as kit
import support
from stationkit import EVSE1


def capture(st, fail_from=None, detail=False):
    """Swap the session's call for a recorder of page summaries (small enough for a 256k heap);
    detail keeps each variable's attribute and characteristics too."""
    sent = []

    async def call(action, payload, timeout_ms=None, need_boot=True):
        codec.validate(action, True, payload)
        assert need_boot is False
        if fail_from is not None and len(sent) >= fail_from:
            st.session.conn.open = False
            raise OSError("link down")
        rows = []
        for d in payload["reportData"]:
            v = d["variable"]
            rows.append((d["component"]["name"], v["name"] + ("[%s]" % v["instance"] if "instance" in v else ""),
                         d["variableAttribute"][0] if detail else None,
                         d["variableCharacteristics"] if detail else None))
        sent.append({"requestId": payload["requestId"], "seqNo": payload["seqNo"], "tbc": payload.get("tbc"),
                     "size": len(json.dumps(payload)), "rows": rows})
        return {}

    class Conn:
        open = True
    st.session.call = call
    st.session.conn = Conn()
    return sent


def report(st, base, rid=1, fail_from=None, detail=False):
    sent = capture(st, fail_from, detail)

    async def go():
        r = kit.call(st, "GetBaseReport", {"requestId": rid, "reportBase": base})
        for _ in range(200):
            await asyncio.sleep(0)
        return r
    return asyncio.run(go()), sent


def names(pages):
    return [r[0] + "." + r[1] for p in pages for r in p["rows"]]


def row(pages, name):
    for p in pages:
        for r in p["rows"]:
            if r[0] + "." + r[1] == name:
                return r
    return None


def station(n=0, **kw):
    d = support.tmpdir("rep")
    with open(d + "/t", "w") as f:
        f.write("20.5")
    t = kit.var()
    t["unit"] = "Celsius"
    t["sensor"] = {"driver": "file", "path": d + "/t"}
    vs = [t, kit.var(name="Setpoint", lo=0, hi=100, mut="ReadWrite", value=16),
          kit.var(name="Secret", dtype="string", lo=None, hi=None, mut="WriteOnly", value="s3"),
          kit.var(name="Serial", dtype="string", lo=None, hi=None, value="SN1")]
    for i in range(n):
        vs.append(kit.var(name="V%d" % i, value=i))
    st = kit.make(vs, **kw)
    st.tick()
    return st


def nvars(st):
    """Every variable of the station: the board's (Problem ones included) and the controller ones."""
    return len(st.model.vars) + len(model.CTRL)


def test_full_inventory_reports_every_variable_once_in_numbered_pages():
    st = station(10, settings={"DeviceDataCtrlr.ItemsPerMessage[GetReport]": 4})
    r, pages = report(st, "FullInventory", rid=42)
    assert r == {"status": "Accepted"}
    got = names(pages)
    assert len(got) == nvars(st) and len(set(got)) == len(got)
    assert [p["seqNo"] for p in pages] == list(range(len(pages)))
    assert all(p["requestId"] == 42 for p in pages)
    assert [p["tbc"] for p in pages] == [True] * (len(pages) - 1) + [None]
    assert all(len(p["rows"]) <= 4 for p in pages) and len(pages) >= 9


def test_pages_keep_to_the_byte_budget():
    st = station(10, settings={"DeviceDataCtrlr.BytesPerMessage[GetReport]": 1200})
    r, pages = report(st, "FullInventory")
    assert len(names(pages)) == nvars(st)
    assert all(p["size"] <= 1200 for p in pages), [p["size"] for p in pages]
    assert len(pages) >= 5


def test_attributes_and_characteristics_of_each_kind_of_variable():
    st = station()
    r, pages = report(st, "FullInventory", detail=True)
    a, c = row(pages, "EVSE.Temperature")[2:]
    assert a == {"type": "Actual", "value": "20.5", "mutability": "ReadOnly"}
    assert c == {"dataType": "decimal", "unit": "Celsius", "minLimit": -40, "maxLimit": 150, "supportsMonitoring": True}
    a, c = row(pages, "EVSE.Setpoint")[2:]
    assert a == {"type": "Actual", "value": "16", "mutability": "ReadWrite", "persistent": True}
    a, c = row(pages, "EVSE.Secret")[2:]
    assert a == {"type": "Actual", "mutability": "WriteOnly", "persistent": True}      # no value
    a, c = row(pages, "MonitoringCtrlr.ItemsPerMessage[SetVariableMonitoring]")[2:]
    assert a["value"] == "50" and a["mutability"] == "ReadOnly"
    assert c == {"dataType": "integer", "minLimit": 1, "supportsMonitoring": True}
    a, c = row(pages, "MonitoringCtrlr.ActiveMonitoringBase")[2:]
    assert a["value"] == "All" and c["valuesList"] == "All,FactoryDefault,HardWiredOnly"
    assert c["dataType"] == "OptionList" and c["supportsMonitoring"] is False
    a, c = row(pages, "OCPPCommCtrlr.FileTransferProtocols")[2:]
    assert c["dataType"] == "MemberList" and c["valuesList"] == "HTTP,HTTPS,FTP"
    a, c = row(pages, "OCPPCommCtrlr.HeartbeatInterval")[2:]
    assert c["unit"] == "s" and a["mutability"] == "ReadWrite"
    assert row(pages, "EVSE.Problem")[2]["value"] == "false"


def test_the_limits_csmss_split_their_requests_by_are_in_every_inventory_but_summary():
    want = ["MonitoringCtrlr.ItemsPerMessage[SetVariableMonitoring]",
            "MonitoringCtrlr.BytesPerMessage[SetVariableMonitoring]",
            "MonitoringCtrlr.ItemsPerMessage[ClearVariableMonitoring]",
            "MonitoringCtrlr.BytesPerMessage[ClearVariableMonitoring]",
            "DeviceDataCtrlr.ItemsPerMessage[GetReport]", "DeviceDataCtrlr.BytesPerMessage[GetReport]",
            "MonitoringCtrlr.OfflineQueuingSeverity", "MonitoringCtrlr.ActiveMonitoringBase",
            "MonitoringCtrlr.ActiveMonitoringLevel"]
    st = station()
    for base in ("FullInventory", "ConfigurationInventory"):
        got = names(report(st, base)[1])
        assert [w for w in want if w not in got] == [], base


def test_configuration_inventory_is_the_controllers_and_what_the_csms_can_write():
    st = station()
    got = names(report(st, "ConfigurationInventory")[1])
    assert "EVSE.Setpoint" in got and "EVSE.Secret" in got
    assert "EVSE.Temperature" not in got and "EVSE.Serial" not in got and "EVSE.Problem" not in got
    assert len([g for g in got if "Ctrlr." in g]) == len(model.CTRL)


def test_summary_inventory_is_availability_and_problems():
    st = station()
    r, pages = report(st, "SummaryInventory")
    assert r == {"status": "Accepted"}
    assert sorted(names(pages)) == ["EVSE.Problem", "MonitoringCtrlr.Available", "MonitoringCtrlr.Enabled"]


def test_empty_result_set_sends_nothing():
    st = station()
    st.model.vars = [v for v in st.model.vars if not v.summary]
    keep = model.SUMMARY
    model.SUMMARY = ()      # no station lacks these two: take them away for the test
    try:
        r, pages = report(st, "SummaryInventory")
    finally:
        model.SUMMARY = keep
    assert r == {"status": "EmptyResultSet"} and pages == []


def test_a_report_stops_when_the_connection_drops():
    st = station(10, settings={"DeviceDataCtrlr.ItemsPerMessage[GetReport]": 3})
    r, pages = report(st, "FullInventory", fail_from=2)
    assert r == {"status": "Accepted"} and len(pages) == 2


def test_a_report_is_sent_while_the_boot_is_pending():
    st = station()
    st.session.online = False            # connected, BootNotification not Accepted yet (B02)
    r, pages = report(st, "SummaryInventory")
    assert r == {"status": "Accepted"} and len(names(pages)) == 3


def test_a_flood_of_base_reports_is_rejected_busy_beyond_two_jobs():
    # A flood of GetBaseReport on a MicroPython station queued a job each
    # until the heap was gone (the connection was lost on a MemoryError).
    st = station()
    sent = capture(st)

    async def go():
        first = [kit.call(st, "GetBaseReport", {"requestId": k, "reportBase": "FullInventory"}) for k in range(4)]
        for _ in range(400):
            await asyncio.sleep(0)
        later = kit.call(st, "GetBaseReport", {"requestId": 9, "reportBase": "FullInventory"})
        for _ in range(400):
            await asyncio.sleep(0)
        return first, later
    first, later = asyncio.run(go())
    assert [r["status"] for r in first] == ["Accepted", "Accepted", "Rejected", "Rejected"]
    assert first[2] == {"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}}
    assert later == {"status": "Accepted"}
    assert sorted(set(p["requestId"] for p in sent)) == [0, 1, 9]
