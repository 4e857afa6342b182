"""The end-to-end heap scenario, in-process, on MicroPython (and CPython).

    micropython -X heapsize=N -c "import sys; sys.path[:0] = [TREE, BENCH_MPY]; import bench_scenario; bench_scenario.run(ROOT, URL, FRAMES, SAMPLE)"

Boots a real Station from the .mpy tree on a host board (4 file sensors,
one seeded customer; the message limits, queue and log sizes of the
esp32-devkitc board), drops the board specs as main() does, puts kit.FakeLink where the WebSocket would be (the
CSMS end: answers every CALL, through the real decode + validate), and
drives it as a CSMS would:

  1. SetVariableMonitoring: 100 custom monitors, 25 per variable, as many
     per request as the station advertises (the esp32-devkitc board's 10)
  2. GetMonitoringReport of all of them: NotifyMonitoringReport pages
  3. events: two sensors cross their thresholds and come back; every
     event is delivered (NotifyEvent) before the next step
  4. GetLog to the HTTP server at URL (upload over a real socket to
     127.0.0.1), LogStatusNotification Uploading / Uploaded
  5. CustomerInformation report of the seeded customer: NotifyCustomerInformation
  6. SetMonitoringLevel, ClearVariableMonitoring of 10, SetMonitoringBase

Every step checks its outcome; the script prints `SCENARIO DONE` only when
all passed. With SAMPLE, the heap is sampled (gc.collect() then
gc.mem_alloc(), on CPython tracemalloc) at every frame the station writes
and every 2 ms, and the figures are printed as BENCH lines:
code_heap (what the imports took) and the peak above the after-import
baseline (the working heap). Without SAMPLE nothing extra runs: that is
how tools/bench.py bisects the smallest -X heapsize that completes.
"""
import gc
import json
import sys

import bench_kit as kit

CUSTOMER = {"idToken": {"idToken": "04A2B3C4D5E6F7", "type": "ISO14443"}}
N_VARS = 4
PER_VAR = 25
LEAN = "boards/esp32-devkitc.json"    # relative to the repository root, the bench's working folder


class Probe:
    def __init__(self, on):
        self.on = on
        self.base = 0
        self.peak = 0
        self.samples = 0
        self.tm = None
        self.steps = []         # [name, live after it, peak during it], above the baseline
        self.seen = {}          # every module name seen in sys.modules at a sample (MicroPython)
        self.step_peak = 0
        if on and not kit.MPY:
            import tracemalloc
            self.tm = tracemalloc
            tracemalloc.start()

    def mem(self):
        if self.tm is not None:
            return self.tm.get_traced_memory()[0]
        return gc.mem_alloc() if kit.MPY else 0

    def sample(self):
        if kit.MPY:
            for k in sys.modules:
                if k not in self.seen:
                    self.seen[k] = 1
        gc.collect()
        m = self.mem()
        if m > self.peak:
            self.peak = m
        if m > self.step_peak:
            self.step_peak = m
        self.samples += 1

    def step(self, name):
        """Close a step of the scenario: what stays live after it, the peak during it."""
        if not self.on:
            return
        self.sample()
        gc.collect()
        self.steps.append([name, self.mem() - self.base, self.step_peak - self.base])
        self.step_peak = 0

    def mark(self):
        if kit.MPY:
            for k in sys.modules:     # known before the baseline: the probe's table is not the station's heap
                self.seen[k] = 1
        gc.collect()
        self.base = self.mem()
        self.peak = self.base
        self.step_peak = self.base
        if self.tm is not None:
            self.tm.reset_peak()


