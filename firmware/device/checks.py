"""The board file's checks (config.check() runs them): every key, the first
fault raised as config.ConfigError naming the key.

config.check() imports this module for a check and drops it afterwards, so
its code takes no heap while the station runs. boards/board.schema.json says
the same in JSON Schema; tools/validate_board.py runs both.

The keys of an object are one spec string walked by keys() (one walker is
smaller than a hand-written check per key): space-separated entries
"key:type[:lo:hi]", an upper-case type for a required key. Types: s a
non-empty string, t any string, h hex digits, i integer, n number, p number
above 0, b boolean, o object, l array, u the id of an i2c bus of the board,
e one of the choices after it ("mode:e:u16:uv"). lo..hi bound a number or a
string's length; an empty bound is open. A sensor driver's KEYS is such a
spec, led by "#" when the variable must be numeric ("#boolean": or boolean).
"""
from device.config import ConfigError

HEX = "0123456789abcdefABCDEF"
KIND = {"s": "a non-empty string", "t": "a string", "h": "hex digits", "i": "an integer",
        "n": "a number", "p": "a number above 0", "b": "true or false", "o": "an object",
        "l": "an array", "u": "an id in the board's i2c list"}
# Every top-level key, in the order checked; "_"-prefixed keys are free (comments, "_dir").
TOP = ("board:S mcu:e:host:esp32:esp32s2:esp32s3:esp32c3:esp32c6:rp2040:rp2350 station:O csms:O "
       "clock:e:csms:ntp:system ntp:o wifi:o watchdog:o i2c:l storage:s sample_ms:i:10: echo:b "
       "settings:o queue_size:i:1: max_message:i:1024: log:o variables:l customers:l "
       "customer_bytes:i:1: customer_records:i:1:")
VARIABLE = ("component:O variable:O dataType:E:string:decimal:integer:dateTime:boolean:OptionList:"
            "SequenceList:MemberList unit:s min:n max:n mutability:e:ReadOnly:ReadWrite:WriteOnly "
            "sensor:o monitors:l")
MONITOR = ("id:I:1: type:E:UpperThreshold:LowerThreshold:Delta:Periodic:PeriodicClockAligned "
           "value:N severity:I:0:9 origin:E:HardWired:Preconfigured transaction:b")
_bus = []   # the i2c bus ids of the board being checked (type u)


def keys(obj, spec, path, closed=True):
    """Check obj's keys against spec (path: "wifi."); closed: no other keys."""
    if type(obj) is not dict:
        raise ConfigError(path[:-1] or "(top)", "must be an object")
    ents = [e.split(":") for e in spec.split()]
    if closed:
        names = [f[0] for f in ents]
        for k in obj:
            if k not in names and not (k[:1] == "_" and not path):
                raise ConfigError(path + k, "unknown key")
    for f in ents:
        k = f[0]
        t = f[1]
        p = path + k
        v = obj.get(k)
        if v is None:
            if t < "a":
                raise ConfigError(p, "missing")
            continue
        t = t.lower()
        if t == "e":
            if v not in f[2:]:
                raise ConfigError(p, "must be one of " + ", ".join(f[2:]))
            continue
        n = type(v) in (int, float)
        if not {"s": type(v) is str and v != "", "t": type(v) is str, "h": type(v) is str and not v.strip(HEX),
                "i": type(v) is int, "n": n, "p": n and v > 0, "b": type(v) is bool, "o": type(v) is dict,
                "l": type(v) is list, "u": type(v) is int and v in _bus}[t]:
            raise ConfigError(p, "must be " + KIND[t])
        if len(f) > 2:
            lo = f[2]
            hi = f[3]
            x = len(v) if t in "sh" else v
            if (lo and x < float(lo)) or (hi and x > float(hi)):
                raise ConfigError(p, ("length " if t in "sh" else "") + "must be %s..%s" % (lo or 1, hi)
                                  if hi else "at least " + lo)


def _each(board, k, spec, closed=True):
    """The objects of the board's list k, each checked with spec: (path, object) pairs."""
    out = []
    for i, o in enumerate(board.get(k) or ()):
        p = "%s[%d]." % (k, i)
        keys(o, spec, p, closed)
        out.append((p, o))
    return out


