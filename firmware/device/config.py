"""The board file: load it, check it, and name the key at fault.

The board file is the public contract of a station (boards/*.json, its JSON
Schema in boards/board.schema.json, every key in docs/boards.md). Keys are
extended, never renamed. The checks live in device/checks.py: check()
imports that module for the check and drops it after, so its code takes no
heap while the station runs (sensor drivers describe their keys to it).
"""
import json


class ConfigError(Exception):
    """A bad board file: .key is the dotted path of the key at fault."""

    def __init__(self, key, why):
        super().__init__("%s: %s" % (key, why))  # MicroPython has no Exception.__init__
        self.key = key
        self.why = why


def check(board):
    """Raise ConfigError for the first key at fault; return the board with defaults filled."""
    from device import checks
    try:
        return checks.check(board)
    finally:
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
