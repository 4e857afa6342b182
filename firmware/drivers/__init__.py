"""Hardware at the edge: the board file names a driver, this picks its module.

A sensor driver is a module drivers/<name>.py with

    make(board, spec, sensor) -> an object whose read() returns the
        variable's value, or None for "no value this sample" with the reason
        in its .error (logged by the caller, never raised). read() must not
        block the loop for long: start slow work on one sample, collect it
        on a later one.
    KEYS                      -> optional: the sensor's keys as a spec string
        (device/checks.py says how), checked when the board file is loaded.
    check(board, spec, p)     -> optional: raise config.ConfigError naming
        the key at fault (p is the variable's path, "variables[3].") for what
        KEYS cannot say. Both run before any hardware is touched.

Hardware modules (machine, onewire, esp32...) are imported inside make() or
later, never at the top of a driver module: the host imports every driver
named by a board when it checks the board file.

The device services the board asks for (wifi.py, clock.py, watchdog.py) live
here too, started by main.py; buses.py shares I2C buses between sensors.
"""
from device.config import ConfigError


def _module(name, key):
    try:
        mod = getattr(__import__("drivers." + name), name)
    except (ImportError, AttributeError) as e:
        raise ConfigError(key, "no driver named %s (%s)" % (name, e))
    if not hasattr(mod, "make"):
        raise ConfigError(key, "%s is not a sensor driver" % name)
    return mod


def sensor(board, spec, s):
    """The driver object for sensor s of variable spec (device.model calls this)."""
    try:
        return _module(s["driver"], "sensor.driver").make(board, spec, s)
    except ConfigError as e:
        if e.key[:10] == "variables[":
            raise
        i = 0   # the key at fault, named from the board's top
        for v in board.get("variables") or ():
            if v is spec:
                break
            i += 1
        else:
            i = -1
        raise ConfigError("variables[%d]." % i + e.key, e.why)


def typed(dtype, v):
    """A float reading as the variable's dataType wants it."""
    if dtype == "integer":
        return int(round(v))
    if dtype == "boolean":
        return bool(v)
    return round(v, 4)
