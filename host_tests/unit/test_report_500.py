"""N02.FR.09: a report of 500 monitors arrives whole (the anchor implementation lost every page after the first)."""
import json

import stationkit as kit
from stationkit import EVSE1
from test_reports import report, ids

# 500 monitors and the firmware's code on the 64-bit unix port: ~250 KB live (a 32-bit board needs about half).
MPY_HEAP = "512k"


def test_N02_FR09_500_monitors_arrive_whole_in_pages_with_seqno_and_tbc():
    from diag import monitors as mon
    st = kit.make([kit.var(name="V%d" % i) for i in range(25)])
    for i in range(25):
        v = st.model.find(EVSE1, {"name": "V%d" % i})
        for k in range(20):      # 4 types x 5 severities per variable
            st.monitors.install(mon.new(st.monitors.alloc_id(), k % 4, 100 - k, k // 4, mon.CUSTOM, v), False)
    r, pages = report(st, {"requestId": 42})
    assert r == {"status": "Accepted"}
    assert ids(pages) == list(range(1, 501))
    assert [p["seqNo"] for p in pages] == list(range(len(pages))) and len(pages) > 10
    assert all(p["tbc"] is True for p in pages[:-1]) and pages[-1]["tbc"] is False
    limit = st.model.ctrl("DeviceDataCtrlr.BytesPerMessage[GetReport]")
    assert all(p["size"] <= limit for p in pages)
    # monitors of one variable are grouped under it
    for p in pages:
        keys = [(md["component"]["name"], md["variable"]["name"]) for md in p["monitor"]]
        assert len(keys) == len(set(keys))
