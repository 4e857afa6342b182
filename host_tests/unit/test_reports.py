"""N02 GetMonitoringReport in-process on both runtimes: filters, paging, statuses."""
import asyncio
import json

from diag import reports
from protocol import codec
import stationkit as kit
from stationkit import EVSE1, TEMP

EVSE2 = {"name": "EVSE", "evse": {"id": 2}}


def station():
    st = kit.make([kit.var(), kit.var(name="Voltage", lo=0, hi=500), kit.var(comp=EVSE2),
                   kit.var(comp={"name": "EVSE", "instance": "aux", "evse": {"id": 1}})])
    kit.setmon(st, "UpperThreshold", 50)                                   # EVSE1 Temperature
    kit.setmon(st, "Delta", 5)
    kit.setmon(st, "Periodic", 60, variable={"name": "Voltage"})
    kit.setmon(st, "PeriodicClockAligned", 900, comp=EVSE2)
    kit.setmon(st, "LowerThreshold", 0, comp={"name": "EVSE", "instance": "aux", "evse": {"id": 1}})
    return st


def summary(p):
    """What a test needs of a page, small enough to keep 500 monitors' worth on a 256k heap."""
    return {"requestId": p["requestId"], "seqNo": p["seqNo"], "tbc": p.get("tbc", False),
            "size": len(json.dumps(p)),
            "monitor": [{"component": {"name": md["component"]["name"]}, "variable": {"name": md["variable"]["name"]},
                         "variableMonitoring": [{"id": vm["id"]} for vm in md["variableMonitoring"]]}
                        for md in p["monitor"]]}


def report(st, req):
    kit.record(st)

    async def go():
        r = kit.call(st, "GetMonitoringReport", req)
        for _ in range(100):
            await asyncio.sleep(0)
        return r
    r = asyncio.run(go())
    return r, [summary(p) for a, p in st.sent if a == "NotifyMonitoringReport"]


def ids(pages):
    return sorted(vm["id"] for p in pages for md in p["monitor"] for vm in md["variableMonitoring"])


def test_N02_FR01_FR11_no_filter_reports_every_monitor_FR03_FR04_same_request_id():
    st = station()
    r, pages = report(st, {"requestId": 7})
    assert r == {"status": "Accepted"}
    assert ids(pages) == [1, 2, 3, 4, 5]
    assert all(p["requestId"] == 7 for p in pages)


def test_N02_FR12_FR13_FR14_criteria_map_to_monitor_types_FR06():
    st = station()
    assert ids(report(st, {"requestId": 1, "monitoringCriteria": ["ThresholdMonitoring"]})[1]) == [1, 5]
    assert ids(report(st, {"requestId": 1, "monitoringCriteria": ["DeltaMonitoring"]})[1]) == [2]
    assert ids(report(st, {"requestId": 1, "monitoringCriteria": ["PeriodicMonitoring"]})[1]) == [3, 4]
    both = {"requestId": 1, "monitoringCriteria": ["DeltaMonitoring", "PeriodicMonitoring"]}
    assert ids(report(st, both)[1]) == [2, 3, 4]


def test_N02_FR08_component_variable_filter_and_FR05_intersection():
    st = station()
    cv = [{"component": EVSE1, "variable": TEMP}]
    assert ids(report(st, {"requestId": 1, "componentVariable": cv})[1]) == [1, 2, 5]    # 5: instance "aux"
    both = {"requestId": 1, "componentVariable": cv, "monitoringCriteria": ["DeltaMonitoring"]}
    assert ids(report(st, both)[1]) == [2]


def test_N02_FR15_missing_evse_or_instance_means_every_one():
    st = station()
    assert ids(report(st, {"requestId": 1, "componentVariable": [{"component": {"name": "EVSE"},
                                                                   "variable": TEMP}]})[1]) == [1, 2, 4, 5]
    cv = [{"component": {"name": "EVSE", "instance": "aux"}}]
    assert ids(report(st, {"requestId": 1, "componentVariable": cv})[1]) == [5]


def test_N02_FR16_missing_variable_means_every_variable_of_the_component():
    st = station()
    assert ids(report(st, {"requestId": 1, "componentVariable": [{"component": EVSE1}]})[1]) == [1, 2, 3, 5]


def test_N02_FR17_missing_variable_instance_means_every_instance():
    st = kit.make([kit.var(), {"component": EVSE1, "variable": {"name": "Temperature", "instance": "inlet"},
                               "dataType": "decimal", "monitors": []}])
    kit.setmon(st, "Delta", 1)
    kit.setmon(st, "Delta", 1, variable={"name": "Temperature", "instance": "inlet"})
    assert ids(report(st, {"requestId": 1, "componentVariable": [{"component": EVSE1, "variable": TEMP}]})[1]) \
        == [1, 2]
    cv = [{"component": EVSE1, "variable": {"name": "Temperature", "instance": "inlet"}}]
    assert ids(report(st, {"requestId": 1, "componentVariable": cv})[1]) == [2]


