"""Security, end to end on both runtimes, all on 127.0.0.1:

- wss verifies the CSMS: the station process against tools/csms.py
  CSMS(ssl=...) with a trustme CA. With the right CA (board csms.ca, a PEM
  file) it connects and boots; with another CA it never connects (no
  BootNotification, its connect attempts logged as failed).
- The CSMS password (board csms.password; the CSMS checks Basic auth) never
  appears in the station's storage (logs, state), its stdout (echoed logs), its
  log uploads (GetLog of both logs) or its frames, nor does its Basic token,
  through a refused login (401) and a good one.
- A frame announcing more than max_message is refused from its header (close
  1009) before any of its payload is buffered: the raw server sends the header
  only, and the station closes at once, reconnects and boots again.
"""
import base64
import os
import ssl

import pytest
import trustme

import station_proc as sp
from csms import CSMS
from clients import fault_net as fn

PASSWORD = "Pw-7f3!Quokka:x"
SECURITY = {}


def log_of(st, name="diagnostics"):
    try:
        return st.read_log(name)
    except OSError:
        return ""


@pytest.fixture(scope="module")
def loop():
    lp = fn.Loop()
    yield lp
    lp.stop()


def tls_csms(tmp):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    good = os.path.join(str(tmp), "ca.pem")
    with open(good, "wb") as f:       # text before the PEM block, as CA files often have
        f.write(b"# the CSMS's root CA\n\n" + ca.cert_pem.bytes())
    bad = os.path.join(str(tmp), "other-ca.pem")
    trustme.CA().cert_pem.write_to_path(bad)
    return CSMS(ssl=ctx).start(), good, bad


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_wss_right_ca_accepted_wrong_ca_refused(tmp_path, runtime):
    csms, good, bad = tls_csms(tmp_path)
    try:
        assert csms.url.startswith("wss://127.0.0.1:")
        d_bad = tmp_path / "bad"
        d_bad.mkdir()
        sp.write_sensor(d_bad, 20)
        st = sp.Station(runtime, sp.board(d_bad, csms.url, csms={"url": csms.url, "password": None,
                                                                 "ca": bad})).start()
        try:
            fn.wait(lambda: log_of(st).count("connect to wss://") >= 2, 30, "two refused attempts")
            assert csms.connects == 0 and not csms.calls("BootNotification")
            assert st.alive()
        finally:
            st.stop()
        SECURITY["wss wrong CA: refused attempts " + runtime] = log_of(st).count("connect to wss://")
        d_good = tmp_path / "good"
        d_good.mkdir()
        sp.write_sensor(d_good, 20)
        st = sp.Station(runtime, sp.board(d_good, csms.url, csms={"url": csms.url, "password": None,
                                                                  "ca": good})).start()
        try:
            csms.wait_calls("BootNotification", timeout=30)
            r = csms.request("CS-1", "SetMonitoringLevel", {"severity": 9})
            assert r == {"status": "Accepted"}
            assert "connected to wss://127.0.0.1" in st.read_log()
        finally:
            st.stop()
    finally:
        csms.stop()


