"""The board file: load it, check it, and name the key at fault.

The board file is the public contract of a station (boards/*.json, its JSON
Schema in boards/board.schema.json). Keys are extended, never renamed.
"""
import json

DATA_TYPES = ("string", "decimal", "integer", "dateTime", "boolean",
              "OptionList", "SequenceList", "MemberList")
MONITOR_TYPES = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned")
MUTABILITY = ("ReadOnly", "ReadWrite", "WriteOnly")
ORIGINS = ("HardWired", "Preconfigured")


class ConfigError(Exception):
    """A bad board file: .key is the dotted path of the key at fault."""

    def __init__(self, key, why):
        Exception.__init__(self, "%s: %s" % (key, why))
        self.key = key
        self.why = why


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return (isinstance(v, int) or isinstance(v, float)) and not isinstance(v, bool)


def _need(obj, key, path, kind, required=True, default=None):
    """obj[key] checked against kind ('str', 'int', 'num', 'bool', 'dict', 'list', tuple of choices)."""
    if key not in obj or obj[key] is None:
        if required:
            raise ConfigError(path + key, "missing")
        return default
    v = obj[key]
    ok = True
    if kind == "str":
        ok = isinstance(v, str) and v != ""
    elif kind == "int":
        ok = _is_int(v)
    elif kind == "num":
        ok = _is_num(v)
    elif kind == "bool":
        ok = isinstance(v, bool)
    elif kind == "dict":
        ok = isinstance(v, dict)
    elif kind == "list":
        ok = isinstance(v, list)
    elif isinstance(kind, tuple):
        if v not in kind:
            raise ConfigError(path + key, "must be one of " + ", ".join(kind))
    if not ok:
        raise ConfigError(path + key, "must be " + {"str": "a non-empty string", "int": "an integer",
                                                     "num": "a number", "bool": "true or false",
                                                     "dict": "an object", "list": "an array"}[kind])
    return v


def _only(obj, keys, path):
    for k in obj:
        if k not in keys:
            raise ConfigError(path + k, "unknown key")


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


def check(board):
    """Raise ConfigError for the first key at fault; return the board with defaults filled."""
    if not isinstance(board, dict):
        raise ConfigError("(top)", "must be an object")
    _need(board, "board", "", "str")
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
    board["storage"] = _need(board, "storage", "", "str", False, "state")
    sm = _need(board, "sample_ms", "", "int", False, 1000)
    if sm < 10:
        raise ConfigError("sample_ms", "at least 10")
    board["sample_ms"] = sm
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


def load(path):
    """Read and check a board file; relative paths in it are relative to its folder."""
    try:
        with open(path) as f:
            board = json.load(f)
    except OSError:
        raise ConfigError("(file)", "cannot read " + path)
    except ValueError as e:
        raise ConfigError("(file)", "not valid JSON: %s" % e)
    i = path.rfind("/")
    board["_dir"] = path[:i] if i >= 0 else "."
    return check(board)


def rel(board, p):
    """A path from the board file, made relative to the board file's folder."""
    if p.startswith("/"):
        return p
    return board["_dir"] + "/" + p
