"""Run the firmware as a real process (MicroPython unix port or CPython) for end-to-end tests."""
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
RUNTIMES = {
    "micropython": [os.path.join(BIN, "micropython"), "-X", "heapsize=" + os.environ.get("MP_HEAP", "384k")],
    "cpython": [sys.executable],
}


def board(tmp, csms_url, sid="CS-1", variables=None, **extra):
    """Write a host board file under tmp and return its path."""
    b = {"board": "host",
         "station": {"id": sid, "vendor": "Acme", "model": "M1", "serial": "SN1", "firmware": "0.1"},
         "csms": {"url": csms_url, "password": None, "ca": None},
         "storage": "state", "sample_ms": 100,
         "variables": variables if variables is not None else [temperature()],
         "customers": []}
    b.update(extra)
    p = os.path.join(str(tmp), "board.json")
    with open(p, "w") as f:
        json.dump(b, f, indent=1)
    return p


def temperature(evse=1, path="sensors/evse1-temp", monitors=None, name="Temperature"):
    return {"component": {"name": "EVSE", "evse": {"id": evse}}, "variable": {"name": name},
            "dataType": "decimal", "unit": "Celsius", "min": -40, "max": 150, "mutability": "ReadOnly",
            "sensor": {"driver": "file", "path": path}, "monitors": monitors or []}


def write_sensor(tmp, value, path="sensors/evse1-temp"):
    p = os.path.join(str(tmp), path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p + ".new", "w") as f:
        f.write(str(value))
    os.replace(p + ".new", p)


class Station:
    def __init__(self, runtime, board_path, main="firmware/main.py", env=None):
        self.runtime = runtime
        self.board_path = board_path
        self.main = main
        self.env = env
        self.proc = None
        self.out = os.path.join(os.path.dirname(board_path), "station.out")

    def start(self):
        if self.runtime == "micropython" and self.main == "firmware/main.py":
            # MicroPython runs the mpy-cross tree, as a board does (tools/mpy_build.py).
            sys.path.insert(0, os.path.join(ROOT, "tools"))
            import mpy_build
            tree, _ = mpy_build.build()
            heap = (self.env or {}).get("MP_HEAP", os.environ.get("MP_HEAP", "384k"))
            cmd = [RUNTIMES["micropython"][0], "-X", "heapsize=" + heap, "-c",
                   "import sys; sys.path.insert(0, %r); import main; main.main(%r)" % (tree, self.board_path)]
        else:
            cmd = RUNTIMES[self.runtime] + [self.main, self.board_path]
        self.log = open(self.out, "ab")
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """kill -9: a power cut."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.log and not self.log.closed:
            self.log.close()

    def output(self):
        with open(self.out, "rb") as f:
            return f.read().decode(errors="replace")

    def storage(self, *names):
        return os.path.join(os.path.dirname(self.board_path), "state", *names)

    def read_log(self, name="diagnostics"):
        d = self.storage("logs")
        out = ""
        for n in sorted(os.listdir(d), key=lambda n: (n.split(".")[0], int(n.split(".")[1]))):
            if n.startswith(name + "."):
                with open(os.path.join(d, n)) as f:
                    out += f.read()
        return out
