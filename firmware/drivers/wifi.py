"""Wi-Fi station (network.WLAN) with reconnect: started by main.py when the
board has "wifi".

    "wifi": {"ssid": "depot", "password": "...", "hostname": "cs-1",
             "country": "DE", "retry_s": 15, "power_save": false}

connect() returns at once on MicroPython; this task polls isconnected()
twice a second, logs each change, and when the link has been down for
retry_s seconds disconnects and connects again, forever. The session's own
reconnect (with backoff) then finds the network back. The password is
masked in the logs.
"""
import compat
from compat import ticks_ms, ticks_diff



class Wifi:
    wlan = None
    up = False
    connects = 0   # times the link came up
    attempts = 0   # connect() calls

    def __init__(self, st, spec):
        self.st = st
        self.ssid = spec["ssid"]
        self.password = spec.get("password")
        self.spec = spec
        self.retry_ms = (spec.get("retry_s") or 15) * 1000
        if self.password:
            for lg in (st.log, st.seclog):
                lg.secrets += (self.password,)

    def start(self):
        import network
        sp = self.spec
        for k in ("country", "hostname"):
            if sp.get(k) and hasattr(network, k):
                getattr(network, k)(sp[k])
        w = network.WLAN(network.STA_IF)
        w.active(True)
        if sp.get("power_save") is False and hasattr(network.WLAN, "PM_NONE"):
            w.config(pm=network.WLAN.PM_NONE)
        self.wlan = w
        self.connect()

    def connect(self):
        self.attempts += 1
        try:
            self.wlan.connect(self.ssid, self.password)
        except OSError as e:
            self.log("connect to %s failed: %r" % (self.ssid, e))

    def log(self, msg):
        self.st.log.write("wifi: " + msg)

    def poll(self, now, since):
        """One look at the link; returns the ticks the current state began."""
        ok = self.wlan.isconnected()
        if ok != self.up:
            self.up = ok
            if ok:
                self.connects += 1
                try:
                    a = self.wlan.ifconfig()[0]
                except OSError:
                    a = "?"
                self.log("connected to %s as %s" % (self.ssid, a))
            else:
                self.log("link to %s lost" % self.ssid)
            return now
        if not ok and ticks_diff(now, since) >= self.retry_ms:
            self.log("no link to %s for %d s (status %s), connecting again" % (
                self.ssid, self.retry_ms // 1000, self.wlan.status()))
            try:
                self.wlan.disconnect()
            except OSError:
                pass
            self.connect()
            return now
        return since

    async def run(self):
        self.start()
        self.log("connecting to %s" % self.ssid)
        since = ticks_ms()
        while True:
            await compat.sleep_ms(500)
            since = self.poll(ticks_ms(), since)
