"""Hardware at the edge: the board file names a driver, this picks its module.

A sensor driver is a module drivers/<name>.py with

    make(board, spec, sensor) -> an object whose read() returns the
        variable's value, or None for "no value this sample" with the reason
        in its .error (logged by the caller, never raised). read() must not
        block the loop for long: start slow work on one sample, collect it
        on a later one.
    check(board, spec, p)     -> optional: raise config.ConfigError naming
        the key at fault (p is the variable's path, "variables[3].") when the
        sensor's keys are wrong. config.check() calls it when the board file
        is loaded, so a bad key stops the boot before any hardware is touched.

Hardware modules (machine, onewire, esp32...) are imported inside make() or
later, never at the top of a driver module: the host imports every driver
named by a board when it checks the board file.

The device services the board asks for (wifi.py, clock.py, watchdog.py) live
here too, started by main.py; buses.py shares I2C buses between sensors.
"""


def _module(name, key):
    from device import config
    try:
        mod = getattr(__import__("drivers." + name), name)
    except (ImportError, AttributeError) as e:
        raise config.ConfigError(key, "no driver named %s (%s)" % (name, e))
    if not hasattr(mod, "make"):
        raise config.ConfigError(key, "%s is not a sensor driver" % name)
    return mod


def check(board, spec, p):
    """Check the sensor of the variable spec at path p ("variables[3].")."""
    mod = _module(spec["sensor"]["driver"], p + "sensor.driver")
    fn = getattr(mod, "check", None)
    if fn is not None:
        fn(board, spec, p)


def sensor(board, spec, s):
    """The driver object for sensor s of variable spec (device.model calls this)."""
    from device import config
    p = "variables[%d]." % _index(board, spec)
    mod = _module(s["driver"], p + "sensor.driver")
    try:
        return mod.make(board, spec, s)
    except config.ConfigError as e:
        if e.key.startswith("variables["):
            raise
        raise config.ConfigError(p + e.key, e.why)


def _index(board, spec):
    i = 0
    for v in board.get("variables") or ():
        if v is spec:
            return i
        i += 1
    return -1


def numeric(spec, p, also=()):
    """Raise unless the variable's dataType is decimal or integer (or one of `also`)."""
    from device import config
    if spec["dataType"] not in ("decimal", "integer") and spec["dataType"] not in also:
        raise config.ConfigError(p + "dataType", "%s gives numbers: decimal or integer%s" % (
            spec["sensor"]["driver"], "".join(" or " + a for a in also)))


def typed(dtype, v):
    """A float reading as the variable's dataType wants it."""
    if dtype == "integer":
        return int(round(v))
    if dtype == "boolean":
        return bool(v)
    return round(v, 4)