def items(evse, first, n):
    """The payload's text in parts (kit.frame joins them into the frame once)."""
    out = ['{"setMonitoringData":[']
    for k in range(first, first + n):
        t = k % 4
        val = (50 + k, -10 - k, 5 + k, 3600)[t]
        out.append('%s{"value":%d,"type":"%s","severity":%d,"component":{"name":"EVSE","evse":{"id":%d}},'
                   '"variable":{"name":"Temperature"}}'
                   % ("," if k > first else "", val, ("UpperThreshold", "LowerThreshold", "Delta", "Periodic")[t],
                      k // 4, evse))
    out.append("]}")
    return out


async def scenario(root, url, frames, probe):
    import asyncio
    from station import Station
    from device import config
    st_dir = kit.fresh(root + "/scenario")
    kit.makedirs(st_dir + "/sensors")
    sensors = []
    for i in range(N_VARS):
        p = "%s/sensors/evse%d" % (st_dir, i + 1)
        kit.write_file(p, "20")
        sensors.append(p)
    # The RAM-lean keys of the smallest device board: its message limits, queue and logs.
    with open(LEAN) as f:
        lean = json.load(f)
    b = kit.board(st_dir + "/state", [kit.var(i + 1, sensors[i]) for i in range(N_VARS)], sample_ms=50,
                  customers=[{"idToken": CUSTOMER["idToken"], "data": "Session history. " * 90}],
                  settings=lean["settings"], max_message=lean["max_message"], queue_size=lean["queue_size"],
                  log=lean["log"])
    lean = None
    config.check(b)
    if probe.on:
        probe.mark()
    st = Station(b)
    st.drop_specs()       # as main() does
    errors = []
    orig = st.log.write

    def log(text):
        if "error" in text or "failed" in text or "Error" in text:
            errors.append(text[:120])
        orig(text)
    st.log.write = log
    link = kit.FakeLink(st.session, frames, probe.sample if probe.on else None)
    tasks = [asyncio.create_task(st.monitor_loop()), asyncio.create_task(st.outbox.run())]
    stop = [False]

    async def sampler():
        while not stop[0]:
            probe.sample()
            await asyncio.sleep(0.002)
    if probe.on:
        tasks.append(asyncio.create_task(sampler()))
    await asyncio.sleep(0.1)
    probe.step("boot: Station, 4 sensors, tasks")
    n = [0]

    async def req(action, payload):
        n[0] += 1
        r = await link.request("csms-%d" % n[0], action, payload)
        if r is None or not r.startswith("[3,"):
            raise AssertionError("%s answered %s" % (action, r))
        return r

    async def wait(pred, what, ms=20000):
        if not await kit.until(pred, ms):
            raise AssertionError("timed out: %s (station logged: %s)" % (what, " | ".join(errors[:3])))

    def idle():
        return st.session.pending is None

    # 1. 100 monitors, as many per request as the station advertises (a CSMS must not send more)
    per = st.model.ctrl("MonitoringCtrlr.ItemsPerMessage[SetVariableMonitoring]")
    for i in range(N_VARS):
        for first in range(0, PER_VAR, per):
            k = min(per, PER_VAR - first)
            r = await req("SetVariableMonitoring", lambda: items(i + 1, first, k))
            if r.count('"status":"Accepted"') != k:
                raise AssertionError("SetVariableMonitoring: " + r[:300])
            r = link.result = None    # the CSMS's copy of the answer is not the station's heap
    if len(st.monitors.active) != N_VARS * PER_VAR:
        raise AssertionError("%d monitors active" % len(st.monitors.active))
    probe.step("SetVariableMonitoring: 100 monitors, %d per request" % per)
    # 2. a report of all of them
    await req("GetMonitoringReport", '{"requestId":1}')
    await wait(lambda: link.n("NotifyMonitoringReport") and not link.last["NotifyMonitoringReport"] and idle(),
               "monitoring report")
    probe.step("GetMonitoringReport: 100 monitors in pages")
    # 3. events: two sensors over every threshold and back
    for value in ("95", "20", "95", "20"):
        before = st.outbox.next_id
        kit.write_file(sensors[0], value)
        kit.write_file(sensors[1], value)
        await wait(lambda: st.outbox.next_id > before, "events fired")
        await wait(lambda: st.outbox.count == 0 and idle(), "events delivered")
    if st.outbox.sent != st.outbox.next_id - 1 or st.outbox.dropped:
        raise AssertionError("events: %d sent of %d, %d dropped" % (st.outbox.sent, st.outbox.next_id - 1,
                                                                    st.outbox.dropped))
    probe.step("events: %d fired and delivered" % st.outbox.sent)
    # 4. a log upload
    if url and "GetLog" in st.session.handlers:
        r = await req("GetLog", '{"log":{"remoteLocation":"%s"},"logType":"DiagnosticsLog","requestId":5}' % url)
        if '"Accepted"' not in r:
            raise AssertionError("GetLog: " + r)
        await wait(lambda: link.statuses.get("LogStatusNotification") in ("Uploaded", "UploadFailure") and idle(),
                   "log upload")
        if link.statuses["LogStatusNotification"] != "Uploaded":
            raise AssertionError("GetLog ended " + link.statuses["LogStatusNotification"])
        probe.step("GetLog: upload to 127.0.0.1")
    # 5. customer information
    if "CustomerInformation" in st.session.handlers:
        r = await req("CustomerInformation",
                      '{"requestId":6,"report":true,"clear":false,"idToken":{"idToken":"04A2B3C4D5E6F7","type":"ISO14443"}}')
        if '"Accepted"' not in r:
            raise AssertionError("CustomerInformation: " + r)
        await wait(lambda: link.n("NotifyCustomerInformation") and not link.last["NotifyCustomerInformation"]
                   and idle(), "customer information")
        probe.step("CustomerInformation: report")
    # 6. the rest of block N
    await req("SetMonitoringLevel", '{"severity":5}')
    from diag import monitors as mon
    ids = [m[0] for m in st.monitors.active if mon.origin(m) == mon.CUSTOM][:10]
    r = await req("ClearVariableMonitoring", '{"id":%s}' % kit.json.dumps(ids))
    if r.count('"Accepted"') != 10:
        raise AssertionError("ClearVariableMonitoring: " + r)
    await req("SetMonitoringBase", '{"monitoringBase":"FactoryDefault"}')
    probe.step("SetMonitoringLevel, ClearVariableMonitoring, SetMonitoringBase")
    stop[0] = True
    for t in tasks:
        t.cancel()
    await asyncio.sleep(0.01)
    link.close()
    if errors:
        raise AssertionError("station logged: " + " | ".join(errors[:5]))
    return st, link


def run(root, url=None, frames=None, sample=False, preload=(), code_only=False):
    """Run the scenario; 0 when it completed. preload: module names imported
    before the baseline too (the ones the station imports lazily)."""
    probe = Probe(sample)
    gc.collect()
    m0 = probe.mem() if probe.tm is not None else (gc.mem_alloc() if kit.MPY else 0)
    import asyncio  # noqa: F401
    import main
    main.load()  # the firmware's whole import tree, as main() loads it on a board
    import drivers.file  # noqa: F401  (the board's sensor driver)
    booted = sorted(sys.modules) if kit.MPY else []
    for name in preload:
        __import__(name)
    gc.collect()
    code = (probe.mem() if probe.tm is not None else (gc.mem_alloc() if kit.MPY else 0)) - m0
    if code_only:
        kit.emit("code", code_heap=code, absolute=gc.mem_alloc() if kit.MPY else None, modules=booted)
        return 0
    try:
        st, link = asyncio.run(scenario(root, url, frames, probe))
    except Exception as e:
        print("SCENARIO FAILED %r" % (e,))
        if kit.MPY:
            sys.print_exception(e)
        else:
            import traceback
            traceback.print_exc()
        return 1
    gc.collect()
    if sample:
        peak_all = probe.tm.get_traced_memory()[1] - probe.base if probe.tm is not None else None
        for k in sys.modules:
            probe.seen[k] = 1
        lazy = sorted(k for k in probe.seen if k not in booted and k not in preload) if kit.MPY else []
        kit.emit("scenario", code_heap=code, base=probe.base, peak=probe.peak, working=probe.peak - probe.base,
                 samples=probe.samples, peak_traced=peak_all, frames=link.counts, events=st.outbox.sent,
                 steps=probe.steps, lazy=lazy, preload=list(preload))
    print("SCENARIO DONE")
    return 0
