"""The hardware watchdog (machine.WDT), fed by a supervisor that checks the
station is alive: started by main.py when the board has "watchdog".

    "watchdog": {"timeout_ms": 8000, "offline_reset_s": 1800}

Every timeout_ms / 4 the supervisor feeds the watchdog if
- the monitor loop sampled lately (station.ticks went up within
  2 x SampleInterval + timeout_ms),
- none of the station's tasks (monitor loop, outbox, session) has ended,
- and, when offline_reset_s > 0, the session has not been offline (no
  accepted BootNotification on an open connection) for longer than that.
Once a check fails it logs why and feeds no more: the board resets within
timeout_ms. A blocked event loop starves the supervisor too. The watchdog
cannot be stopped once started; tools/deploy.py puts the board in
maintenance (no station, no watchdog) before copying files.
RP2040's watchdog counts at most 8388 ms: the board file check keeps
timeout_ms <= 8300 there.
"""
import compat
from compat import ticks_ms, ticks_diff


class Supervisor:
    wdt = None
    feeds = 0
    reason = None   # why it stopped feeding
    ticks = -1      # station.ticks when last seen

    def __init__(self, st, spec):
        self.st = st
        self.timeout = spec.get("timeout_ms") or 8000
        self.offline_ms = (spec.get("offline_reset_s") or 0) * 1000
        self.ticked = self.online_at = ticks_ms()   # when station.ticks last went up; the session was last online

    def step(self, now):
        """Feed the watchdog if the station is alive; else log why, once, and feed no more."""
        st = self.st
        if self.reason is not None:
            return
        if st.ticks != self.ticks:
            self.ticks = st.ticks
            self.ticked = now
        if st.session.online:
            self.online_at = now
        r = ticks_diff(now, self.ticked)
        if r > 2 * st.model.ctrl("MonitoringCtrlr.SampleInterval") + self.timeout:
            r = "monitor loop stalled: no sample for %d ms" % r
        else:
            r = None
            for t in getattr(st, "tasks", None) or ():
                if t.done():
                    r = "a station task ended"
            if r is None and self.offline_ms and ticks_diff(now, self.online_at) > self.offline_ms:
                r = "session offline for %d s" % (self.offline_ms // 1000)
        if r is None:
            self.wdt.feed()
            self.feeds += 1
        else:
            self.reason = r
            st.log.write("watchdog: %s; no more feeding, the board resets in %d ms" % (r, self.timeout))

    async def run(self):
        import machine
        self.wdt = machine.WDT(timeout=self.timeout)
        self.st.log.write("watchdog: started, %d ms" % self.timeout)
        while True:
            self.step(ticks_ms())
            await compat.sleep_ms(self.timeout // 4)
