"""Device services (drivers/wifi.py, clock.py, watchdog.py) against the fake
network, ntptime and machine modules, on a stub station: no clock waits, the
tests hand the services their `now`."""
import sys

_FAKES = __file__.replace("\\", "/").rsplit("/", 2)[0] + "/fakes"
if _FAKES not in sys.path:
    sys.path.insert(0, _FAKES)

import asyncio  # noqa: E402

import compat  # noqa: E402
import fakehw  # noqa: E402
import network  # noqa: E402  (the fake)
from drivers import clock, watchdog, wifi  # noqa: E402


class Log:
    def __init__(self):
        self.lines = []
        self.secrets = []

    def write(self, text):
        self.lines.append(text)

    def has(self, part):
        return [ln for ln in self.lines if part in ln]


class Model:
    def ctrl(self, name):
        return 1000   # MonitoringCtrlr.SampleInterval


class Session:
    online = False


class Task:
    def __init__(self, done=False):
        self._done = done

    def done(self):
        return self._done


class Stub:
    def __init__(self, **board):
        self.board = board
        self.log = Log()
        self.seclog = Log()
        self.model = Model()
        self.session = Session()
        self.ticks = 0
        self.tasks = [Task(), Task(), Task()]
        self.changed = 0

    def clock_changed(self):
        self.changed += 1


# ---- wifi ----------------------------------------------------------------------

WIFI = {"ssid": "depot", "password": "s3cret", "hostname": "cs-1", "country": "DE", "retry_s": 5,
        "power_save": False}


def test_wifi_connects_masks_the_password_and_sets_up_the_radio():
    fakehw.reset()
    fakehw.state["wlan_polls"] = 2
    st = Stub()
    w = wifi.Wifi(st, WIFI)
    assert "s3cret" in st.log.secrets and "s3cret" in st.seclog.secrets
    w.start()
    assert fakehw.called("country") == [("country", "DE")]
    assert fakehw.called("hostname") == [("hostname", "cs-1")]
    assert fakehw.called("wlan_config") == [("wlan_config", {"pm": network.WLAN.PM_NONE})]
    assert fakehw.called("wlan_connect") == [("wlan_connect", "depot", "s3cret")]
    since = w.poll(100, 0)
    assert not w.up and since == 0
    since = w.poll(600, since)
    assert w.up and since == 600 and w.connects == 1
    assert st.log.has("wifi: connected to depot as 127.0.0.1")


def test_wifi_reconnects_after_retry_s_without_link():
    fakehw.reset()
    st = Stub()
    w = wifi.Wifi(st, WIFI)
    w.start()
    since = w.poll(500, 0)
    assert w.up
    network.drop()
    since = w.poll(1000, since)
    assert not w.up and since == 1000 and st.log.has("wifi: link to depot lost")
    fakehw.state["wlan_fail"] = True       # the access point stays away a while
    assert w.poll(5500, since) == since    # not yet retry_s
    since = w.poll(6000, since)
    assert since == 6000 and w.attempts == 2
    assert fakehw.called("wlan_disconnect") and len(fakehw.called("wlan_connect")) == 2
    since = w.poll(11000, since)           # still nothing: again after retry_s
    assert w.attempts == 3
    fakehw.state["wlan_fail"] = False
    w.poll(11500, since)
    assert w.up and w.connects == 2


def test_wifi_open_network_has_no_secret():
    fakehw.reset()
    st = Stub()
    w = wifi.Wifi(st, {"ssid": "open"})
    w.start()
    assert not st.log.secrets and fakehw.called("wlan_connect") == [("wlan_connect", "open", None)]


# ---- clock ---------------------------------------------------------------------

def _real_time():
    import time
    compat.set_time(int(time.time()) + compat.EPOCH)


def test_ntp_sets_the_clock_and_takes_over_from_the_csms():
    fakehw.reset()
    fakehw.state["ntp_offset"] = 5000
    st = Stub(clock="ntp")
    c = clock.Ntp(st, {"host": "ntp.example", "every_s": 600, "timeout_s": 0.5})
    assert st.board["clock"] == "csms"        # until NTP answers, the session takes currentTime
    try:
        import time
        assert c.sync() is True
        assert abs(compat.now() - (int(time.time()) + 5000)) <= 2
        assert st.board["clock"] == "ntp" and st.changed == 1
        assert fakehw.called("ntp") == [("ntp", "ntp.example", 0.5)]
        assert c.next_s() == 600
    finally:
        _real_time()


