"""N01 GetLog end to end, on both runtimes, against the real CSMS and real
upload servers on 127.0.0.1: an HTTP server (stdlib http.server in a thread;
PUT and POST, Basic auth, scripted 401/403/500 answers, a slow mode), the same
over TLS with a trustme CA, and an FTP server (pyftpdlib)."""
import base64
import logging
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

import station_proc as sp

USER, PASSWORD = "logs", "s3cr:t"          # ':' in the password: percent-encoded in URLs
CRED = "logs:s3cr%3At@"
T0 = "2020-01-01T00:00:"                   # prefilled lines: 2020-01-01T00:00:00..59


# ---------------------------------------------------------------- HTTP(S) server

class Http:
    """Uploads land in .requests as dicts (method, path, headers, body).

    The first path segment scripts the answer: /auth/ wants Basic USER:PASSWORD
    (401 otherwise), /code/NNN/ answers NNN, /slow/ answers only once .release
    is set (or after 30 s); anything else answers 201."""

    def __init__(self, tls=None):
        self.requests = []
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_PUT(self):
                owner._serve(self)

            def do_POST(self):
                owner._serve(self)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass          # TLS refusals and dropped clients are expected here

        self.srv = Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.srv.socket = tls.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path="/up/", cred=""):
        return "%s://%s127.0.0.1:%d%s" % (self.scheme, cred, self.port, path)

    def _serve(self, h):
        n = int(h.headers.get("Content-Length", "0"))
        body = h.rfile.read(n)
        rec = {"method": h.command, "path": h.path, "headers": dict(h.headers), "body": body}
        self.requests.append(rec)
        parts = h.path.split("/")
        code = 201
        if parts[1] == "auth":
            want = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
            code = 201 if h.headers.get("Authorization") == want else 401
        elif parts[1] == "code":
            code = int(parts[2])
        elif parts[1] == "slow":
            self.release.wait(30)
        try:
            h.send_response(code)
            h.send_header("Content-Length", "0")
            h.send_header("Connection", "close")
            h.end_headers()
        except OSError:
            pass

    def stop(self):
        self.release.set()
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def http():
    s = Http()
    yield s
    s.stop()


# ---------------------------------------------------------------- FTP server

