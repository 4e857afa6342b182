"""N09/N10 end to end, on both runtimes, against the real CSMS (every station
frame schema-checked): CustomerInformation statuses, a record of several kB
in 512-character parts, clear + report then report-only (TC_N_62), clear
without report (TC_N_32), and cleared data staying gone after a power cut,
checked on the storage files too."""
import json
import os

import pytest

import station_proc as sp

TOKEN = {"idToken": "RFID-QZ-7731", "type": "ISO14443"}
CERT = {"hashAlgorithm": "SHA256", "issuerNameHash": "9f86d081884c7d65", "issuerKeyHash": "60303ae22b998861",
        "serialNumber": "0A1B2C"}
# Several kB, non-ASCII of 2, 3 and 4 UTF-8 bytes: parts count characters, not bytes.
BIG = "".join("Session %04d · Zoë · €%d.%02d · Ürümqi 🚗⚡\n" % (i, i % 50, i % 100) for i in range(150))
SEED = [{"idToken": TOKEN, "data": BIG},
        {"customerIdentifier": "cust-Wolke-7", "data": "Customer Wolke-7: Hauptstraße 1, Köln"},
        {"certificate": CERT, "data": "Fleet card holder Quokka-Jump, contract QJ-9"}]
NONE = "No customer data found"
CLEARED = "Customer data cleared"


def board(tmp, url):
    p = sp.board(tmp, url, customers=SEED)
    with open(p) as f:
        b = json.load(f)
    with open(p, "w") as f:          # raw UTF-8, as a board file is written by hand
        json.dump(b, f, ensure_ascii=False, indent=1)
    return p


@pytest.fixture
def station(tmp_path, runtime, csms):
    st = sp.Station(runtime, board(tmp_path, csms.url)).start()
    csms.wait_calls("BootNotification", timeout=30)
    yield st
    st.stop()


def ask(csms, rid, report, clear, **ref):
    p = {"requestId": rid, "report": report, "clear": clear}
    p.update(ref)
    return csms.request("CS-1", "CustomerInformation", p)


def notes(csms, rid, last=True):
    """The NotifyCustomerInformation parts of request rid, once the last (tbc false) has come."""
    def done():
        ps = [p for p in csms.calls("NotifyCustomerInformation") if p["requestId"] == rid]
        return ps if ps and not ps[-1].get("tbc", False) else None
    return csms.wait(done, timeout=30, what="NotifyCustomerInformation %d" % rid)


def storage_holds(root, needle):
    """Files under root (logs, index, temp files) containing needle. The station
    runs meanwhile: a file it deletes between the listing and the read holds
    nothing any more."""
    nb = needle.encode()
    out = []
    for d, _, files in os.walk(root):
        for n in files:
            try:
                with open(os.path.join(d, n), "rb") as f:
                    if nb in f.read():
                        out.append(os.path.join(d, n))
            except FileNotFoundError:
                pass
    return out


def test_N09_report_of_several_kB_in_parts_of_at_most_512_characters(station, csms):
    assert len(BIG) > 5000 and len(BIG.encode()) > len(BIG)
    assert ask(csms, 11, True, False, idToken=TOKEN) == {"status": "Accepted"}
    ps = notes(csms, 11)
    assert len(ps) == (len(BIG) + 511) // 512
    assert [p["seqNo"] for p in ps] == list(range(len(ps)))
    assert [p.get("tbc", False) for p in ps] == [True] * (len(ps) - 1) + [False]
    assert all(len(p["data"]) == 512 for p in ps[:-1]) and 0 < len(ps[-1]["data"]) <= 512
    assert all(p["generatedAt"].endswith("Z") for p in ps)
    assert "".join(p["data"] for p in ps) == BIG
    # reported, not cleared: asked again, the same again
    ask(csms, 12, True, False, idToken={"idToken": "rfid-qz-7731", "type": "ISO14443"})
    assert "".join(p["data"] for p in notes(csms, 12)) == BIG
    log = station.read_log()
    assert "CustomerInformation 12" in log
    assert "RFID-QZ-7731" not in log.upper() and "Zoë" not in log


