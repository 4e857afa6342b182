"""DS18B20 temperature sensors on a 1-Wire bus (onewire + ds18x20 modules).

    {"driver": "ds18b20", "pin": 4, "rom": "28ff641e8316034a", "conv_ms": 750}

Never blocks the loop: a conversion (up to 750 ms at 12 bits) is started on
one sample and read on a later one, at least conv_ms after it started; the
sample in between reuses the last reading. So with sample_ms >= conv_ms a
fresh reading comes every second sample. Only the very first conversion is
waited for, once per bus when the station is built (before the event loop
and the watchdog run): the first samples have a value instead of looking
like a sensor fault. Sensors on the same pin share the
bus and its conversions (one convert_temp() converts them all). `rom` (16 hex
digits, from ds18x20.DS18X20(...).scan()) picks one sensor of several; without
it the first sensor found is used.
"""
from compat import ticks_ms, ticks_diff
import drivers

KEYS = "# pin:I:0: rom:h:16:16 conv_ms:i:94:2000"
_buses = {}


def settle(ms):
    """Wait for the first conversion at boot (tests replace this)."""
    import time
    time.sleep(ms / 1000)


class Ds18b20:
    """One sensor; the first on a pin also owns the pin's bus: its DS18X20,
    the conversion running (t0) and the conversions started (n)."""
    t0 = None      # ticks when the bus's running conversion started
    n = 0          # conversions started on the bus so far
    gen = 0        # the conversion this sensor last read
    value = None   # that reading
    rom = None     # bytes; None: the first sensor scan() finds
    error = None

    def __init__(self, board, spec, s):
        pin = s["pin"]
        self.conv = s.get("conv_ms") or 750
        b = _buses.get(pin)
        if b is None:
            import machine
            import onewire
            import ds18x20
            b = _buses[pin] = self
            self.ds = ds18x20.DS18X20(onewire.OneWire(machine.Pin(pin)))
            self.pin = pin
            try:
                self.start(ticks_ms())
                settle(self.conv)
            except Exception:  # no sensor on the pin yet: read() reports it
                self.t0 = None
        self.bus = b
        if s.get("rom"):
            import binascii
            self.rom = bytearray(binascii.unhexlify(s["rom"]))
        self.dtype = spec["dataType"]

    def start(self, now):
        """Start a conversion of every sensor on the bus (called on its owner)."""
        self.ds.convert_temp()
        self.t0 = now
        self.n += 1

    def read(self):
        b = self.bus
        now = ticks_ms()
        why = "first conversion running"
        v = None
        try:
            if b.t0 is None:
                b.start(now)
            elif ticks_diff(now, b.t0) >= self.conv:
                if self.gen == b.n:
                    b.start(now)          # read it already: this sample starts the next one
                else:
                    self.gen = b.n
                    self.value = None
                    self.rom = self.rom or (b.ds.scan() or [None])[0]
                    if self.rom is None:
                        why = "none found"
                    else:
                        self.value = drivers.typed(self.dtype, b.ds.read_temp(self.rom))
            v = self.value
        except Exception as e:  # onewire.OneWireError, CRC errors: plain Exception in ds18x20
            why = repr(e)
        if v is None:
            self.error = "DS18B20 on pin %d: %s" % (b.pin, why)
        return v


make = Ds18b20
