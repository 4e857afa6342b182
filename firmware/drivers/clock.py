"""Wall-clock time from NTP (ntptime), the CSMS's currentTime as fallback:
started by main.py when the board says "clock": "ntp".

    "clock": "ntp",
    "ntp": {"host": "pool.ntp.org", "every_s": 3600, "timeout_s": 1}

Until the first NTP answer the session takes the time from the CSMS's
BootNotification and Heartbeat responses (this driver sets board["clock"]
to "csms" meanwhile, the switch session.py reads); from the first answer on
NTP alone steers the clock, every every_s seconds. A failed query is retried
after 10 s, doubling up to every_s; no query is sent while the board's
Wi-Fi (drivers/wifi.py) has no link. compat.set_time() steers compat.now()
without touching the RTC; ntptime.time() counts from the port's epoch
(2000 on ESP32), compat.EPOCH turns it into Unix time.

A query blocks the loop for at most timeout_s (plus a DNS lookup): once an
hour, when the server answers in milliseconds, nothing to see.
"""
import compat


class Ntp:
    synced = 0     # successful queries
    failed = 0     # failures in a row

    def __init__(self, st, spec):
        self.st = st
        self.host = spec.get("host") or "pool.ntp.org"
        self.every = spec.get("every_s") or 3600
        self.timeout = spec.get("timeout_s") or 1
        st.board["clock"] = "csms"

    def sync(self):
        """One NTP query; True when it set the clock."""
        import ntptime
        ntptime.host = self.host
        ntptime.timeout = self.timeout
        try:
            t = ntptime.time() + compat.EPOCH
            step = t - compat.now()
            if not compat.set_time(t):
                raise ValueError("time %d is before 2023" % t)
        except Exception as e:  # OSError (DNS, timeout), IndexError (short reply), ValueError
            self.failed += 1
            if self.failed == 1 or self.failed % 10 == 0:
                self.st.log.write("clock: NTP %s failed (%d in a row): %r%s" % (
                    self.host, self.failed, e, "; CSMS time meanwhile" if not self.synced else ""))
            return False
        self.failed = 0
        self.synced += 1
        self.st.board["clock"] = "ntp"
        if self.synced == 1 or step > 1 or step < -1:
            self.st.log.write("clock: NTP time from %s (step %+d s)" % (self.host, step))
            self.st.clock_changed()
        return True

    def next_s(self):
        """Seconds to the next query: every_s, or after a failure 10 s doubling up to every_s."""
        return min(self.every, 10 << min(self.failed - 1, 12)) if self.failed else self.every

    def network_up(self):
        """False while a Wi-Fi service (drivers/wifi.py) has no link: no query then."""
        for s in getattr(self.st, "services", None) or ():
            if getattr(s, "up", True) is False:
                return False
        return True

    async def run(self):
        while True:
            if not self.network_up():
                await compat.sleep_ms(1000)
                continue
            self.sync()
            await compat.sleep_ms(self.next_s() * 1000)