def _device(board):
    """The device services: clock, ntp, wifi, watchdog, and the i2c buses."""
    mcu = board["mcu"]
    if board["clock"] == "ntp" and mcu == "host":
        raise ConfigError("clock", 'ntp needs a board "mcu" (esp32..., rp2040...): ntptime is MicroPython\'s')
    n = board.get("ntp")
    if n is not None:
        if board["clock"] != "ntp":
            raise ConfigError("ntp", 'only with "clock": "ntp"')
        keys(n, "host:s every_s:i:60:86400 timeout_s:n:0.1:5", "ntp.")
    for k in ("wifi", "watchdog", "i2c"):
        if board.get(k) is not None and mcu == "host":
            raise ConfigError(k, 'needs a board "mcu" (esp32..., rp2040...), not host')
    w = board.get("wifi")
    if w is not None:
        keys(w, "ssid:S::32 password:t hostname:s country:s:2:2 retry_s:i:1:3600 power_save:b", "wifi.")
    d = board.get("watchdog")
    if d is not None:
        keys(d, "timeout_ms:I offline_reset_s:i:0:", "watchdog.")
        top = 8300 if mcu.startswith("rp2") else 60000   # the RP2040 watchdog counts at most 8388 ms
        if not 1000 <= d["timeout_ms"] <= top:
            raise ConfigError("watchdog.timeout_ms", "must be 1000..%d on %s" % (top, mcu))
    for p, b in _each(board, "i2c", "id:I:0: scl:I:0: sda:I:0: freq:i:10000:1000000"):
        if b["id"] in _bus:
            raise ConfigError(p + "id", "must be unique in the board")
        _bus.append(b["id"])


def _sensor(board, v, p):
    """The variable's sensor: its driver module's KEYS, then its check() if any."""
    import drivers
    q = p + "sensor."
    s = v["sensor"]
    keys(s, "driver:S", q, False)
    mod = drivers._module(s["driver"], q + "driver")
    spec = getattr(mod, "KEYS", None)
    if spec is not None:
        if spec[0] == "#":
            also, spec = spec.split(" ", 1)
            if v["dataType"] not in ("decimal", "integer", also[1:]):
                raise ConfigError(p + "dataType", "%s gives numbers: decimal or integer%s" % (
                    s["driver"], also.replace("#", " or ") if also[1:] else ""))
        keys(s, "driver:S " + spec, q)
    fn = getattr(mod, "check", None)
    if fn is not None:
        fn(board, v, p)


def check(board):
    """Raise ConfigError for the first key at fault; return the board with defaults filled."""
    keys(board, TOP, "")
    for k, d in (("mcu", "host"), ("clock", "csms"), ("storage", "state"), ("sample_ms", 1000),
                 ("queue_size", 200), ("max_message", 16384), ("variables", []), ("customers", []),
                 ("customer_bytes", 65536), ("customer_records", 64)):
        if board.get(k) is None:
            board[k] = d
    st = board["station"]
    keys(st, "id:S::48 vendor:S model:S serial:s firmware:s", "station.", False)
    if "/" in st["id"]:
        raise ConfigError("station.id", "no '/'")
    cs = board["csms"]
    keys(cs, "url:S password:s ca:s", "csms.", False)
    url = cs["url"]
    if not (url.startswith("ws://") or url.startswith("wss://")):
        raise ConfigError("csms.url", "must start with ws:// or wss://")
    if url.startswith("wss://") and cs.get("ca") is None:
        raise ConfigError("csms.ca", "wss needs the CA that signed the CSMS certificate")
    del _bus[:]
    _device(board)
    if board.get("log") is not None:
        keys(board["log"], "bytes:i files:i upload:e:PUT:POST", "log.", False)
    ids = []
    for p, v in _each(board, "variables", VARIABLE, False):
        if v.get("mutability") is None:
            v["mutability"] = "ReadOnly"
        if v.get("monitors") is None:
            v["monitors"] = []
        c = v["component"]
        keys(c, "name:S::50 instance:s evse:o", p + "component.")
        if c.get("evse") is not None:
            keys(c["evse"], "id:I connectorId:i", p + "component.evse.")
        keys(v["variable"], "name:S::50 instance:s", p + "variable.")
        lo = v.get("min")
        hi = v.get("max")
        if lo is not None and hi is not None and lo > hi:
            raise ConfigError(p + "min", "greater than max")
        if v.get("sensor") is not None:
            _sensor(board, v, p)
        for q, m in _each(v, "monitors", MONITOR):
            q = p + q
            if m["id"] in ids:
                raise ConfigError(q + "id", "must be unique in the board")
            ids.append(m["id"])
            t = m["type"]
            val = m["value"]
            if t == "Delta" and val < 0:
                raise ConfigError(q + "value", "Delta must not be negative")
            if t[0] == "P" and not 1 <= val <= 86400:
                raise ConfigError(q + "value", "interval must be 1..86400 s")
            if t[-9:] == "Threshold" and v["dataType"] in ("decimal", "integer"):
                if (lo is not None and val < lo) or (hi is not None and val > hi):
                    raise ConfigError(q + "value", "outside min..max")
    for p, c in _each(board, "customers", "data:S", False):
        if not ("idToken" in c or "customerIdentifier" in c or "certificate" in c):
            raise ConfigError(p + "idToken", "a customer needs idToken, customerIdentifier or certificate")
    return board
