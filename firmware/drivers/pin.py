"""Digital input (machine.Pin): a door switch, a relay's feedback, a plug sensor.

    {"driver": "pin", "pin": 27, "pull": "up", "invert": true}

pull: "up", "down" or absent (none). invert: true for active-low inputs
(a switch to ground with a pull-up). A boolean variable gets true/false, an
integer or decimal one 1/0.
"""
KEYS = "#b pin:I:0: pull:e:up:down invert:b"


class DigitalIn:
    error = None

    def __init__(self, board, spec, s):
        import machine
        P = machine.Pin
        pull = s.get("pull")   # "up" is machine.Pin.PULL_UP
        self.pin = P(s["pin"], P.IN, pull and getattr(P, "PULL_" + pull.upper()))
        self.invert = 1 if s.get("invert") else 0
        self.dtype = spec["dataType"]

    def read(self):
        v = self.pin.value() ^ self.invert
        if self.dtype == "boolean":
            return v == 1
        return float(v) if self.dtype == "decimal" else v


make = DigitalIn
