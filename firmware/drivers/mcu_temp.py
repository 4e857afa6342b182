"""The MCU's internal temperature sensor, in Celsius.

    {"driver": "mcu_temp", "offset": -3.5}

ESP32-S2/S3/C3/C6: esp32.mcu_temperature(). The classic ESP32 has only
esp32.raw_temperature() (Fahrenheit, uncalibrated: a trend, not a
thermometer). RP2040/RP2350: ADC channel 4, 27 - (V - 0.706) / 0.001721.
`offset` (default 0) is added, to calibrate against a real thermometer.
"""
import drivers

KEYS = "#m offset:n"   # numeric, on an esp32* or rp2* mcu


class McuTemp:
    error = None

    def __init__(self, board, spec, s):
        if board.get("mcu", "host").startswith("esp32"):
            import esp32
            f = getattr(esp32, "mcu_temperature", None)
            if f is None:
                raw = esp32.raw_temperature

                def f():
                    return (raw() - 32) / 1.8
        else:
            import machine
            adc = machine.ADC(getattr(machine.ADC, "CORE_TEMP", 4))

            def f():
                return 27 - (adc.read_u16() * 3.3 / 65535 - 0.706) / 0.001721
        self.fn = f
        self.offset = s.get("offset", 0)
        self.dtype = spec["dataType"]

    def read(self):
        try:
            return drivers.typed(self.dtype, self.fn() + self.offset)
        except OSError as e:
            self.error = "MCU temperature: %r" % e
            return None


make = McuTemp
