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

KEYS = "# pin:I:0: scale:n offset:n atten:e:0dB:2.5dB:6dB:11dB mode:e:u16:uv samples:i:1:64"


def check(board, spec, p):
    """atten and read_uv() are ESP32's only."""
    for k in ("atten", "mode"):
        if spec["sensor"].get(k) not in (None, "u16") and board["mcu"][:5] != "esp32":
            raise drivers.ConfigError(p + "sensor." + k, "needs an ESP32 port")


class Adc:
    error = None

    def __init__(self, board, spec, s):
        import machine
        a = s.get("atten")   # "2.5dB" is machine.ADC.ATTN_2_5DB
        p = machine.Pin(s["pin"])
        adc = machine.ADC(p) if a is None else machine.ADC(
            p, atten=getattr(machine.ADC, "ATTN_" + a.replace(".", "_").upper()))
        self.f = adc.read_uv if s.get("mode") == "uv" else adc.read_u16
        self.scale = s.get("scale", 1)
        self.offset = s.get("offset", 0)
        self.n = s.get("samples") or 1
        self.pin = s["pin"]
        self.dtype = spec["dataType"]

    def read(self):
        try:
            t = 0
            for _ in range(self.n):
                t += self.f()
        except OSError as e:
            self.error = "ADC on pin %d: %r" % (self.pin, e)
            return None
        return drivers.typed(self.dtype, t / self.n * self.scale + self.offset)


make = Adc
