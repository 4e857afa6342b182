"""`make sim`: a local CSMS console and the station under MicroPython with the sim board.

Shows a live view (connection, boots, monitors, events as they arrive,
reports, log uploads, customer information, the station's own log lines)
and takes commands on stdin; `help` lists them. Ctrl-C (or `quit`) stops
both. `getlog` without a URL starts an HTTP upload receiver on 127.0.0.1
and prints what arrives (kept in sim-state/uploads/).

    python tools/sim.py [--board boards/sim.json] [--runtime micropython|cpython]
                        [--port N] [--storage DIR | --fresh] [--do CMD ...] [--seconds N]

--do runs console commands once the station is connected (repeatable);
--seconds N stops after N seconds without reading stdin (tests, demos).
"""
import argparse
import faulthandler
import http.server
import json
import os
import signal
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from csms import CSMS  # noqa: E402

HELP = """commands (component defaults to EVSE 1, variable to Temperature):
  set <upper|lower|delta|periodic|aligned> <value> [severity] [Component.]Variable [evse]
                                       SetVariableMonitoring, e.g. set upper 30 5 EVSE.Current
                                       or set lower 11 5 ControlMetering.Voltage -
  clear <id> [id ...]                  ClearVariableMonitoring
  base <All|FactoryDefault|HardWiredOnly>   SetMonitoringBase
  level <0-9>                          SetMonitoringLevel
  report [Threshold|Delta|Periodic]    GetMonitoringReport (monitors: the same, all of them)
  getlog [url] [SecurityLog]           GetLog; without a url to the local upload receiver
  customer <idToken|cust-id> [clear]   CustomerInformation (report, or report and clear)
  raw <Action> <json payload>          any CALL
  status                               connection, counts, uploads
  help, quit"""

TYPES = {"upper": "UpperThreshold", "lower": "LowerThreshold", "delta": "Delta",
         "periodic": "Periodic", "aligned": "PeriodicClockAligned"}


def stamp():
    return time.strftime("%H:%M:%S")


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# ---- the upload receiver ------------------------------------------------------------

