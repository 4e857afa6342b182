"""The board file: load it, check it, and name the key at fault.

The board file is the public contract of a station (boards/*.json, its JSON
Schema in boards/board.schema.json, every key in docs/boards.md). Keys are
extended, never renamed. The checks live in device/checks.py: check()
imports that module for the check and drops it after, so its code takes no
heap while the station runs (the need()/only() helpers stay, for drivers).
"""
import json


class ConfigError(Exception):
    """A bad board file: .key is the dotted path of the key at fault."""

    def __init__(self, key, why):
        super().__init__("%s: %s" % (key, why))  # MicroPython has no Exception.__init__
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


# For driver modules checking their own keys (drivers/__init__.py).
need = _need
only = _only


def check(board):
    """Raise ConfigError for the first key at fault; return the board with defaults filled."""
    from device import checks
    try:
        return checks.check(board)
    finally:
        _forget()


def _forget():
    import sys
    import device
    sys.modules.pop("device.checks", None)
    if hasattr(device, "checks"):
        del device.checks


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
