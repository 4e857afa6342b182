"""The MCU's internal temperature sensor, in Celsius.

    {"driver": "mcu_temp", "offset": -3.5}

ESP32-S2/S3/C3/C6: esp32.mcu_temperature(). The classic ESP32 has only
esp32.raw_temperature() (Fahrenheit, uncalibrated: a trend, not a
thermometer). RP2040/RP2350: ADC channel 4, 27 - (V - 0.706) / 0.001721.
`offset` (default 0) is added, to calibrate against a real thermometer.
"""
import drivers
from device import config


def check(board, spec, p):
    s = spec["sensor"]
    q = p + "sensor."
    config.only(s, ("driver", "offset"), q)
    config.need(s, "offset", q, "num", False)
    mcu = board.get("mcu", "host")
    if not (mcu.startswith("esp32") or mcu.startswith("rp2")):
        raise config.ConfigError(q + "driver", "mcu_temp needs an esp32* or rp2* mcu, not " + mcu)
    drivers.numeric(spec, p)


def _rp2():
    import machine
    adc = machine.ADC(getattr(machine.ADC, "CORE_TEMP", 4))

    def celsius():
        return 27 - (adc.read_u16() * 3.3 / 65535 - 0.706) / 0.001721
    return celsius


def _esp32():
    import esp32
    f = getattr(esp32, "mcu_temperature", None)
    if f is not None:
        return f
    raw = esp32.raw_temperature

    def celsius():
        return (raw() - 32) / 1.8
    return celsius


class McuTemp:
    def __init__(self, board, s, dtype):
        self.fn = _esp32() if board.get("mcu", "host").startswith("esp32") else _rp2()
        self.offset = s.get("offset", 0)
        self.dtype = dtype
        self.error = None

    def read(self):
        try:
            return drivers.typed(self.dtype, self.fn() + self.offset)
        except OSError as e:
            self.error = "MCU temperature: %r" % e
            return None


def make(board, spec, s):
    return McuTemp(board, s, spec["dataType"])
