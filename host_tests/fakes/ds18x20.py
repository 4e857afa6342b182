"""Fake `ds18x20`: convert_temp() latches every sensor's temperature, read_temp()
returns the latched value (85.0, the power-on value, before any conversion)."""
import binascii

import fakehw


class DS18X20:
    def __init__(self, ow):
        self.ow = ow
        self.latched = {}

    def scan(self):
        return [r for r in self.ow.scan() if r[0] == 0x28]

    def convert_temp(self):
        fakehw.record("convert", self.ow.pin)
        self.latched = dict(self.ow.devices())

    def read_temp(self, rom):
        h = binascii.hexlify(bytes(rom)).decode()
        fakehw.record("read_temp", h)
        if h not in self.ow.devices():
            raise Exception("CRC error")
        return float(self.latched.get(h, 85.0))
