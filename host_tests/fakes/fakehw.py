"""State of the fake hardware behind the fake machine, network, onewire,
ds18x20, esp32 and ntptime modules of this folder (host tests only).

Tests put host_tests/fakes first on sys.path, then set values here:

    fakehw.reset()
    fakehw.put("adc", 34, 30000)          # machine.ADC(Pin(34)).read_u16()
    fakehw.ina219(0, 0x40, volts=12.1, amps=1.5, ohms=0.1)

A station running in another process reads the same state from the JSON file
named by the FAKE_HW environment variable (re-read at each access, so a test
can change a value while the station runs):

    {"adc": {"34": 30000}, "pin": {"27": 0}, "mcu_temp": 41.5,
     "onewire": {"4": {"28aa00000000001f": 21.5}},
     "i2c": {"0:64": {"1": [0, 150], "2": [23, 162]}}, "ntp_fail": false}

`calls` records what the firmware asked of the fakes, in order.
Runs on MicroPython and CPython.
"""
import json
import os

state = {}
calls = []


def reset():
    state.clear()
    state.update({"adc": {}, "uv": {}, "pin": {}, "mcu_temp": 40.0, "onewire": {}, "i2c": {},
                  "ntp_fail": False, "ntp_offset": 0, "wlan_polls": 1, "wlan_fail": False})
    del calls[:]


reset()

_file = os.getenv("FAKE_HW")


def _sync():
    if not _file:
        return
    try:
        with open(_file) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return
    for k in data:
        state[k] = data[k]


def get(kind, key=None, default=None):
    """state[kind][str(key)] (or state[kind] without key), default when absent."""
    _sync()
    v = state.get(kind)
    if key is None:
        return default if v is None else v
    if v is None:
        return default
    return v.get(str(key), default)


def put(kind, key, value):
    state[kind][str(key)] = value


def ina219(bus, addr, volts, amps, ohms=0.1):
    """Registers of an INA219 measuring `volts` on the bus and `amps` through `ohms`."""
    shunt = int(round(amps * ohms / 10e-6))
    if shunt < 0:
        shunt += 65536
    busreg = (int(round(volts / 0.004)) << 3) | 2   # CNVR set, no overflow
    state["i2c"]["%d:%d" % (bus, addr)] = {
        "0": [0x39, 0x9F], "1": [shunt >> 8, shunt & 255], "2": [busreg >> 8, busreg & 255]}


def record(*what):
    calls.append(what)


def called(name):
    """The recorded calls named `name`, e.g. called("feed")."""
    return [c for c in calls if c[0] == name]