def test_N02_FR10_empty_result_set_sends_nothing():
    st = station()
    r, pages = report(st, {"requestId": 1, "componentVariable": [{"component": {"name": "Nope"}}]})
    assert r == {"status": "EmptyResultSet"} and pages == []
    kit.call(st, "SetMonitoringBase", {"monitoringBase": "HardWiredOnly"})      # TC_N_06
    r, pages = report(st, {"requestId": 2, "componentVariable": [{"component": EVSE1, "variable": TEMP}]})
    assert r == {"status": "EmptyResultSet"} and pages == []


def test_N02_FR02_unknown_criterion_is_not_supported_not_a_callerror():
    st = station()
    served = []

    async def go():
        async def send(text):
            served.append(json.loads(text))

        class Conn:
            open = True
        st.session.conn = Conn()
        st.session.conn.send = send
        await st.session._serve("m1", "GetMonitoringReport", {"requestId": 1, "monitoringCriteria": ["Foo"]})
        await st.session._serve("m2", "SetMonitoringBase", {"monitoringBase": "Bar"})
        await st.session._serve("m3", "GetMonitoringReport", {"requestId": "x"})
    asyncio.run(go())
    assert served[0][0] == 3 and served[0][2]["status"] == "NotSupported"
    assert served[1][0] == 3 and served[1][2]["status"] == "NotSupported"
    assert served[2][0] == 4 and served[2][2] == "TypeConstraintViolation"


def test_N02_FR07_too_many_component_variables_is_a_callerror():
    import support
    st = kit.make(settings={"DeviceDataCtrlr.ItemsPerMessage[GetReport]": 2})
    cv = [{"component": EVSE1}] * 3
    e = support.raises(codec.CallError, kit.call, st, "GetMonitoringReport", {"requestId": 1, "componentVariable": cv})
    assert e.code == "OccurrenceConstraintViolation"


def test_N02_monitors_deleted_while_the_report_is_pending_are_left_out():
    """The pending report holds monitor ids, not monitors: one cleared meanwhile
    is skipped, and if the last ones are gone the last page has no monitor."""
    st = station()
    found = reports.select(st, {"requestId": 1})
    assert list(found) == [m[0] for m in st.monitors.active]
    st.monitors.remove(found[1])
    pages = list(reports.pages(st.monitors, found, 4000))
    assert len(pages) == 1 and pages[0][1] is True
    got = [vm["id"] for md in pages[0][0] for vm in md["variableMonitoring"]]
    assert got == [found[0]] + list(found)[2:]
    for mid in list(found):
        if st.monitors.get(mid) is not None:
            st.monitors.remove(mid)
    assert list(reports.pages(st.monitors, found, 4000)) == [([], True)]


def test_criteria_bits_follow_the_monitor_kinds():
    """select() filters monitoringCriteria by a bit per kind: Threshold 3, Delta 4, Periodic 24."""
    from diag import monitors as mon
    assert (1 << mon.UPPER | 1 << mon.LOWER, 1 << mon.DELTA, 1 << mon.PERIODIC | 1 << mon.ALIGNED) == (3, 4, 24)


def test_a_flood_of_requests_is_rejected_busy_beyond_two_jobs_and_accepted_again_after():
    # Each job builds its first page before it waits its turn to send: a flood
    # of GetMonitoringReport must not queue a job each until the heap is gone.
    st = station()
    kit.record(st)

    async def go():
        req = {"requestId": 1}
        first = [kit.call(st, "GetMonitoringReport", req) for _ in range(4)]
        for _ in range(100):
            await asyncio.sleep(0)
        later = kit.call(st, "GetMonitoringReport", {"requestId": 2})
        for _ in range(100):
            await asyncio.sleep(0)
        return first, later
    first, later = asyncio.run(go())
    assert [r["status"] for r in first] == ["Accepted", "Accepted", "Rejected", "Rejected"]
    assert first[3] == {"status": "Rejected", "statusInfo": {"reasonCode": "Busy"}}
    assert later == {"status": "Accepted"}
    sent = [p["requestId"] for a, p in st.sent if a == "NotifyMonitoringReport"]
    assert sent.count(1) == 2 * sent.count(2) > 0     # the two accepted jobs of requestId 1 ran, then 2's


def test_a_job_that_fails_building_a_page_is_logged_and_frees_its_place():
    # A MemoryError building a page ends that report; the station logs it,
    # and the job's place is free for the next request.
    st = station()
    kit.record(st)
    lines = []
    st.log.write = lines.append
    real = reports.pages

    def boom(*a):
        raise MemoryError("page")
        yield

    async def go():
        reports.pages = boom
        try:
            out = [kit.call(st, "GetMonitoringReport", {"requestId": 1}) for _ in range(2)]
            for _ in range(20):
                await asyncio.sleep(0)
        finally:
            reports.pages = real
        out.append(kit.call(st, "GetMonitoringReport", {"requestId": 2}))
        for _ in range(100):
            await asyncio.sleep(0)
        return out
    out = asyncio.run(go())
    assert [r["status"] for r in out] == ["Accepted"] * 3
    failed = [ln for ln in lines if ln.startswith("job failed: ")]
    assert len(failed) == 2 and all("MemoryError" in ln and "page" in ln for ln in failed)
    assert {p["requestId"] for a, p in st.sent if a == "NotifyMonitoringReport"} == {2}
