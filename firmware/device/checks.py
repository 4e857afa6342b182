"""The board file's checks (config.check() runs them): every key, the first
fault raised as config.ConfigError naming the key.

config.check() imports this module for a check and drops it afterwards, so
its code takes no heap while the station runs. boards/board.schema.json says
the same in JSON Schema; tools/validate_board.py runs both.
"""
from device.config import ConfigError, _need, _only

DATA_TYPES = ("string", "decimal", "integer", "dateTime", "boolean",
              "OptionList", "SequenceList", "MemberList")
MONITOR_TYPES = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned")
MUTABILITY = ("ReadOnly", "ReadWrite", "WriteOnly")
ORIGINS = ("HardWired", "Preconfigured")
MCUS = ("host", "esp32", "esp32s2", "esp32s3", "esp32c3", "esp32c6", "rp2040", "rp2350")
CLOCKS = ("csms", "ntp", "system")
# Every top-level key; "_"-prefixed keys are free (comments, and "_dir" set by load()).
KEYS = ("board", "mcu", "station", "csms", "clock", "ntp", "wifi", "watchdog", "i2c", "storage",
        "sample_ms", "echo", "settings", "queue_size", "max_message", "log", "variables",
        "customers", "customer_bytes", "customer_records")
RP2_WDT_MS = 8300   # the RP2040 watchdog counts at most 8388 ms


def _component(c, path):
    if not isinstance(c, dict):
        raise ConfigError(path[:-1], "must be an object")
    _only(c, ("name", "instance", "evse"), path)
    if len(_need(c, "name", path, "str")) > 50:
        raise ConfigError(path + "name", "longer than 50")
    _need(c, "instance", path, "str", False)
    e = _need(c, "evse", path, "dict", False)
    if e is not None:
        _only(e, ("id", "connectorId"), path + "evse.")
        _need(e, "id", path + "evse.", "int")
        _need(e, "connectorId", path + "evse.", "int", False)


def _variable(v, path):
    if not isinstance(v, dict):
        raise ConfigError(path[:-1], "must be an object")
    _only(v, ("name", "instance"), path)
    if len(_need(v, "name", path, "str")) > 50:
        raise ConfigError(path + "name", "longer than 50")
    _need(v, "instance", path, "str", False)


def _device(board):
    """The device services: clock, ntp, wifi, watchdog, and the i2c buses."""
    mcu = board["mcu"]
    clock = _need(board, "clock", "", CLOCKS, False, "csms")
    if clock == "ntp" and mcu == "host":
        raise ConfigError("clock", 'ntp needs a board "mcu" (esp32..., rp2040...): ntptime is MicroPython\'s')
    board["clock"] = clock
    n = _need(board, "ntp", "", "dict", False)
    if n is not None:
        if clock != "ntp":
            raise ConfigError("ntp", 'only with "clock": "ntp"')
        _only(n, ("host", "every_s", "timeout_s"), "ntp.")
        _need(n, "host", "ntp.", "str", False)
        if not 60 <= _need(n, "every_s", "ntp.", "int", False, 3600) <= 86400:
            raise ConfigError("ntp.every_s", "must be 60..86400")
        if not 0.1 <= _need(n, "timeout_s", "ntp.", "num", False, 1) <= 5:
            raise ConfigError("ntp.timeout_s", "must be 0.1..5 (the query blocks the loop that long at most)")
    for k in ("wifi", "watchdog", "i2c"):
        if board.get(k) is not None and mcu == "host":
            raise ConfigError(k, 'needs a board "mcu" (esp32..., rp2040...), not host')
    w = _need(board, "wifi", "", "dict", False)
    if w is not None:
        _only(w, ("ssid", "password", "hostname", "country", "retry_s", "power_save"), "wifi.")
        if len(_need(w, "ssid", "wifi.", "str")) > 32:
            raise ConfigError("wifi.ssid", "longer than 32")
        pw = w.get("password")
        if pw is not None and not isinstance(pw, str):
            raise ConfigError("wifi.password", "must be a string (or null for an open network)")
        _need(w, "hostname", "wifi.", "str", False)
        c = _need(w, "country", "wifi.", "str", False)
        if c is not None and len(c) != 2:
            raise ConfigError("wifi.country", "two letters (ISO 3166), e.g. DE")
        if not 1 <= _need(w, "retry_s", "wifi.", "int", False, 15) <= 3600:
            raise ConfigError("wifi.retry_s", "must be 1..3600")
        _need(w, "power_save", "wifi.", "bool", False)
    d = _need(board, "watchdog", "", "dict", False)
    if d is not None:
        _only(d, ("timeout_ms", "offline_reset_s"), "watchdog.")
        top = RP2_WDT_MS if mcu.startswith("rp2") else 60000
        if not 1000 <= _need(d, "timeout_ms", "watchdog.", "int") <= top:
            raise ConfigError("watchdog.timeout_ms", "must be 1000..%d on %s" % (top, mcu))
        if _need(d, "offline_reset_s", "watchdog.", "int", False, 0) < 0:
            raise ConfigError("watchdog.offline_reset_s", "must be 0 (never) or more")
    buses = _need(board, "i2c", "", "list", False, [])
    seen = []
    for i, b in enumerate(buses):
        p = "i2c[%d]." % i
        if not isinstance(b, dict):
            raise ConfigError(p[:-1], "must be an object")
        _only(b, ("id", "scl", "sda", "freq"), p)
        n = _need(b, "id", p, "int")
        if n < 0 or n in seen:
            raise ConfigError(p + "id", "must be a bus number unique in the board")
        seen.append(n)
        for k in ("scl", "sda"):
            if _need(b, k, p, "int") < 0:
                raise ConfigError(p + k, "must be a GPIO number")
        if not 10000 <= _need(b, "freq", p, "int", False, 400000) <= 1000000:
            raise ConfigError(p + "freq", "must be 10000..1000000 Hz")


