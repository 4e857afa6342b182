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


class Ina219:
    """One channel; the first on a chip (bus, address) also owns the chip:
    its I2C, address and whether it is configured."""
    ready = False
    error = None

    def __init__(self, board, spec, s):
        from drivers import buses
        i2c = buses.i2c(board, s["bus"])
        addr = s.get("addr") or 0x40
        key = (id(i2c), addr)
        c = _chips.get(key)
        if c is None or c.i2c is not i2c:
            c = _chips[key] = self
            self.i2c = i2c
            self.addr = addr
        self.chip = c
        self.ch = s["channel"]
        self.ohms = s.get("shunt_ohms") or 0.1
        self.dtype = spec["dataType"]

    def reg(self, r):
        """Register r (1 shunt, 2 bus voltage) as 16 bits; configures the chip first when needed."""
        if not self.ready:
            self.i2c.writeto_mem(self.addr, 0, b"\x39\x9f")
            self.ready = True
        b = self.i2c.readfrom_mem(self.addr, r, 2)
        return (b[0] << 8) | b[1]

    def read(self):
        c = self.chip
        ch = self.ch
        try:
            v = 1
            if ch != "voltage":
                v = c.reg(1)
                v = (v - 0x10000 if v >= 0x8000 else v) * 10e-6     # the shunt voltage, V
                if ch != "shunt":
                    v /= self.ohms                                   # current, A
            if ch == "voltage" or ch == "power":
                b = c.reg(2)
                if b & 1:
                    raise ValueError("overflow: current or power out of range")
                v *= (b >> 3) * 0.004                                # bus voltage, V
        except (OSError, ValueError) as e:
            c.ready = False   # configure again: the chip may have been power-cycled
            self.error = "INA219 0x%02x %s: %r" % (c.addr, ch, e)
            return None
        return drivers.typed(self.dtype, v)


make = Ina219
