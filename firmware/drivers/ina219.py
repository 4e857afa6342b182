"""INA219 current and voltage monitor on I2C (machine.I2C readfrom_mem).

    "i2c": [{"id": 0, "scl": 22, "sda": 21}]
    {"driver": "ina219", "bus": 0, "addr": 64, "channel": "current", "shunt_ohms": 0.1}
    {"driver": "ina219", "bus": 0, "addr": 64, "channel": "voltage"}

One chip, several variables: each variable names the channel it wants:
current (A, shunt voltage / shunt_ohms), voltage (the bus voltage, V),
power (W, voltage * current) or shunt (the shunt voltage, V). The chip runs
continuously (configuration 0x399F: 32 V, +-320 mV, 12 bits), written once;
a read is two 2-byte register reads, well under a millisecond.
"""
import drivers

KEYS = "# bus:U addr:i:64:79 channel:E:current:voltage:power:shunt shunt_ohms:p"
_chips = {}


class Chip:
    def __init__(self, i2c, addr):
        self.i2c = i2c
        self.addr = addr
        self.ready = False

    def reg(self, r):
        if not self.ready:
            self.i2c.writeto_mem(self.addr, 0, b"\x39\x9f")
            self.ready = True
        b = self.i2c.readfrom_mem(self.addr, r, 2)
        return (b[0] << 8) | b[1]

    def shunt_v(self):
        v = self.reg(1)
        if v >= 0x8000:
            v -= 0x10000
        return v * 10e-6

    def bus_v(self):
        v = self.reg(2)
        if v & 1:
            raise ValueError("overflow: current or power out of range")
        return (v >> 3) * 0.004


class Channel:
    error = None

    def __init__(self, chip, s, dtype):
        self.chip = chip
        self.ch = s["channel"]
        self.ohms = s.get("shunt_ohms") or 0.1
        self.dtype = dtype

    def read(self):
        c = self.chip
        try:
            if self.ch == "current":
                v = c.shunt_v() / self.ohms
            elif self.ch == "voltage":
                v = c.bus_v()
            elif self.ch == "power":
                v = c.bus_v() * c.shunt_v() / self.ohms
            else:
                v = c.shunt_v()
        except (OSError, ValueError) as e:
            c.ready = False   # configure again: the chip may have been power-cycled
            self.error = "INA219 0x%02x %s: %r" % (c.addr, self.ch, e)
            return None
        return drivers.typed(self.dtype, v)


def make(board, spec, s):
    from drivers import buses
    i2c = buses.i2c(board, s["bus"])
    addr = s.get("addr") or 0x40
    key = (id(i2c), addr)
    chip = _chips.get(key)
    if chip is None or chip.i2c is not i2c:
        chip = _chips[key] = Chip(i2c, addr)
    return Channel(chip, s, spec["dataType"])
