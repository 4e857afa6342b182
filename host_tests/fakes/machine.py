"""Fake `machine` for host tests: Pin, ADC, I2C and WDT over fakehw's state."""
import fakehw


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        fakehw.record("pin", id, mode, pull)

    def value(self, v=None):
        if v is None:
            return fakehw.get("pin", self.id, 1 if self.pull == Pin.PULL_UP else 0)
        fakehw.put("pin", self.id, 1 if v else 0)
        return None

    def __repr__(self):
        return "Pin(%s)" % self.id


def _id(src):
    return src.id if isinstance(src, Pin) else src


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    CORE_TEMP = 4

    def __init__(self, src, atten=None):
        self.id = _id(src)
        self.atten = atten
        fakehw.record("adc", self.id, atten)

    def read_u16(self):
        v = fakehw.get("adc", self.id)
        if v is None:
            raise OSError(5)
        return v

    def read_uv(self):
        v = fakehw.get("uv", self.id)
        if v is None:
            return self.read_u16() * 3300000 // 65535
        return v


class I2C:
    def __init__(self, id, scl=None, sda=None, freq=400000):
        self.id = id
        self.freq = freq
        fakehw.record("i2c", id, _id(scl), _id(sda), freq)

    def _dev(self, addr):
        d = fakehw.get("i2c", "%d:%d" % (self.id, addr))
        if d is None:
            raise OSError(19)   # ENODEV: no ACK at that address
        return d

    def readfrom_mem(self, addr, reg, n):
        return bytes(self._dev(addr).get(str(reg), [0] * n)[:n])

    def writeto_mem(self, addr, reg, buf):
        d = self._dev(addr)
        d[str(reg)] = list(buf)
        fakehw.record("i2c_write", self.id, addr, reg, bytes(buf))

    def scan(self):
        pre = "%d:" % self.id
        return sorted(int(k[len(pre):]) for k in fakehw.get("i2c", None, {}) if k.startswith(pre))


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        fakehw.record("wdt", timeout)

    def feed(self):
        fakehw.record("feed")


def reset():
    fakehw.record("reset")
    raise SystemExit(99)


def unique_id():
    return b"\xfa\x4e\x00\x01"
