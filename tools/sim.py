"""`make sim`: a local CSMS console and the station under MicroPython with the sim board.

Shows a live view (connection, boots, events, reports, log uploads, customer
information) and takes commands on stdin; `help` lists them. Ctrl-C (or
`quit`) stops both. `--seconds N` runs N seconds without a console, for tests.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from csms import CSMS  # noqa: E402

HELP = """commands:
  set <Upper|Lower|Delta|Periodic|Aligned> <value> [severity] [variable] [evse]   SetVariableMonitoring
  clear <id> [id ...]                  ClearVariableMonitoring
  base <All|FactoryDefault|HardWiredOnly>   SetMonitoringBase
  level <0-9>                          SetMonitoringLevel
  report [Threshold|Delta|Periodic]    GetMonitoringReport
  getlog <url> [SecurityLog]           GetLog (e.g. http://127.0.0.1:8080/up)
  customer <idToken|customerId> [clear]     CustomerInformation (report, or report+clear)
  raw <json payload> <Action>          any CALL
  monitors                             the station's monitors (a report, quietly)
  quit"""

TYPES = {"upper": "UpperThreshold", "lower": "LowerThreshold", "delta": "Delta",
         "periodic": "Periodic", "aligned": "PeriodicClockAligned"}


def show(direction, cid, msg):
    if not isinstance(msg, list):
        print("  ?? %r" % (msg,))
        return
    t = time.strftime("%H:%M:%S")
    if msg[0] == 2 and direction == "in":
        action, p = msg[2], msg[3]
        if action == "NotifyEvent":
            for e in p["eventData"]:
                print("%s EVENT #%d %-8s %-22s %s.%s = %s%s (monitor %s)" % (
                    t, e["eventId"], e["trigger"], e["eventNotificationType"], e["component"]["name"],
                    e["variable"]["name"], e["actualValue"], " CLEARED" if e.get("cleared") else "",
                    e.get("variableMonitoringId", "-")))
        elif action == "NotifyMonitoringReport":
            for md in p.get("monitor", []):
                for vm in md["variableMonitoring"]:
                    print("%s   monitor %3d %-21s value %-8s severity %d  %s.%s" % (
                        t, vm["id"], vm["type"], vm["value"], vm["severity"], md["component"]["name"],
                        md["variable"]["name"]))
        elif action == "Heartbeat":
            pass
        else:
            print("%s <- %s %s" % (t, action, json.dumps(p)[:200]))
    elif msg[0] == 2:
        print("%s -> %s %s" % (t, msg[2], json.dumps(msg[3])[:200]))
    elif msg[0] == 3 and direction == "in":
        print("%s <- result %s" % (t, json.dumps(msg[2])[:300]))
    elif msg[0] == 4:
        print("%s %s CALLERROR %s %s" % (t, "<-" if direction == "in" else "->", msg[2], msg[3]))


def command(csms, cid, line):
    w = line.split()
    if not w:
        return
    c = w[0].lower()
    if c == "help":
        print(HELP)
    elif c == "set":
        t = TYPES.get(w[1].lower().replace("threshold", ""))
        if t is None:
            print("type: upper, lower, delta, periodic or aligned")
            return
        var = w[4] if len(w) > 4 else "Temperature"
        comp = {"name": "EVSE", "evse": {"id": int(w[5]) if len(w) > 5 else 1}}
        csms.request(cid, "SetVariableMonitoring", {"setMonitoringData": [
            {"value": float(w[2]), "type": t, "severity": int(w[3]) if len(w) > 3 else 5,
             "component": comp, "variable": {"name": var}}]})
    elif c == "clear":
        csms.request(cid, "ClearVariableMonitoring", {"id": [int(x) for x in w[1:]]})
    elif c == "base":
        csms.request(cid, "SetMonitoringBase", {"monitoringBase": w[1]})
    elif c == "level":
        csms.request(cid, "SetMonitoringLevel", {"severity": int(w[1])})
    elif c in ("report", "monitors"):
        p = {"requestId": int(time.time()) % 100000}
        if len(w) > 1:
            p["monitoringCriteria"] = [w[1] + "Monitoring"]
        csms.request(cid, "GetMonitoringReport", p)
    elif c == "getlog":
        csms.request(cid, "GetLog", {"logType": w[2] if len(w) > 2 else "DiagnosticsLog",
                                     "requestId": int(time.time()) % 100000,
                                     "log": {"remoteLocation": w[1]}})
    elif c == "customer":
        p = {"requestId": int(time.time()) % 100000, "report": True, "clear": len(w) > 2 and w[2] == "clear"}
        if w[1].startswith("cust"):
            p["customerIdentifier"] = w[1]
        else:
            p["idToken"] = {"idToken": w[1], "type": "ISO14443"}
        csms.request(cid, "CustomerInformation", p)
    elif c == "raw":
        csms.request(cid, w[-1], json.loads(" ".join(w[1:-1])))
    elif c == "quit":
        raise KeyboardInterrupt
    else:
        print("unknown command; help lists them")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--board", default="boards/sim.json")
    ap.add_argument("--runtime", default="micropython", choices=("micropython", "cpython"))
    ap.add_argument("--seconds", type=float, default=0, help="run this long without a console, then stop")
    ap.add_argument("--port", type=int, default=0, help="CSMS port (0: the board's)")
    ap.add_argument("--fresh", action="store_true", help="start with empty station storage")
    a = ap.parse_args()
    with open(os.path.join(ROOT, a.board)) as f:
        board = json.load(f)
    port = a.port or int(board["csms"]["url"].rsplit(":", 1)[1].split("/")[0])
    cid = board["station"]["id"]
    bdir = os.path.dirname(os.path.join(ROOT, a.board))
    if a.fresh:
        shutil.rmtree(os.path.join(bdir, board.get("storage", "state")), ignore_errors=True)
    csms = CSMS(port=port).start()
    csms.heartbeat = 30
    print("CSMS listening on %s; station %s (%s, %s)" % (csms.url, cid, a.board, a.runtime))
    seen = [0]
    stop = threading.Event()

    def view():
        while not stop.is_set():
            with csms.cond:
                csms.cond.wait(0.2)
                frames = csms.frames[seen[0]:]
                seen[0] += len(frames)
            for d, c, m in ((f[0], f[1], f[2]) for f in frames):
                show(d, c, m)
            for v in csms.violations[:]:
                print("SCHEMA VIOLATION:", v)
                csms.violations.remove(v)

    th = threading.Thread(target=view, daemon=True)
    th.start()
    bin_dir = os.path.dirname(sys.executable)
    exe = [os.path.join(bin_dir, "micropython"), "-X", "heapsize=256k"] if a.runtime == "micropython" \
        else [sys.executable]
    path = os.path.join(ROOT, a.board)
    if a.port:
        # The same board on another port: a copy beside it, so its relative paths still hold.
        board["csms"]["url"] = "ws://127.0.0.1:%d/ocpp" % port
        path = os.path.join(bdir, ".sim-%d.json" % port)
        with open(path, "w") as f:
            json.dump(board, f)
    cmd = exe + ["firmware/main.py", os.path.relpath(path, ROOT)]
    st = subprocess.Popen(cmd, cwd=ROOT)
    try:
        csms.wait_connected(cid, 30)
        print("station connected; type help for commands")
        if a.seconds:
            time.sleep(a.seconds)
        else:
            while True:
                line = sys.stdin.readline()
                if not line:
                    while st.poll() is None:
                        time.sleep(0.5)
                    break
                try:
                    command(csms, cid, line.strip())
                except KeyboardInterrupt:
                    raise
                except Exception as e:
                    print("error:", e)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if st.poll() is None:
            st.send_signal(signal.SIGINT)
            try:
                st.wait(3)
            except subprocess.TimeoutExpired:
                st.kill()
        csms.stop()
        print("stopped")


if __name__ == "__main__":
    main()