def test_ntp_failure_keeps_the_csms_fallback_and_backs_off():
    fakehw.reset()
    fakehw.state["ntp_fail"] = True
    st = Stub(clock="ntp")
    c = clock.Ntp(st, {"every_s": 120})
    waits = []
    for _ in range(5):
        assert c.sync() is False
        waits.append(c.next_s())
    assert waits == [10, 20, 40, 80, 120]
    assert st.board["clock"] == "csms" and st.changed == 0
    assert len(st.log.has("NTP pool.ntp.org failed")) == 1     # logged once, not at every retry
    fakehw.state["ntp_fail"] = False
    try:
        assert c.sync() and c.next_s() == 120 and st.board["clock"] == "ntp"
    finally:
        _real_time()


def test_ntp_on_a_2000_epoch_port():
    """ESP32: time.gmtime(0) is 2000-01-01 and ntptime.time() counts from there."""
    import time
    fakehw.reset()
    keep = compat.EPOCH
    compat.EPOCH = 946684800
    fakehw.state["ntp_offset"] = -946684800
    try:
        c = clock.Ntp(Stub(clock="ntp"), {})
        assert c.sync()
        assert abs(compat.now() - int(time.time())) <= 2
    finally:
        compat.EPOCH = keep
        _real_time()


def test_ntp_refuses_a_time_before_2023_and_waits_for_wifi():
    fakehw.reset()
    fakehw.state["ntp_offset"] = -10 ** 9
    st = Stub(clock="ntp")
    c = clock.Ntp(st, {})
    assert c.sync() is False and st.log.has("before 2023")

    class Down:
        up = False
    st.services = [Down()]
    assert not c.network_up()
    Down.up = True
    assert c.network_up()


# ---- watchdog ------------------------------------------------------------------

def supervisor(**spec):
    import machine
    fakehw.reset()
    st = Stub()
    s = watchdog.Supervisor(st, dict({"timeout_ms": 8000}, **spec))
    s.wdt = machine.WDT(timeout=s.timeout)
    s.ticked = s.online_at = 0       # the tests' clock starts at 0
    return st, s


def test_watchdog_fed_while_the_monitor_loop_samples():
    st, s = supervisor()
    for i in range(20):
        st.ticks += 1
        s.step(i * 2000)
    assert s.feeds == 20 and s.reason is None


def test_watchdog_starves_when_the_monitor_loop_stalls():
    st, s = supervisor()
    now = 0
    st.ticks = 1
    s.step(now)
    while now < 9000:                 # 2 x 1000 ms + 8000 ms of grace: still fed
        now += 2000
        s.step(now)
    assert s.reason is None
    s.step(now + 2000)
    assert s.reason.startswith("monitor loop stalled")
    fed = s.feeds
    st.ticks += 5                     # too late: no feeding once it gave up
    s.step(now + 4000)
    assert s.feeds == fed and len(fakehw.called("feed")) == fed
    assert st.log.has("watchdog: monitor loop stalled")


def test_watchdog_starves_when_a_station_task_ended():
    st, s = supervisor()
    st.ticks = 1
    s.step(0)
    st.tasks[2] = Task(done=True)
    st.ticks = 2
    s.step(2000)
    assert s.reason == "a station task ended" and s.feeds == 1


def test_watchdog_offline_reset():
    st, s = supervisor(offline_reset_s=60)
    for now in range(0, 60001, 2000):
        st.ticks += 1
        s.step(now)
    assert s.reason is None
    st.session.online = True
    st.ticks += 1
    s.step(62000)
    st.session.online = False
    for now in range(64000, 122001, 2000):
        st.ticks += 1
        s.step(now)
    assert s.reason is None
    st.ticks += 1
    s.step(124000)
    assert s.reason == "session offline for 60 s"


def test_watchdog_offline_forever_is_fine_without_offline_reset():
    st, s = supervisor()
    for now in range(0, 3600000, 60000):
        st.ticks += 1
        s.step(now)
    assert s.reason is None


def test_watchdog_run_starts_the_wdt_and_feeds_at_once():
    fakehw.reset()
    st = Stub()
    s = watchdog.Supervisor(st, {"timeout_ms": 4000})

    async def go():
        t = asyncio.create_task(s.run())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        t.cancel()
    asyncio.run(go())
    assert fakehw.called("wdt") == [("wdt", 4000)]
    assert len(fakehw.called("feed")) == 1
    assert st.log.has("watchdog: started, 4000 ms")
