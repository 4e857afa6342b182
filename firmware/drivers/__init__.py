"""Hardware at the edge: the board file names a driver, this picks its module.

A sensor driver module has make(board, spec, sensor) -> an object whose
read() returns the variable's value, or None for "no value this sample"
(logged by the caller, never raised). read() must not block the loop.
"""


def sensor(board, spec, s):
    from device import config
    name = s["driver"]
    try:
        mod = getattr(__import__("drivers." + name), name)
    except ImportError:
        raise config.ConfigError("sensor.driver", "no driver named " + name)
    return mod.make(board, spec, s)
