"""The board file's checks (config.check() runs them): every key, the first
fault raised as config.ConfigError naming the key.

config.check() imports this module for a check and drops it afterwards, so
its code takes no heap while the station runs. boards/board.schema.json says
the same in JSON Schema; tools/validate_board.py runs both.

One walker, keys(), checks every object against a spec string (smaller than
a hand-written check per key): space-separated entries "key:type[:lo:hi]".
An upper-case type is required; "type=default" fills an absent key; "!"
after the type: unique in the board (per list). Types: s a non-empty string,
t any string, h hex digits, i integer, n number, p number above 0, b boolean,
o object, l array (of objects), u the id of an i2c bus of the board, a any
value, e one of the choices after it ("mode:e:u16:uv"). lo..hi bound a
number or a string's length; an empty bound is open. SUB holds the spec of
an object or array key; "+" leads the spec of an object that may have other
keys.

A sensor driver's KEYS is such a spec, led by "#" when the variable must be
numeric: "#b" boolean too, "#m" only on an esp32* or rp2* mcu. What a spec
cannot say, check() says after the walk.
"""
from device.config import ConfigError

SUB = {
    # BootNotification's limits: vendorName 50, model 20, serialNumber 25, firmwareVersion 50.
    "station": "+ id:S::48 vendor:S::50 model:S::20 serial:s::25 firmware:s::50",
    "csms": "+ url:S password:s ca:s",
    "ntp": "host:s every_s:i:60:86400 timeout_s:n:0.1:5",
    "wifi": "ssid:S::32 password:t hostname:s country:s:2:2 retry_s:i:1:3600 power_save:b",
    "watchdog": "timeout_ms:I offline_reset_s:i:0:",
    "i2c": "id:I!:0: scl:I:0: sda:I:0: freq:i:10000:1000000",
    "log": "+ bytes:i files:i upload:e:PUT:POST",
    "variables": "component:O variable:O dataType:E:string:decimal:integer:dateTime:boolean:"
                 "OptionList:SequenceList:MemberList unit:s min:n max:n "
                 "mutability:e=ReadOnly:ReadOnly:ReadWrite:WriteOnly value:a values:s::1000 sensor:o monitors:l=",
    "component": "name:S::50 instance:s::50 evse:o",
    "evse": "id:I connectorId:i",
    "variable": "name:S::50 instance:s::50",
    "monitors": "id:I!:1: type:E:UpperThreshold:LowerThreshold:Delta:Periodic:PeriodicClockAligned "
                "value:N severity:I:0:9 origin:E:HardWired:Preconfigured transaction:b",
    "customers": "+ data:S",
    "sensor": "+ driver:S",   # the rest: its driver's KEYS
}
_seen = set()   # (list, id) of the "!" keys so far: i2c bus ids, monitor ids
_specs = {}     # spec -> its entries, split once per check: a board of 500
                # monitors would otherwise split the monitor spec 500 times (2 MB of garbage)


def keys(obj, spec, path):
    """Check obj's keys against spec (path: "wifi.", "" for the board)."""
    if type(obj) is not dict:
        raise ConfigError(path[:-1] or "(top)", "must be an object")
    ents = _specs.get(spec)
    if ents is None:
        ents = _specs[spec] = [e.split(":") for e in spec.split()]
        for f in ents:
            if len(f) > 2 and f[1][0].lower() != "e":    # bounds as numbers too: [4] lo, [5] hi
                for x in f[2:4]:
                    f.append(float(x) if x else None)
    plus = spec[0] == "+"
    if not plus:
        for k in obj:
            for f in ents:
                if f[0] == k:
                    break
            else:
                if k[:1] != "_" or path:
                    raise ConfigError(path + k, "unknown key")
    # Key paths (path + k) are built only for an error or a nested object: a
    # board of 500 monitors would make thousands of them.
    for f in ents[plus:]:
        k = f[0]
        t = f[1]
        c = t[0].lower()
        v = obj.get(k)
        w = None      # what is wrong with it
        if v is None and t < "a":
            w = "missing"
        elif v is None and "=" not in t:
            continue
        else:
            if v is None:
                v = obj[k] = [] if c == "l" else int(t[2:]) if c == "i" else t[2:]
            if c == "e":
                if v not in f[2:]:
                    w = "must be one of " + ", ".join(f[2:])
            elif c != "a":
                i = "sthinpbolu".index(c)
                ty = type(v)
                if ty is float and c in "np":
                    ty = int
                if ty is not (str, str, str, int, int, int, bool, dict, list, int)[i] or not (
                        v != "" if c == "s" else not v.strip("0123456789abcdefABCDEF") if c == "h"
                        else v > 0 if c == "p" else (SUB["i2c"], v) in _seen if c == "u" else 1):
                    w = "must be " + ("a non-empty string,a string,hex digits,an integer,a number,"
                                      "a number above 0,true or false,an object,an array,"
                                      "an i2c bus id").split(",")[i]
                elif len(f) > 2:
                    x = len(v) if c in "sh" else v
                    if (f[4] is not None and x < f[4]) or (f[5] is not None and x > f[5]):
                        w = ("length " if c in "sh" else "") + "must be %s..%s" % (f[2] or 1, f[3]) \
                            if f[3] else "at least " + f[2]
            if not w and "!" in t:
                u = (spec, v)     # unique per list: each list has its own spec
                if u in _seen:
                    w = "must be unique in the board"
                _seen.add(u)
        if w:
            raise ConfigError(path + k, w)
        if k in SUB:
            if c == "o":
                keys(v, SUB[k], path + k + ".")
            else:
                for i, o in enumerate(v):
                    keys(o, SUB[k], "%s%s[%d]." % (path, k, i))


