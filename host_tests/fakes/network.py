"""Fake `network`: a WLAN station that connects after fakehw "wlan_polls"
isconnected() polls (never while "wlan_fail"); drop() cuts every link."""
import fakehw

STA_IF = 0
AP_IF = 1
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_GOT_IP = 3
STAT_NO_AP_FOUND = 201

_wlans = []
_config = {}


class WLAN:
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    def __init__(self, iface=STA_IF):
        self.iface = iface
        self._active = False
        self._ssid = None
        self._polls = 0
        self._up = False
        self._conf = {}
        _wlans.append(self)

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        fakehw.record("wlan_active", self._active)
        return None

    def connect(self, ssid=None, key=None):
        if not self._active:
            raise OSError("WLAN not active")
        fakehw.record("wlan_connect", ssid, key)
        self._ssid = ssid
        self._polls = fakehw.get("wlan_polls", None, 1)
        self._up = False

    def disconnect(self):
        fakehw.record("wlan_disconnect")
        self._ssid = None
        self._up = False

    def isconnected(self):
        if self._up or self._ssid is None or fakehw.get("wlan_fail"):
            return self._up
        self._polls -= 1
        if self._polls <= 0:
            self._up = True
        return self._up

    def status(self, *a):
        if self._up:
            return STAT_GOT_IP
        return STAT_CONNECTING if self._ssid else STAT_IDLE

    def ifconfig(self):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1") if self._up else ("0.0.0.0",) * 4

    def config(self, *a, **kw):
        if a:
            return self._conf.get(a[0])
        fakehw.record("wlan_config", kw)
        self._conf.update(kw)
        return None


def drop():
    """The access point goes away: every link is down until connect() again."""
    for w in _wlans:
        if w._up:
            w._up = False
            w._ssid = None


def hostname(name=None):
    if name is None:
        return _config.get("hostname", "mpy")
    _config["hostname"] = name
    fakehw.record("hostname", name)
    return None


def country(code=None):
    if code is None:
        return _config.get("country", "XX")
    _config["country"] = code
    fakehw.record("country", code)
    return None
