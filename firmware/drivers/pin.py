"""Digital input (machine.Pin): a door switch, a relay's feedback, a plug sensor.

    {"driver": "pin", "pin": 27, "pull": "up", "invert": true}

pull: "up", "down" or absent (none). invert: true for active-low inputs
(a switch to ground with a pull-up). A boolean variable gets true/false, an
integer or decimal one 1/0.
"""
import drivers
from device import config


def check(board, spec, p):
    s = spec["sensor"]
    q = p + "sensor."
    config.only(s, ("driver", "pin", "pull", "invert"), q)
    if config.need(s, "pin", q, "int") < 0:
        raise config.ConfigError(q + "pin", "must be a GPIO number")
    config.need(s, "pull", q, ("up", "down"), False)
    config.need(s, "invert", q, "bool", False)
    drivers.numeric(spec, p, ("boolean",))


class DigitalIn:
    def __init__(self, s, dtype):
        import machine
        P = machine.Pin
        pull = {"up": P.PULL_UP, "down": P.PULL_DOWN}.get(s.get("pull"))
        self.pin = P(s["pin"], P.IN, pull)
        self.invert = 1 if s.get("invert") else 0
        self.dtype = dtype
        self.error = None

    def read(self):
        v = self.pin.value() ^ self.invert
        if self.dtype == "boolean":
            return v == 1
        return float(v) if self.dtype == "decimal" else v


def make(board, spec, s):
    return DigitalIn(s, spec["dataType"])
