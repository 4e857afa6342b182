"""N09/N10 CustomerInformation in-process on both runtimes: statuses, the
NotifyCustomerInformation sequence, clear after report, the job queue.
Test names carry the FR ids."""
import asyncio
import os

import compat
from diag import customers as cu
from protocol import session
import stationkit as kit
import support

TOK = {"idToken": {"idToken": "RFID-XY99", "type": "ISO14443"}}
CID = {"customerIdentifier": "cust-42"}
CERT = {"customerCertificate": {"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb",
                                "serialNumber": "01"}}


def make():
    return kit.record(kit.make(storage=support.tmpdir("cinfo")))


def req(rid, report, clear, ref=None):
    r = {"requestId": rid, "report": report, "clear": clear}
    if ref:
        for k in ref:
            r[k] = ref[k]
    return r


async def settle(st):
    for _ in range(500):
        await asyncio.sleep(0)
        if st.customers.task is None:
            return


def serve(st, *reqs):
    """Answer the requests one after the other, then let the jobs run; returns the responses."""
    async def go():
        out = [kit.call(st, "CustomerInformation", r) for r in reqs]
        await settle(st)
        return out
    return asyncio.run(go())


def notes(st, rid=None):
    return [p for a, p in st.sent if a == "NotifyCustomerInformation" and (rid is None or p["requestId"] == rid)]


def records(st):
    return [n for n in os.listdir(st.customers.root) if n.startswith("r")]


def test_N09_no_reference_is_Invalid_TC_N_29_TC_N_33():
    st = make()
    r = serve(st, req(1, True, False), req(2, True, True))
    assert [x["status"] for x in r] == ["Invalid", "Invalid"]
    assert r[0]["statusInfo"]["reasonCode"] == "NoReference"
    assert notes(st) == []


def test_N09_two_references_are_Invalid_and_nothing_is_cleared():
    st = make()
    st.customers.add(CID, "kept")
    both = req(1, True, True, CID)
    both["idToken"] = TOK["idToken"]
    r = serve(st, both)[0]
    assert r["status"] == "Invalid" and r["statusInfo"]["reasonCode"] == "MultipleReferences"
    assert notes(st) == [] and st.customers.find(CID) == 4


def test_N09_FR07_N10_FR07_neither_report_nor_clear_is_Rejected():
    st = make()
    st.customers.add(CID, "kept")
    r = serve(st, req(1, False, False, CID))[0]
    assert r["status"] == "Rejected" and r["statusInfo"]["reasonCode"] == "NothingRequested"
    assert notes(st) == [] and st.customers.find(CID) == 4


def test_N09_FR02_FR05_report_in_parts_of_512_characters_with_seqNo_tbc_and_requestId():
    st = make()
    data = "Kunde Müller – Ladevorgänge 😀 " * 60       # ~1900 characters, more bytes
    st.customers.add(CERT, data)
    r = serve(st, req(31, True, False, CERT))[0]
    assert r == {"status": "Accepted"}
    ns = notes(st, 31)
    assert len(ns) == (len(data) + 511) // 512 and len(ns) == len(notes(st))
    assert [n["seqNo"] for n in ns] == list(range(len(ns)))
    assert [n.get("tbc", False) for n in ns] == [True] * (len(ns) - 1) + [False]
    assert all(len(n["data"]) == 512 for n in ns[:-1])
    assert "".join(n["data"] for n in ns) == data
    assert all(compat.parse_iso(n["generatedAt"]) is not None for n in ns)
    assert st.customers.find(CERT) > 0          # a report alone keeps the data


def test_N09_FR06_no_data_found_is_one_notify():
    st = make()
    st.customers.add(CID, "someone else")
    serve(st, req(5, True, False, TOK))
    assert [(n["data"], n["seqNo"], n.get("tbc", False)) for n in notes(st)] == [(cu.NONE, 0, False)]


def test_N10_FR03_clear_with_report_reports_first_then_deletes_TC_N_62():
    st = make()
    data = "x" * 600 + "ü"
    st.customers.add(TOK, data)
    st.customers.add(CID, "other customer")
    serve(st, req(7, True, True, TOK), req(8, True, False, TOK))
    assert "".join(n["data"] for n in notes(st, 7)) == data
    assert [n["data"] for n in notes(st, 8)] == [cu.NONE]
    assert st.customers.find(TOK) == 0 and st.customers.find(CID) == 14
    assert records(st) == ["r2.txt"]


def test_N10_FR06_clear_without_report_sends_one_notify_that_it_was_cleared_TC_N_32():
    st = make()
    st.customers.add(CID, "to be cleared")
    r = serve(st, req(9, False, True, CID))[0]
    assert r == {"status": "Accepted"}
    assert [(n["data"], n["seqNo"], n.get("tbc", False)) for n in notes(st)] == [(cu.CLEARED, 0, False)]
    assert st.customers.find(CID) == 0 and records(st) == []


def test_N10_clear_of_an_unknown_customer_says_no_data_found():
    st = make()
    serve(st, req(10, False, True, CID))
    assert [n["data"] for n in notes(st)] == [cu.NONE]


def test_jobs_run_in_order_a_queued_report_still_reads_data_cleared_after_it():
    st = make()
    st.customers.add(CID, "abc")
    r = serve(st, req(1, True, False, CID), req(2, True, True, CID), req(3, True, False, CID),
              req(4, True, False, TOK), req(5, True, False, TOK))
    assert [x["status"] for x in r] == ["Accepted"] * 4 + ["Rejected"]
    assert r[4]["statusInfo"]["reasonCode"] == "Busy"
    assert [(n["requestId"], n["data"]) for n in notes(st)] == [(1, "abc"), (2, "abc"), (3, cu.NONE), (4, cu.NONE)]
    assert records(st) == []


def test_api_clear_during_a_report_waits_for_the_report_then_deletes():
    st = make()
    st.customers.add(CID, "y" * 1500)

    async def go():
        kit.call(st, "CustomerInformation", req(1, True, False, CID))
        assert st.customers.clear(CID) == 1        # the integrating firmware clears meanwhile
        assert st.customers.find(CID) == 0
        await settle(st)
    asyncio.run(go())
    assert "".join(n["data"] for n in notes(st)) == "y" * 1500
    assert records(st) == []


def test_a_lost_connection_ends_the_report_but_the_accepted_clear_still_happens():
    st = make()
    st.customers.add(CID, "z" * 2000)

    async def offline(action, payload, timeout_ms=None, need_boot=True):
        st.session.online = False
        raise session.Offline(action)
    st.session.call = offline
    assert serve(st, req(1, True, True, CID))[0] == {"status": "Accepted"}
    assert st.customers.find(CID) == 0 and records(st) == []
    st2 = kit.again(st)
    assert st2.customers.find(CID) == 0


def test_the_logs_never_hold_customer_data_or_references():
    st = make()
    st.customers.add(TOK, "Secret-Address-Line")
    st.customers.add(CID, "Secret-Phone-Number")
    serve(st, req(1, True, False, TOK), req(2, True, True, CID), req(3, False, True, TOK))
    logs = ""
    d = st.store.root + "/logs"
    for n in os.listdir(d):
        with open(d + "/" + n) as f:
            logs += f.read()
    assert "CustomerInformation 2" in logs       # the log is there and says what happened
    for secret in ("Secret-Address-Line", "Secret-Phone-Number", "RFID-XY99", "rfid-xy99", "cust-42"):
        assert secret not in logs