def check(board):
    """Raise ConfigError for the first key at fault; return the board with defaults filled."""
    if not isinstance(board, dict):
        raise ConfigError("(top)", "must be an object")
    for k in board:
        if k not in KEYS and not k.startswith("_"):
            raise ConfigError(k, "unknown key")
    _need(board, "board", "", "str")
    board["mcu"] = _need(board, "mcu", "", MCUS, False, "host")
    st = _need(board, "station", "", "dict")
    for k in ("id", "vendor", "model"):
        _need(st, k, "station.", "str")
    if len(st["id"]) > 48 or "/" in st["id"]:
        raise ConfigError("station.id", "at most 48 characters and no '/'")
    for k in ("serial", "firmware"):
        _need(st, k, "station.", "str", False)
    cs = _need(board, "csms", "", "dict")
    url = _need(cs, "url", "csms.", "str")
    if not (url.startswith("ws://") or url.startswith("wss://")):
        raise ConfigError("csms.url", "must start with ws:// or wss://")
    _need(cs, "password", "csms.", "str", False)
    _need(cs, "ca", "csms.", "str", False)
    if url.startswith("wss://") and cs.get("ca") is None:
        raise ConfigError("csms.ca", "wss needs the CA that signed the CSMS certificate")
    _device(board)
    board["storage"] = _need(board, "storage", "", "str", False, "state")
    sm = _need(board, "sample_ms", "", "int", False, 1000)
    if sm < 10:
        raise ConfigError("sample_ms", "at least 10")
    board["sample_ms"] = sm
    _need(board, "echo", "", "bool", False)
    _need(board, "settings", "", "dict", False)
    q = _need(board, "queue_size", "", "int", False, 200)
    if q < 1:
        raise ConfigError("queue_size", "at least 1")
    board["queue_size"] = q
    mm = _need(board, "max_message", "", "int", False, 16384)
    if mm < 1024:
        raise ConfigError("max_message", "at least 1024")
    board["max_message"] = mm
    lg = _need(board, "log", "", "dict", False)
    if lg is not None:
        _need(lg, "bytes", "log.", "int", False)
        _need(lg, "files", "log.", "int", False)
        _need(lg, "upload", "log.", ("PUT", "POST"), False)
    ids = {}
    variables = _need(board, "variables", "", "list", False, [])
    board["variables"] = variables
    for i, v in enumerate(variables):
        p = "variables[%d]." % i
        if not isinstance(v, dict):
            raise ConfigError(p[:-1], "must be an object")
        _component(_need(v, "component", p, "dict"), p + "component.")
        _variable(_need(v, "variable", p, "dict"), p + "variable.")
        dt = _need(v, "dataType", p, DATA_TYPES)
        _need(v, "unit", p, "str", False)
        lo = _need(v, "min", p, "num", False)
        hi = _need(v, "max", p, "num", False)
        if lo is not None and hi is not None and lo > hi:
            raise ConfigError(p + "min", "greater than max")
        v["mutability"] = _need(v, "mutability", p, MUTABILITY, False, "ReadOnly")
        s = _need(v, "sensor", p, "dict", False)
        if s is not None:
            _need(s, "driver", p + "sensor.", "str")
            import drivers
            drivers.check(board, v, p)
        mons = _need(v, "monitors", p, "list", False, [])
        v["monitors"] = mons
        for j, m in enumerate(mons):
            q = p + "monitors[%d]." % j
            if not isinstance(m, dict):
                raise ConfigError(q[:-1], "must be an object")
            _only(m, ("id", "type", "value", "severity", "origin", "transaction"), q)
            mid = _need(m, "id", q, "int")
            if mid < 1 or mid in ids:
                raise ConfigError(q + "id", "must be a positive integer unique in the board")
            ids[mid] = 1
            t = _need(m, "type", q, MONITOR_TYPES)
            val = _need(m, "value", q, "num")
            sev = _need(m, "severity", q, "int")
            if not 0 <= sev <= 9:
                raise ConfigError(q + "severity", "must be 0..9")
            _need(m, "origin", q, ORIGINS)
            _need(m, "transaction", q, "bool", False)
            if t == "Delta" and val < 0:
                raise ConfigError(q + "value", "Delta must not be negative")
            if t in ("Periodic", "PeriodicClockAligned") and not 1 <= val <= 86400:
                raise ConfigError(q + "value", "interval must be 1..86400 s")
            if t in ("UpperThreshold", "LowerThreshold") and dt in ("decimal", "integer"):
                if (lo is not None and val < lo) or (hi is not None and val > hi):
                    raise ConfigError(q + "value", "outside min..max")
    for k, d in (("customer_bytes", 65536), ("customer_records", 64)):
        n = _need(board, k, "", "int", False, d)
        if n < 1:
            raise ConfigError(k, "at least 1")
        board[k] = n
    custs = _need(board, "customers", "", "list", False, [])
    board["customers"] = custs
    for i, c in enumerate(custs):
        p = "customers[%d]." % i
        if not isinstance(c, dict):
            raise ConfigError(p[:-1], "must be an object")
        _need(c, "data", p, "str")
        if not ("idToken" in c or "customerIdentifier" in c or "certificate" in c):
            raise ConfigError(p + "idToken", "a customer needs idToken, customerIdentifier or certificate")
    return board
