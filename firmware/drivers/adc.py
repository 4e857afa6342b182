"""Analog input (machine.ADC) with a linear calibration.

    {"driver": "adc", "pin": 34, "scale": 0.0001, "offset": -50,
     "atten": "11dB", "mode": "uv", "samples": 8}

value = raw * scale + offset, raw being read_u16() (0..65535; mode "u16",
the default) or, on ESP32 ports, read_uv() (calibrated microvolts; mode
"uv"). `samples` readings are averaged (default 1; each takes microseconds).
`atten` (ESP32 only) sets the input range: 0dB, 2.5dB, 6dB or 11dB.
Example above: a TMP36 (0.5 V at 0 C, 10 mV/C) in mode uv gives Celsius.
"""
import drivers
from device import config

ATTN = {"0dB": "ATTN_0DB", "2.5dB": "ATTN_2_5DB", "6dB": "ATTN_6DB", "11dB": "ATTN_11DB"}
KEYS = ("driver", "pin", "scale", "offset", "atten", "mode", "samples")


def check(board, spec, p):
    s = spec["sensor"]
    q = p + "sensor."
    config.only(s, KEYS, q)
    if config.need(s, "pin", q, "int") < 0:
        raise config.ConfigError(q + "pin", "must be a GPIO number")
    config.need(s, "scale", q, "num", False)
    config.need(s, "offset", q, "num", False)
    esp = board.get("mcu", "host").startswith("esp32")
    if config.need(s, "atten", q, tuple(ATTN), False) is not None and not esp:
        raise config.ConfigError(q + "atten", "only ESP32 ADCs have an attenuator")
    if config.need(s, "mode", q, ("u16", "uv"), False) == "uv" and not esp:
        raise config.ConfigError(q + "mode", "uv (read_uv) needs an ESP32 port; use u16")
    n = config.need(s, "samples", q, "int", False, 1)
    if not 1 <= n <= 64:
        raise config.ConfigError(q + "samples", "must be 1..64")
    drivers.numeric(spec, p)


class Adc:
    def __init__(self, s, dtype):
        import machine
        a = s.get("atten")
        if a is None:
            self.adc = machine.ADC(machine.Pin(s["pin"]))
        else:
            self.adc = machine.ADC(machine.Pin(s["pin"]), atten=getattr(machine.ADC, ATTN[a]))
        self.uv = s.get("mode") == "uv"
        self.scale = s.get("scale", 1)
        self.offset = s.get("offset", 0)
        self.n = s.get("samples") or 1
        self.pin = s["pin"]
        self.dtype = dtype
        self.error = None

    def read(self):
        f = self.adc.read_uv if self.uv else self.adc.read_u16
        try:
            t = 0
            for _ in range(self.n):
                t += f()
        except OSError as e:
            self.error = "ADC on pin %d: %r" % (self.pin, e)
            return None
        return drivers.typed(self.dtype, t / self.n * self.scale + self.offset)


def make(board, spec, s):
    return Adc(s, spec["dataType"])
