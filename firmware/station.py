"""The station: builds the parts from a board file and runs their tasks.

Integrating firmware uses this object: `push()` a value into a variable,
`session.on()` to serve other OCPP actions, `session.call()` to send its own,
`monitors.set_transaction()` when transactions start and stop.
"""
import asyncio

import compat
from compat import const, ticks_ms, ticks_diff
from device import config, model, variables
from diag import events, logs, monitors, monitoring, reports, customers, getlog
from drivers import store
import drivers
from protocol import session

# Rows of device/model.py's CTRL the monitor loop reads at every tick, by number
# rather than by a name scan (host_tests/unit/test_variables.py checks them)
_ENABLED = const(1)          # MonitoringCtrlr.Enabled
_SAMPLE_MS = const(9)        # MonitoringCtrlr.SampleInterval


# Collect after every quarter of the heap that is free at start-up has been
# allocated, rather than when the heap is full: garbage is freed while it
# still sits beside the live objects, so long-lived ones (monitors, events)
# stay packed and large free runs remain for frames and pages (at least every
# 4 KB). The heap bench's scenario needs ~30 KB less heap; a big heap collects
# rarely.


class Station:
    # In the class until set: an instance attribute is a slot of its table, and a
    # running station's 12 (ticks included) fit a 12-slot table; a 13th takes 17.
    getlog = None   # GetLog's job state while loaded (diag/getlog.py, diag/logupload.py)
    ticks = 0       # monitor loop passes (the watchdog checks it goes up)

    def __init__(self, board):
        compat.gc_every(max(4096, compat.mem_free() // 4))
        self.board = board
        root = config.rel(board, board["storage"])
        lg = board.get("log") or {}
        folder = root + "/logs"
        echo = bool(board.get("echo"))
        n = lg.get("bytes", 65536)
        nf = lg.get("files", 4)
        self.log = logs.LogRing(folder, "diagnostics", n, nf, echo)
        self.seclog = logs.LogRing(folder, "security", n // 4, nf, echo)
        self.store = store.Store(root, self.log.write)    # the log first: a corrupt state file is logged
        pw = board["csms"].get("password")
        if pw:
            self.log.secrets += (pw,)
            self.seclog.secrets += (pw,)
        self.model = model.Model(board, self.store, drivers.sensor)
        self.session = session.Session(self)
        self.monitors = monitors.Monitors(self)
        self.outbox = events.Outbox(self)
        for m in (monitoring, reports, customers, variables, getlog):
            m.attach(self)
        self.seclog.write("station started (reboot)")
        self.log.write("station %s started with %d variables, %d monitors" % (
            board["station"]["id"], len(self.model.vars) + len(model.CTRL), len(self.monitors.active)))

    def drop_specs(self):
        """Forget the board's variable and customer specs: they are read once,
        while the Station is built (about 400 B a variable). main() does this;
        tests that rebuild a Station from the same board (a reboot) do not."""
        self.board["variables"] = ()
        self.board["customers"] = ()

    def config_path(self, p):
        return config.rel(self.board, p)

    def clock_changed(self):
        self.monitors.clock_changed()

    def push(self, component, variable, value):
        """Set a variable's value from integrating code; evaluated at the next tick."""
        v = self.model.find(component, variable)
        if v is None:
            raise KeyError("no variable %s.%s" % (component.get("name"), variable.get("name")))
        self.model.put(v, value)

    def tick(self):
        """One sampling period's work: sample, evaluate, queue what fired."""
        ms = self.monitors
        fired = ms.sample()
        if self.model.cv[_ENABLED]:
            f = ms.evaluate(ticks_ms())
            if f is not None:
                fired = f if fired is None else fired + f
        if fired is not None:
            self.outbox.post(fired)
        self.ticks += 1

    async def monitor_loop(self):
        """Never awaits the network: sample every SampleInterval ms, on a fixed grid."""
        due = ticks_ms()
        while True:
            try:
                self.tick()
            except Exception as e:
                self.log.write("monitor loop error: %r" % e)
            period = self.model.cv[_SAMPLE_MS]
            due = compat.ticks_add(due, period)
            wait = ticks_diff(due, ticks_ms())
            if wait < 0:
                due = ticks_ms()
                wait = 0
            await compat.sleep_ms(wait)

    async def heap_reporter(self, every_ms):
        """Board "_debug_heap": N ms (true: 1000) appends "heap <bytes> <n>" to
        <storage>/heap.txt every N ms, gc.mem_alloc() after gc.collect() (0 on
        CPython): the robustness tests' leak checks read it (docs/robustness.md).
        Not the log ring: an event storm turns that over faster than a test reads
        it. A test hook, off by default."""
        n = 0
        path = self.store.root + "/heap.txt"
        while True:
            await compat.sleep_ms(every_ms)
            n += 1
            compat.collect()
            with open(path, "a") as f:
                f.write("heap %d %d\n" % (compat.mem_alloc(), n))

    async def run(self):
        t = asyncio.create_task
        tasks = [t(self.monitor_loop()), t(self.outbox.run()), t(self.session.run())]
        dh = self.board.get("_debug_heap")
        if dh:
            t(self.heap_reporter(1000 if dh is True else int(dh)))
        self.tasks = tasks   # the watchdog supervisor checks none has ended
        for t in tasks:
            await t