def check(board):
    """Raise ConfigError for the first key at fault; return the board with defaults filled."""
    import compat
    import drivers
    from device.config import rel
    from device.model import NUMERIC, Ctrl, Model, Variable
    from protocol import ws
    _seen.clear()
    _specs.clear()
    # Every top-level key; "_"-prefixed keys are free (comments, and "_dir" set by load()).
    keys(board, "board:S mcu:e=host:host:esp32:esp32s2:esp32s3:esp32c3:esp32c6:rp2040:rp2350 station:O csms:O "
         "clock:e=csms:csms:ntp:system ntp:o wifi:o watchdog:o i2c:l storage:s=state sample_ms:i=1000:10:3600000 "
         "echo:b settings:o queue_size:i=200:1: max_monitors:i=1000:1: max_message:i=16384:1024: log:o variables:l= "
         "customers:l= customer_bytes:i=65536:1: customer_records:i=64:1:", "")
    mcu = board["mcu"]
    for k in ("clock", "wifi", "watchdog", "i2c"):
        if mcu == "host" and board.get(k) not in (None, "csms", "system"):
            raise ConfigError(k, "needs an esp32* or rp2* mcu, not host")
    # The board's settings name controller variables, with values that fit them (a name in
    # settings.json, saved by SetVariables, that a firmware update removed is skipped, not refused).
    d = board.get("settings") or {}
    for k in d:
        try:
            x = Model.check(Ctrl(None, Model.ci(k)), d[k])
        except KeyError:
            x = "no such controller variable"
        if x:
            raise ConfigError("settings." + k, x)
    # The session connects to <csms.url>/<station.id>: the id must arrive whole as the
    # last path segment, and ws.request(), the client's own parser, must take the URL.
    c = board["csms"]
    u = c["url"]
    i = board["station"]["id"]
    for k, x, y in (("station.id", i, "/?#"), ("csms.url", u, "?#")):
        for ch in y:
            if ch in x:
                raise ConfigError(k, "no '%s' in <csms.url>/<station.id>" % ch)
    u = u.rstrip("/")
    for k, x in (("csms.url", u), ("station.id", u + "/" + i)):
        try:
            ws.request(x, "")
        except ValueError:
            raise ConfigError(k, "not a ws[s]://host[:port]/path URL: " + x)
    if u[2] == "s":
        if c.get("ca") is None:
            raise ConfigError("csms.ca", "missing: wss needs the CSMS's CA")
        try:    # loaded as each connection loads it: a file it cannot read fails the boot, not every connect
            compat.ssl_context(rel(board, c["ca"]))
        except Exception as e:
            raise ConfigError("csms.ca", "not a usable CA file: %r" % e)
    if board.get("ntp") is not None and board["clock"] != "ntp":
        raise ConfigError("ntp", 'only with "clock": "ntp"')
    d = board.get("watchdog")
    if d is not None:
        top = 8300 if mcu.startswith("rp2") else 60000   # the RP2040 watchdog counts at most 8388 ms
        if not 1000 <= d["timeout_ms"] <= top:
            raise ConfigError("watchdog.timeout_ms", "must be 1000..%d on %s" % (top, mcu))
    for i, v in enumerate(board["variables"]):
        p = "variables[%d]." % i
        lo = v.get("min")
        hi = v.get("max")
        if lo is not None and hi is not None and lo > hi:
            raise ConfigError(p + "min", "greater than max")
        x = v.get("value")
        if x is not None:   # as SetVariables checks a value
            x = Model.check(Variable(v["component"], v["variable"], v["dataType"], None, None, lo, hi,
                                           v.get("values")), x)
            if x:
                raise ConfigError(p + "value", x)
        s = v.get("sensor")
        if s is not None:   # its driver module's KEYS, then its check() if any
            q = p + "sensor."
            mod = drivers._module(s["driver"], q + "driver")
            spec = getattr(mod, "KEYS", "")
            if spec[:1] == "#":
                fl, spec = spec.split(" ", 1)
                if "m" in fl and mcu == "host":
                    raise ConfigError(q + "driver", "needs an esp32* or rp2* mcu, not host")
                keys(v, "+ dataType:e:decimal:integer" + (":boolean" if "b" in fl else ""), p)
            if spec:
                keys(s, "driver:S " + spec, q)
            if hasattr(mod, "check"):
                mod.check(board, v, p)
        for j, m in enumerate(v["monitors"]):
            t = m["type"]
            a = b = None    # the bounds of its value: an interval, a Delta, a threshold in min..max
            if t[0] == "P":
                a, b = 1, 86400
            elif t == "Delta":
                a = 0
            elif v["dataType"] in NUMERIC:
                a, b = lo, hi
            else:   # as SetVariableMonitoring answers UnsupportedMonitorType (a Delta fires on any change)
                raise ConfigError(p + "monitors[%d].type" % j, t + " needs a decimal or integer variable")
            val = m["value"]
            if (a is not None and val < a) or (b is not None and val > b):
                raise ConfigError(p + "monitors[%d].value" % j, ("%s needs %s..%s" % (t, a, b)).replace("None", ""))
    for i, c in enumerate(board["customers"]):
        if not ("idToken" in c or "customerIdentifier" in c or "certificate" in c):
            raise ConfigError("customers[%d].idToken" % i, "missing (or customerIdentifier, certificate)")
    return board      # config.check() drops this module, _seen and _specs with it