class Ftp:
    """pyftpdlib on 127.0.0.1: USER/PASSWORD writes to .user_dir, anonymous to .anon_dir."""

    def __init__(self, root):
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import FTPServer
        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
        self.user_dir = os.path.join(root, "ftp-user")
        self.anon_dir = os.path.join(root, "ftp-anon")
        os.makedirs(self.user_dir)
        os.makedirs(self.anon_dir)
        auth = DummyAuthorizer()
        auth.add_user(USER, PASSWORD, self.user_dir, perm="elradfmw")
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # write access for anonymous: wanted here
            auth.add_anonymous(self.anon_dir, perm="elradfmw")

        class Handler(FTPHandler):
            authorizer = auth
            auth_failed_timeout = 0.1     # pyftpdlib waits 3 s after a failed login by default

        self.srv = FTPServer(("127.0.0.1", 0), Handler)
        self.port = self.srv.address[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            self.srv.serve_forever(timeout=0.05, blocking=False)
        self.srv.close_all()

    def url(self, path="/", cred=""):
        return "ftp://%s127.0.0.1:%d%s" % (cred, self.port, path)

    def stop(self):
        self.stopping = True
        self.thread.join(10)


# ---------------------------------------------------------------- station helpers

def prefill(tmp_path, name="diagnostics", seg=0, lines=60, text="old entry", width=None):
    """Old entries (2020-01-01T00:00:SS) in a log segment before the station starts."""
    d = os.path.join(str(tmp_path), "state", "logs")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%s.%d.log" % (name, seg)), "ab") as f:
        for i in range(lines):
            ln = "%s%02d.000Z %s %d" % (T0, i % 60, text, i)
            if width:
                ln = (ln + " " + "x" * width)[:width - 1]
            f.write(ln.encode() + b"\n")


def start(tmp_path, runtime, server, **extra):
    """The station on the real CSMS `server`; extra board keys (csms too) override."""
    sp.write_sensor(tmp_path, 20)
    st = sp.Station(runtime, sp.board(tmp_path, server.url, **extra)).start()
    server.wait_calls("BootNotification", timeout=30)
    return st


def getlog(csms, url, rid, log_type="DiagnosticsLog", oldest=None, latest=None, **kw):
    log = {"remoteLocation": url}
    if oldest:
        log["oldestTimestamp"] = oldest
    if latest:
        log["latestTimestamp"] = latest
    p = {"logType": log_type, "requestId": rid, "log": log}
    p.update(kw)
    return csms.request("CS-1", "GetLog", p)


FINAL = ("Uploaded", "UploadFailure", "BadMessage", "NotSupportedOperation", "PermissionDenied")


def statuses(csms, rid):
    return [p["status"] for p in csms.calls("LogStatusNotification") if p.get("requestId") == rid]


def finished(csms, rid, timeout=60):
    """The LogStatusNotification statuses of upload rid once a final one came."""
    return csms.wait(lambda: (statuses(csms, rid) and statuses(csms, rid)[-1] in FINAL
                              and statuses(csms, rid)), timeout, "upload %d to finish" % rid)


def window(log_text, lo, hi):
    """The lines of a log stamped within [lo, hi] (by their first 19 characters)."""
    return "".join(ln for ln in log_text.splitlines(True) if lo[:19] <= ln[:19] <= hi[:19]).encode()


# ---------------------------------------------------------------- tests

def test_put_window_auth_and_each_http_failure(tmp_path, runtime, csms, http):
    prefill(tmp_path)
    st = start(tmp_path, runtime, csms)
    try:
        lo, hi = T0 + "10.000Z", T0 + "19.999Z"
        r = getlog(csms, http.url("/auth/", CRED), 1, oldest=lo, latest=hi)
        assert r["status"] == "Accepted"
        f = r["filename"]
        assert f.startswith("CS-1-DiagnosticsLog-") and f.endswith("Z.log") and len(f) == len("CS-1-DiagnosticsLog-20260101T000000Z.log")
        assert finished(csms, 1) == ["Uploading", "Uploaded"]
        req = http.requests[0]
        assert req["method"] == "PUT" and req["path"] == "/auth/" + f
        assert req["headers"]["Content-Type"] == "text/plain"
        # The uploaded bytes are what the station's log holds for the window.
        assert req["body"] == window(st.read_log(), lo, hi)
        assert req["body"].count(b"\n") == 10 and req["body"].startswith((T0 + "10.000Z old entry 10").encode())

        # No credentials, wrong ones, 403: PermissionDenied; 500: UploadFailure.
        getlog(csms, http.url("/auth/"), 2)
        assert finished(csms, 2) == ["Uploading", "PermissionDenied"]
        getlog(csms, http.url("/auth/", "logs:nope@"), 3)
        assert finished(csms, 3) == ["Uploading", "PermissionDenied"]
        getlog(csms, http.url("/code/403/"), 4)
        assert finished(csms, 4) == ["Uploading", "PermissionDenied"]
        n = len(http.requests)
        getlog(csms, http.url("/code/500/"), 5, retries=2, retryInterval=1)
        assert finished(csms, 5) == ["Uploading", "UploadFailure"]
        assert len(http.requests) - n == 3          # retries=2: three attempts
        getlog(csms, http.url("/code/500/"), 6, retries=0)
        assert finished(csms, 6) == ["Uploading", "UploadFailure"]
        assert len(http.requests) - n == 4          # retries=0: one attempt

        # Malformed location, unsupported scheme, nothing listening.
        assert getlog(csms, "127.0.0.1/up/", 7)["status"] == "Accepted"
        assert finished(csms, 7) == ["BadMessage"]
        getlog(csms, "sftp://127.0.0.1/up/", 8)
        assert finished(csms, 8) == ["NotSupportedOperation"]
        getlog(csms, "http://127.0.0.1:1/up/", 9)
        assert finished(csms, 9) == ["Uploading", "UploadFailure"]

        # Nothing in the window: Rejected, no filename, no notification.
        r = getlog(csms, http.url(), 10, oldest="2099-01-01T00:00:00.000Z")
        assert r == {"status": "Rejected"}
        time.sleep(0.5)
        assert statuses(csms, 10) == []
        sec = st.read_log("security")
        assert "HTTP 401" in sec and "HTTP 403" in sec and "connection failure to 127.0.0.1:1" in sec
        assert "s3cr" not in sec and "s3cr" not in st.read_log()
        assert all(p.get("requestId") for p in csms.calls("LogStatusNotification"))
    finally:
        st.stop()


def test_post_multipart_of_the_security_log(tmp_path, runtime, csms, http):
    prefill(tmp_path, "security", text="old security event")
    st = start(tmp_path, runtime, csms, log={"upload": "POST"})
    try:
        lo, hi = T0 + "00.000Z", T0 + "59.000Z"
        r = getlog(csms, http.url("/form/upload", CRED), 21, "SecurityLog", lo, hi)
        assert r["status"] == "Accepted" and "-SecurityLog-" in r["filename"]
        assert finished(csms, 21) == ["Uploading", "Uploaded"]
        req = http.requests[0]
        assert req["method"] == "POST" and req["path"] == "/form/upload"
        assert req["headers"]["Authorization"] == "Basic " + base64.b64encode(
            ("%s:%s" % (USER, PASSWORD)).encode()).decode()
        ctype = req["headers"]["Content-Type"]
        assert ctype.startswith("multipart/form-data; boundary=")
        b = ctype.split("boundary=", 1)[1].encode()
        body = req["body"]
        head, rest = body.split(b"\r\n\r\n", 1)
        assert head.split(b"\r\n") == [
            b"--" + b, b'Content-Disposition: form-data; name="uploadedfile"; filename="%s"' % r["filename"].encode(),
            b"Content-Type: text/plain"]
        assert rest.endswith(b"\r\n--" + b + b"--\r\n")
        content = rest[:-len(b + b"\r\n--" + b"--\r\n")]
        assert content == window(st.read_log("security"), lo, hi) and content.count(b"\n") == 60
    finally:
        st.stop()


def test_ftp_user_anonymous_and_530(tmp_path, runtime, csms):
    ftp = Ftp(str(tmp_path))
    prefill(tmp_path)
    st = start(tmp_path, runtime, csms)
    try:
        r = getlog(csms, ftp.url("/", CRED), 31, oldest=T0 + "00.000Z", latest=T0 + "59.000Z")
        assert finished(csms, 31) == ["Uploading", "Uploaded"]
        with open(os.path.join(ftp.user_dir, r["filename"]), "rb") as f:
            assert f.read() == window(st.read_log(), T0 + "00", T0 + "59")
        os.makedirs(os.path.join(ftp.anon_dir, "in"))
        getlog(csms, ftp.url("/in/station.log"), 32)
        assert finished(csms, 32) == ["Uploading", "Uploaded"]
        with open(os.path.join(ftp.anon_dir, "in", "station.log"), "rb") as f:
            whole = f.read()
        assert whole.startswith((T0 + "00.000Z old entry 0\n").encode())
        assert st.read_log().encode().startswith(whole)
        getlog(csms, ftp.url("/", "logs:wrong@"), 33)
        assert finished(csms, 33) == ["Uploading", "PermissionDenied"]
        assert "FTP 530" in st.read_log("security")
    finally:
        st.stop()
        ftp.stop()


def test_second_getlog_cancels_while_monitoring_and_messages_carry_on(tmp_path, runtime, csms, http):
    mon = [{"id": 1, "type": "UpperThreshold", "value": 90, "severity": 1, "origin": "HardWired"}]
    st = start(tmp_path, runtime, csms, variables=[sp.temperature(monitors=mon)])
    try:
        trig = {"requestedMessage": "LogStatusNotification"}
        assert csms.request("CS-1", "TriggerMessage", trig) == {"status": "Accepted"}
        idle = csms.wait(lambda: [p for p in csms.calls("LogStatusNotification") if p["status"] == "Idle"],
                         what="Idle")[0]
        assert idle == {"status": "Idle"}

        assert getlog(csms, http.url("/slow/"), 41)["status"] == "Accepted"
        csms.wait(lambda: http.requests, what="the slow upload to arrive")
        assert statuses(csms, 41) == ["Uploading"]
        # Meanwhile: the monitor loop fires, requests are served, the trigger tells the status.
        sp.write_sensor(tmp_path, 95)
        ev = csms.wait(lambda: csms.events(), what="alert during the upload")[0]
        assert ev["actualValue"] == "95"
        assert csms.request("CS-1", "SetMonitoringLevel", {"severity": 5}) == {"status": "Accepted"}
        csms.request("CS-1", "TriggerMessage", trig)
        csms.wait(lambda: statuses(csms, 41) == ["Uploading", "Uploading"], what="triggered Uploading")

        r = getlog(csms, http.url("/fast/"), 42)
        assert r["status"] == "AcceptedCanceled" and r["filename"]
        assert finished(csms, 42) == ["Uploading", "Uploaded"]
        assert statuses(csms, 41) == ["Uploading", "Uploading", "AcceptedCanceled"]
        seq = [(p["status"], p.get("requestId")) for p in csms.calls("LogStatusNotification")]
        assert seq[-3:] == [("AcceptedCanceled", 41), ("Uploading", 42), ("Uploaded", 42)]
        assert http.requests[-1]["path"] == "/fast/" + r["filename"]
        http.release.set()
        time.sleep(0.5)
        assert statuses(csms, 41)[-1] == "AcceptedCanceled"     # never Uploaded after all
        csms.request("CS-1", "TriggerMessage", trig)
        csms.wait(lambda: len([p for p in csms.calls("LogStatusNotification") if p["status"] == "Idle"]) == 2,
                  what="Idle again")
    finally:
        st.stop()


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    ca, other = trustme.CA(), trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(ctx)
    good, bad = d / "ca.pem", d / "other.pem"
    good.write_bytes(ca.cert_pem.bytes())
    bad.write_bytes(other.cert_pem.bytes())
    return ctx, str(good), str(bad)


@pytest.mark.parametrize("which", ["right", "wrong"])
def test_https_against_the_board_ca(tmp_path, runtime, csms, tls, which):
    ctx, good, bad = tls
    srv = Http(tls=ctx)
    prefill(tmp_path)
    ca = good if which == "right" else bad
    st = start(tmp_path, runtime, csms, csms={"url": csms.url, "password": None, "ca": ca})
    try:
        lo, hi = T0 + "00.000Z", T0 + "59.000Z"
        getlog(csms, srv.url("/up/", CRED), 51, oldest=lo, latest=hi)
        if which == "right":
            assert finished(csms, 51) == ["Uploading", "Uploaded"]
            assert srv.requests[0]["body"] == window(st.read_log(), lo, hi)
        else:
            assert finished(csms, 51) == ["Uploading", "UploadFailure"]
            assert srv.requests == []
            assert "TLS failure to 127.0.0.1:%d" % srv.port in st.read_log("security")
    finally:
        st.stop()
        srv.stop()


def test_1mb_log_uploads_whole_and_by_window(tmp_path, runtime, csms, http):
    for seg in (0, 1):      # 2 x 512 KB of 64-byte lines
        prefill(tmp_path, seg=seg, lines=8192, width=64)
    st = start(tmp_path, runtime, csms, log={"bytes": 4 << 20, "files": 4})
    try:
        getlog(csms, http.url(), 61)
        assert finished(csms, 61, timeout=120) == ["Uploading", "Uploaded"]
        body = http.requests[0]["body"]
        assert len(body) > 1 << 20
        assert st.read_log().encode().startswith(body)   # the log as it was when the upload began
        lo, hi = T0 + "00.000Z", T0 + "59.000Z"
        getlog(csms, http.url(), 62, oldest=lo, latest=hi)
        assert finished(csms, 62, timeout=120) == ["Uploading", "Uploaded"]
        body = http.requests[1]["body"]
        assert len(body) == 1 << 20 and body == window(st.read_log(), lo, hi)
    finally:
        st.stop()
