"""`make sim`'s console (tools/sim.py) for a few seconds on a fresh storage
folder and a free port: the station boots under MicroPython, a monitor set
from the console fires events, GetLog without a URL lands in the local
upload receiver, and both processes stop by themselves."""
import os
import socket
import subprocess
import sys

from conftest import ROOT


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def test_sim_boots_shows_events_and_a_log_upload(tmp_path):
    port = free_port()
    storage = tmp_path / "state"
    r = subprocess.run([sys.executable, "tools/sim.py", "--port", str(port), "--storage", str(storage),
                        "--seconds", "5", "--do", "set periodic 1 5 ControlMetering.Voltage -", "--do", "getlog",
                        "--do", "status"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "CSMS listening on ws://127.0.0.1:%d/ocpp" % port in out
    assert "== station SIM-1 connected (connection #1)" in out
    assert "BOOT PowerUp (Acme Sim, firmware 0.1)" in out
    assert '<- SetVariableMonitoring result {"setMonitoringResult": [{"status": "Accepted"' in out
    assert "EVENT #" in out and "Periodic CustomMonitor          ControlMetering.Voltage = " in out, out
    assert "UPLOAD PUT SIM-1-DiagnosticsLog-" in out, out
    assert "LOG Uploaded" in out, out
    assert "SCHEMA VIOLATION" not in out and "Traceback" not in out, out
    assert out.rstrip().endswith("stopped")
    assert os.path.isdir(storage / "logs")                      # the fresh folder was the station's
    assert not os.path.exists(os.path.join(ROOT, "boards", ".sim-%d.json" % port))


def test_ctrl_c_stops_console_and_station(tmp_path):
    import queue
    import re
    import signal
    import threading
    import time
    port = free_port()
    p = subprocess.Popen([sys.executable, "-u", "tools/sim.py", "--port", str(port), "--storage",
                          str(tmp_path / "state")], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    lines = queue.Queue()
    seen = []
    threading.Thread(target=lambda: [lines.put(ln) for ln in p.stdout] and None, daemon=True).start()

    def until(part, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            try:
                ln = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(ln)
            if part in ln:
                return ln
        raise AssertionError("no %r in:\n%s" % (part, "".join(seen)))

    try:
        until("station connected; type help")
        pid = int(re.search(r"station process (\d+) started", "".join(seen)).group(1))
        p.stdin.write("status\n")
        p.stdin.flush()
        until("station SIM-1 ")                  # the console answers while the station runs
        p.send_signal(signal.SIGINT)             # what Ctrl-C in the terminal sends the console
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:        # say where it hangs: every thread's stack
            p.send_signal(signal.SIGUSR1)
            time.sleep(2)
            while not lines.empty():
                seen.append(lines.get())
            raise AssertionError("console still running 30 s after SIGINT:\n" + "".join(seen))
        until("stopped", 10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    assert p.returncode == 0, "".join(seen)
    for _ in range(50):                       # the station got its SIGINT and is gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("station process %d still running" % pid)