class Uploads:
    """HTTP PUT/POST receiver on 127.0.0.1 for GetLog: prints and keeps what arrives."""

    def __init__(self, folder):
        self.folder = folder
        self.server = None
        self.count = 0

    def url(self):
        if self.server is None:
            os.makedirs(self.folder, exist_ok=True)
            owner = self

            class Handler(http.server.BaseHTTPRequestHandler):
                def _take(self):
                    n = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(n) if n else b""
                    ctype = self.headers.get("Content-Type") or ""
                    name = self.path.rsplit("/", 1)[-1].split("?")[0] or "upload.log"
                    if ctype.startswith("multipart/form-data") and b"\r\n\r\n" in body:
                        head, rest = body.split(b"\r\n\r\n", 1)
                        if b'filename="' in head:
                            name = head.split(b'filename="', 1)[1].split(b'"', 1)[0].decode() or name
                        bnd = ctype.split("boundary=", 1)[-1].encode()
                        body = rest.split(b"\r\n--" + bnd, 1)[0]
                    owner.arrived(self.command, name, body)
                    self.send_response(201 if self.command == "PUT" else 200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

                do_PUT = _take
                do_POST = _take

                def log_message(self, *a):
                    pass

            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            threading.Thread(target=self.server.serve_forever, daemon=True).start()
            say("%s upload receiver listening on http://127.0.0.1:%d/uploads/" % (
                stamp(), self.server.server_address[1]))
        return "http://127.0.0.1:%d/uploads/" % self.server.server_address[1]

    def arrived(self, method, name, body):
        self.count += 1
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        path = os.path.join(self.folder, safe)
        with open(path, "wb") as f:
            f.write(body)
        lines = body.decode(errors="replace").splitlines()
        say("%s UPLOAD %s %s: %d bytes, %d lines -> %s" % (stamp(), method, name, len(body), len(lines),
                                                          os.path.relpath(path, ROOT)))
        for ln in (lines[:3] + (["  ..."] if len(lines) > 6 else []) + lines[-3:]) if len(lines) > 6 else lines:
            say("    " + ln[:150])

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# ---- the live view ------------------------------------------------------------------

class View:
    def __init__(self, csms, cid):
        self.csms = csms
        self.cid = cid
        self.seen = 0
        self.actions = {}      # message id of a CALL we sent -> its action
        self.linked = False
        self.connects = 0
        self.events = 0
        self.boots = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            with self.csms.cond:
                self.csms.cond.wait(0.2)
                frames = self.csms.frames[self.seen:]
                self.seen += len(frames)
                up = self.cid in self.csms.links
            for f in frames:
                self.show(f[0], f[2])
            if up != self.linked:
                self.linked = up
                if up:
                    self.connects += 1
                say("%s == station %s %s" % (stamp(), self.cid, "connected (connection #%d)" % self.connects
                                                  if up else "disconnected"))
            for v in self.csms.violations[:]:
                say("SCHEMA VIOLATION: %s" % v)
                self.csms.violations.remove(v)

    def show(self, direction, msg):
        if not isinstance(msg, list) or len(msg) < 3:
            say("  ?? %r" % (msg,))
            return
        t = stamp()
        if msg[0] == 2 and direction == "in":
            action, p = msg[2], msg[3]
            if action == "NotifyEvent":
                for e in p["eventData"]:
                    self.events += 1
                    say("%s EVENT #%d %-8s %-22s %s%s.%s = %s%s (monitor %s)" % (
                        t, e["eventId"], e["trigger"], e["eventNotificationType"], e["component"]["name"],
                        "@%d" % e["component"]["evse"]["id"] if e["component"].get("evse") else "",
                        e["variable"]["name"], e["actualValue"], " CLEARED" if e.get("cleared") else "",
                        e.get("variableMonitoringId", "-")))
            elif action == "NotifyMonitoringReport":
                for md in p.get("monitor", []):
                    for vm in md["variableMonitoring"]:
                        say("%s   monitor %3d %-21s value %-8s severity %d  %s.%s" % (
                            t, vm["id"], vm["type"], vm["value"], vm["severity"], md["component"]["name"],
                            md["variable"]["name"]))
            elif action == "BootNotification":
                self.boots += 1
                cs = p["chargingStation"]
                say("%s BOOT %s (%s %s, firmware %s)" % (t, p["reason"], cs.get("vendorName"), cs.get("model"),
                                                        cs.get("firmwareVersion", "?")))
            elif action == "LogStatusNotification":
                say("%s LOG %s (request %s)" % (t, p["status"], p.get("requestId", "-")))
            elif action == "NotifyCustomerInformation":
                say("%s CUSTOMER (request %d, part %d%s): %s" % (t, p["requestId"], p["seqNo"],
                                                                 ", more" if p.get("tbc") else "", p["data"][:300]))
            elif action != "Heartbeat":
                say("%s <- %s %s" % (t, action, json.dumps(p)[:200]))
        elif msg[0] == 2:
            self.actions[msg[1]] = msg[2]
            if msg[2] not in ("BootNotification", "Heartbeat"):
                say("%s -> %s %s" % (t, msg[2], json.dumps(msg[3])[:200]))
        elif msg[0] == 3 and direction == "in":
            say("%s <- %s result %s" % (t, self.actions.pop(msg[1], "?"), json.dumps(msg[2])[:300]))
        elif msg[0] == 4:
            say("%s %s CALLERROR %s %s" % (t, "<-" if direction == "in" else "->", msg[2], msg[3]))


# ---- commands -----------------------------------------------------------------------

def _target(w, i):
    """Component and variable from 'Component.Variable' or 'Variable', evse from the next word."""
    spec = w[i] if len(w) > i else "Temperature"
    comp, var = spec.split(".", 1) if "." in spec else ("EVSE", spec)
    c = {"name": comp}
    evse = w[i + 1] if len(w) > i + 1 else ("1" if comp in ("EVSE", "Connector") else "-")
    if evse != "-":
        c["evse"] = {"id": int(evse)}
    return c, {"name": var}


_rid = [int(time.time()) % 100000]


def command(csms, cid, line, uploads, view):
    w = line.split()
    if not w:
        return
    c = w[0].lower()
    _rid[0] += 1
    rid = _rid[0]
    if c == "help":
        say(HELP)
    elif c == "set":
        t = TYPES.get(w[1].lower().replace("threshold", "")) if len(w) > 2 else None
        if t is None:
            say("set <upper|lower|delta|periodic|aligned> <value> [severity] [Component.]Variable [evse]")
            return
        comp, var = _target(w, 4)
        csms.request(cid, "SetVariableMonitoring", {"setMonitoringData": [
            {"value": float(w[2]), "type": t, "severity": int(w[3]) if len(w) > 3 else 5,
             "component": comp, "variable": var}]})
    elif c == "clear":
        csms.request(cid, "ClearVariableMonitoring", {"id": [int(x) for x in w[1:]]})
    elif c == "base":
        csms.request(cid, "SetMonitoringBase", {"monitoringBase": w[1]})
    elif c == "level":
        csms.request(cid, "SetMonitoringLevel", {"severity": int(w[1])})
    elif c in ("report", "monitors"):
        p = {"requestId": rid}
        if len(w) > 1:
            p["monitoringCriteria"] = [w[1] + "Monitoring"]
        csms.request(cid, "GetMonitoringReport", p)
    elif c == "getlog":
        url = w[1] if len(w) > 1 and "://" in w[1] else uploads.url()
        kind = [x for x in w[1:] if "://" not in x]
        csms.request(cid, "GetLog", {"logType": kind[0] if kind else "DiagnosticsLog", "requestId": rid,
                                     "log": {"remoteLocation": url}})
    elif c == "customer":
        p = {"requestId": rid, "report": True, "clear": len(w) > 2 and w[2] == "clear"}
        if w[1].startswith("cust"):
            p["customerIdentifier"] = w[1]
        else:
            p["idToken"] = {"idToken": w[1], "type": "ISO14443"}
        csms.request(cid, "CustomerInformation", p)
    elif c == "raw":
        csms.request(cid, w[1], json.loads(" ".join(w[2:])))
    elif c == "status":
        say("station %s %s, %d connections, %d boots, %d events, %d uploads" % (
            cid, "connected" if view.linked else "NOT connected", view.connects, view.boots, view.events,
            uploads.count))
    elif c == "quit":
        raise KeyboardInterrupt
    else:
        say("unknown command; help lists them")


# ---- the station process ------------------------------------------------------------

def station_cmd(runtime, board_path):
    if runtime == "cpython":
        return [sys.executable, "firmware/main.py", board_path]
    import mpy_build
    tree, _ = mpy_build.build()     # what a board runs: the mpy-cross tree
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    heap = os.environ.get("MP_HEAP", "384k")
    return [mp, "-X", "heapsize=" + heap, "-c",
            "import sys; sys.path.insert(0, %r); import main; main.main(%r)" % (tree, board_path)]


def pump(proc):
    """The station's own output (its log lines, with echo on), indented."""
    for line in proc.stdout:
        say("   | " + line.rstrip("\n"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", default="boards/sim.json")
    ap.add_argument("--runtime", default="micropython", choices=("micropython", "cpython"))
    ap.add_argument("--seconds", type=float, default=0, help="run this long without a console, then stop")
    ap.add_argument("--port", type=int, default=0, help="CSMS port (0: the board's)")
    ap.add_argument("--storage", help="the station's storage folder (instead of the board's)")
    ap.add_argument("--fresh", action="store_true", help="start with empty station storage")
    ap.add_argument("--do", action="append", default=[], help="a console command to run once connected")
    a = ap.parse_args()
    # `kill -USR1` prints where every thread is (a console that hangs says where).
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    bpath = os.path.join(ROOT, a.board)
    with open(bpath) as f:
        board = json.load(f)
    port = a.port or int(board["csms"]["url"].rsplit(":", 1)[1].split("/")[0])
    cid = board["station"]["id"]
    bdir = os.path.dirname(bpath)
    storage = os.path.abspath(a.storage) if a.storage else os.path.join(bdir, board.get("storage", "state"))
    if a.fresh:
        shutil.rmtree(storage, ignore_errors=True)
    run_board = bpath
    if a.port or a.storage:
        # A copy beside the board file, so its relative paths still hold.
        board["csms"]["url"] = "ws://127.0.0.1:%d/ocpp" % port
        board["storage"] = storage
        run_board = os.path.join(bdir, ".sim-%d.json" % port)
        with open(run_board, "w") as f:
            json.dump(board, f)
    csms = CSMS(port=port).start()
    if csms.server is None:
        say("cannot listen on 127.0.0.1:%d (in use?): try --port" % port)
        return 1
    csms.heartbeat = 30
    uploads = Uploads(os.path.join(ROOT, "sim-state", "uploads"))
    say("CSMS listening on %s; station %s (%s, %s); storage %s" % (
        csms.url, cid, a.board, a.runtime,
        os.path.relpath(storage, ROOT) if storage.startswith(ROOT + os.sep) else storage))
    view = View(csms, cid)
    threading.Thread(target=view.run, daemon=True).start()
    st = subprocess.Popen(station_cmd(a.runtime, os.path.relpath(run_board, ROOT)), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    threading.Thread(target=pump, args=(st,), daemon=True).start()
    say("station process %d started" % st.pid)
    code = 0
    try:
        csms.wait_connected(cid, 60)
        say("%s station connected; type help for commands" % stamp())
        for line in a.do:
            say("> " + line)
            try:
                command(csms, cid, line, uploads, view)
            except AssertionError as e:
                say("error: %s" % e)
        if a.seconds:
            end = time.time() + a.seconds
            while time.time() < end and st.poll() is None:
                time.sleep(0.2)
        else:
            while st.poll() is None:
                line = sys.stdin.readline()
                if not line:
                    while st.poll() is None:
                        time.sleep(0.5)
                    break
                try:
                    command(csms, cid, line.strip(), uploads, view)
                except KeyboardInterrupt:
                    raise
                except Exception as e:
                    say("error: %r" % (e,))
        if st.poll() is not None:
            say("station exited with status %d" % st.returncode)
            code = 1
    except KeyboardInterrupt:
        pass
    except AssertionError as e:
        say("error: %s" % e)
        code = 1
    finally:
        view.stop.set()
        if st.poll() is None:
            st.send_signal(signal.SIGINT)
            try:
                st.wait(5)
            except subprocess.TimeoutExpired:
                st.kill()
                st.wait(5)
        csms.stop()
        uploads.stop()
        if run_board != bpath:
            try:
                os.remove(run_board)
            except OSError:
                pass
        say("stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