def test_password_never_written_anywhere(tmp_path, loop):
    """Both runtimes at once (the refused logins cost a backoff of a few seconds)."""
    csms = CSMS(password="not-" + PASSWORD).start()      # first the CSMS wants another password
    sink = fn.UploadSink(loop).start()
    token = base64.b64encode(("%s:%s" % ("CS-M", PASSWORD)).encode()).decode()
    token_c = base64.b64encode(("%s:%s" % ("CS-C", PASSWORD)).encode()).decode()
    stations = []
    try:
        for rt, sid in (("micropython", "CS-M"), ("cpython", "CS-C")):
            d = tmp_path / sid
            d.mkdir()
            sp.write_sensor(d, 20)
            stations.append((sp.Station(rt, sp.board(d, csms.url, sid=sid, echo=True,
                                                     csms={"url": csms.url, "password": PASSWORD, "ca": None})).start(),
                             sid))
        for st, sid in stations:
            fn.wait(lambda: "CSMS refused our credentials (HTTP 401)" in log_of(st, "security"), 30, "a 401")
        csms.password = PASSWORD
        for st, sid in stations:
            csms.wait_calls("BootNotification", cid=sid, timeout=40)
            # Things that log: a monitor set, a CALLERROR, a refused request; then both logs uploaded.
            r = csms.request(sid, "SetVariableMonitoring", {"setMonitoringData": [
                {"value": 90, "type": "UpperThreshold", "severity": 3, "component": {"name": "EVSE", "evse": {"id": 1}},
                 "variable": {"name": "Temperature"}}]})
            assert r["setMonitoringResult"][0]["status"] == "Accepted"
            csms.send_raw(sid, '[2,"x1","NoSuchAction",{"password":"%s"}]' % "guess")
            for i, lt in enumerate(("DiagnosticsLog", "SecurityLog")):
                n = len(sink.bodies)
                r = csms.request(sid, "GetLog", {"logType": lt, "requestId": 10 + i,
                                                 "log": {"remoteLocation": sink.url()}})
                assert r["status"] == "Accepted", r
                fn.wait(lambda: len(sink.bodies) > n, 30, "the %s upload" % lt)
        uploads = b"".join(sink.bodies)
        assert b"refused our credentials" in uploads and b"connected to ws://" in uploads
        secrets = [PASSWORD, token, token_c]
        for st, sid in stations:
            st.stop()
            blobs = {"stdout": st.output(), "uploads": uploads.decode("utf-8", "replace")}
            root = os.path.dirname(st.board_path)
            for d, _, files in os.walk(root):
                for n in files:
                    p = os.path.join(d, n)
                    if p != st.board_path:
                        with open(p, "rb") as f:
                            blobs[os.path.relpath(p, root)] = f.read().decode("utf-8", "replace")
            frames = [str(f[2]) for f in list(csms.frames) if f[1] == sid and f[0] == "in"]
            blobs["frames to the CSMS"] = "\n".join(frames)
            assert "station %s started" % sid in blobs["stdout"]       # the echo is on: stdout was written
            for name, text in blobs.items():
                for s in secrets:
                    assert s not in text, "the password (or its Basic token) is in %s" % name
            SECURITY["password: places searched " + sid] = len(blobs)
    finally:
        for st, sid in stations:
            st.stop()
        sink.stop()
        csms.stop()


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_oversized_frame_refused_from_its_header(tmp_path, runtime, loop):
    raw = fn.RawCSMS(loop).start()
    sp.write_sensor(tmp_path, 20)
    st = sp.Station(runtime, sp.board(tmp_path, raw.url, max_message=4096, _debug_heap=300)).start()
    try:
        c = raw.conn()
        before = None
        for length in (4097, 1 << 20, 1 << 40, 1 << 62):
            if before is None and length > 4097:
                # After one reconnect: the finished reader task keeps the previous
                # connection until the next one ends (one, bounded), as it will after.
                before = fn.heap_settled(st, 3)
            # The header alone: a station that waited for the payload would never close.
            raw.write(c, fn.frame(1, b"", length=length))
            raw.wait(lambda: c.ended, 10, "the close")
            assert c.close is not None and c.close[0] == 1009, c.close
            n = len(raw.conns)
            c = raw.wait(lambda: len(raw.conns) > n and raw.conns[-1].booted and raw.conns[-1], 30, "reconnect")
        after = fn.heap_settled(st, 3)
        if runtime == "micropython":
            assert after <= before + 2048, (before, after)
        raw.write(c, fn.frame(1, '[2,"ok","SetMonitoringLevel",{"severity":9}]'))
        a = raw.wait(lambda: next((x for x in c.answers if x[1] == "ok"), None), 20, "the answer")
        assert a == [3, "ok", {"status": "Accepted"}]
        assert st.alive()
        SECURITY["oversized frames refused from the header " + runtime] = 4
    finally:
        st.stop()
        raw.stop()