def test_N09_statuses_and_no_data_found(station, csms):
    r = ask(csms, 1, True, False)
    assert r["status"] == "Invalid" and r["statusInfo"]["reasonCode"] == "NoReference"      # TC_N_29
    r = ask(csms, 2, True, True, idToken=TOKEN, customerIdentifier="cust-Wolke-7")
    assert r["status"] == "Invalid" and r["statusInfo"]["reasonCode"] == "MultipleReferences"
    r = ask(csms, 3, False, False, customerIdentifier="cust-Wolke-7")
    assert r["status"] == "Rejected"                                                          # N09.FR.07
    assert ask(csms, 4, True, False, customerIdentifier="cust-nobody") == {"status": "Accepted"}
    assert [(p["data"], p["seqNo"]) for p in notes(csms, 4)] == [(NONE, 0)]                  # N09.FR.06
    assert ask(csms, 5, True, False, customerCertificate=dict(CERT, serialNumber="a1b2c")) == {"status": "Accepted"}
    assert [p["data"] for p in notes(csms, 5)] == [SEED[2]["data"]]                           # TC_N_63 lookup
    assert sorted(p["requestId"] for p in csms.calls("NotifyCustomerInformation")) == [4, 5]


def test_N10_clear_with_report_then_report_only_finds_nothing_TC_N_62(station, csms):
    assert ask(csms, 21, True, True, customerIdentifier="cust-Wolke-7") == {"status": "Accepted"}
    assert [p["data"] for p in notes(csms, 21)] == [SEED[1]["data"]]
    assert ask(csms, 22, True, False, customerIdentifier="cust-Wolke-7") == {"status": "Accepted"}
    assert [p["data"] for p in notes(csms, 22)] == [NONE]
    assert ask(csms, 23, True, True, customerCertificate=CERT) == {"status": "Accepted"}      # TC_N_63
    assert [p["data"] for p in notes(csms, 23)] == [SEED[2]["data"]]
    ask(csms, 24, True, False, customerCertificate=CERT)
    assert [p["data"] for p in notes(csms, 24)] == [NONE]
    ask(csms, 25, True, False, idToken=TOKEN)                                                  # the others stay
    assert "".join(p["data"] for p in notes(csms, 25)) == BIG


def test_N10_clear_without_report_sends_one_notify_TC_N_32(station, csms):
    assert ask(csms, 31, False, True, idToken=TOKEN) == {"status": "Accepted"}
    assert [(p["data"], p["seqNo"], p.get("tbc", False)) for p in notes(csms, 31)] == [(CLEARED, 0, False)]
    ask(csms, 32, False, True, idToken=TOKEN)
    assert [p["data"] for p in notes(csms, 32)] == [NONE]


def test_N10_cleared_data_stays_gone_after_a_power_cut(tmp_path, runtime, csms):
    path = board(tmp_path, csms.url)
    st = sp.Station(runtime, path).start()
    try:
        csms.wait_calls("BootNotification", timeout=30)
        root = st.storage()
        assert storage_holds(root, "Ürümqi") and storage_holds(root, "Hauptstraße")   # the grep can find
        ask(csms, 41, True, True, idToken=TOKEN)
        assert "".join(p["data"] for p in notes(csms, 41)) == BIG
        ask(csms, 42, False, True, customerIdentifier="cust-Wolke-7")
        assert [p["data"] for p in notes(csms, 42)] == [CLEARED]
        # deleted while running, not only by the start-up sweep
        csms.wait(lambda: not storage_holds(root, "Ürümqi") and not storage_holds(root, "Hauptstraße"),
                  timeout=10, what="cleared records deleted")
    finally:
        st.kill()
    # Power back on with the same board file, whose `customers` still lists them.
    st = sp.Station(runtime, path).start()
    try:
        csms.wait_calls("BootNotification", 2, timeout=30)
        ask(csms, 43, True, False, idToken=TOKEN)
        assert [p["data"] for p in notes(csms, 43)] == [NONE]
        ask(csms, 44, True, False, customerIdentifier="cust-Wolke-7")
        assert [p["data"] for p in notes(csms, 44)] == [NONE]
        ask(csms, 45, True, False, customerCertificate=CERT)
        assert [p["data"] for p in notes(csms, 45)] == [SEED[2]["data"]]
    finally:
        st.stop()
    root = st.storage()
    assert storage_holds(root, "Quokka-Jump")                       # the uncleared record is still there
    for gone in ("Ürümqi", "Session 0149", "Hauptstraße", "cust-Wolke-7", "RFID-QZ-7731", "rfid-qz-7731"):
        assert storage_holds(root, gone) == [], gone
    logs = st.read_log() + st.read_log("security") + st.output()
    for secret in ("Ürümqi", "Hauptstraße", "Quokka-Jump", "cust-Wolke-7", "RFID-QZ-7731", "rfid-qz-7731"):
        assert secret not in logs, secret
