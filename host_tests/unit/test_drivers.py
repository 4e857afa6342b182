"""Sensor drivers against the fake machine/onewire/ds18x20/esp32 modules of
host_tests/fakes (put first on sys.path here, and only by tests)."""
import sys

_FAKES = __file__.replace("\\", "/").rsplit("/", 2)[0] + "/fakes"
if _FAKES not in sys.path:
    sys.path.insert(0, _FAKES)

import fakehw  # noqa: E402
import drivers  # noqa: E402
from device import config  # noqa: E402
import support  # noqa: E402

I2C0 = {"id": 0, "scl": 22, "sda": 21, "freq": 400000}


def var(sensor, dtype="decimal", name="Temperature"):
    return {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": name},
            "dataType": dtype, "sensor": sensor}


def make(sensor, dtype="decimal", mcu="esp32", more=()):
    """The driver object for one sensor of a checked board."""
    from drivers import buses, ina219
    buses._i2c.clear()       # module caches outlive a board: start each test afresh
    ina219._chips.clear()
    specs = [var(sensor, dtype)] + [var(s, dtype, "V%d" % i) for i, s in enumerate(more)]
    b = {"board": "t", "mcu": mcu, "station": {"id": "T", "vendor": "A", "model": "M"},
         "csms": {"url": "ws://127.0.0.1:1/ocpp"}, "i2c": [I2C0], "variables": specs, "_dir": "."}
    config.check(b)
    out = [drivers.sensor(b, s, s["sensor"]) for s in specs]
    return out if more else out[0]


def approx(a, b, eps=0.01):
    return a is not None and abs(a - b) <= eps


# ---- adc -------------------------------------------------------------------

def test_adc_u16_with_scale_and_offset():
    fakehw.reset()
    fakehw.put("adc", 34, 32768)
    d = make({"driver": "adc", "pin": 34, "scale": 0.001, "offset": -10})
    assert approx(d.read(), 22.768)
    assert fakehw.called("adc") == [("adc", 34, None)]
    fakehw.put("adc", 34, 0)
    assert approx(d.read(), -10)


def test_adc_uv_mode_with_attenuation_averages_samples():
    fakehw.reset()
    fakehw.put("uv", 34, 750000)   # a TMP36 at 25 C
    d = make({"driver": "adc", "pin": 34, "atten": "11dB", "mode": "uv", "scale": 0.0001, "offset": -50,
              "samples": 8})
    assert approx(d.read(), 25.0)
    assert fakehw.called("adc") == [("adc", 34, 3)]     # machine.ADC.ATTN_11DB


def test_adc_integer_rounds_and_a_failing_read_gives_none_with_the_reason():
    fakehw.reset()
    fakehw.put("adc", 26, 1000)
    d = make({"driver": "adc", "pin": 26, "scale": 0.0155}, "integer", "rp2040")
    assert d.read() == 16
    del fakehw.state["adc"]["26"]
    assert d.read() is None and "pin 26" in d.error


# ---- mcu_temp ----------------------------------------------------------------

def test_mcu_temp_esp32_s3_reads_celsius_with_offset():
    fakehw.reset()
    fakehw.state["mcu_temp"] = 47.5
    d = make({"driver": "mcu_temp", "offset": -2.5}, mcu="esp32s3")
    assert approx(d.read(), 45.0)


def test_mcu_temp_classic_esp32_converts_fahrenheit():
    import esp32
    fakehw.reset()
    fakehw.state["mcu_temp"] = 50.0
    keep = esp32.mcu_temperature
    del esp32.mcu_temperature        # the classic ESP32 has raw_temperature() only
    try:
        d = make({"driver": "mcu_temp"}, mcu="esp32")
    finally:
        esp32.mcu_temperature = keep
    assert approx(d.read(), 50.0, 0.6)   # raw_temperature() is an int in Fahrenheit


def test_mcu_temp_rp2040_uses_adc_channel_4():
    fakehw.reset()
    fakehw.put("adc", 4, 14020)      # 0.706 V: 27 C by the RP2040 datasheet
    d = make({"driver": "mcu_temp"}, mcu="rp2040")
    assert approx(d.read(), 27.0, 0.1)
    fakehw.put("adc", 4, 13000)      # lower voltage: warmer
    assert d.read() > 40


# ---- pin ---------------------------------------------------------------------

def test_pin_pull_up_inverted_reads_true_when_pulled_low():
    import machine
    fakehw.reset()
    d = make({"driver": "pin", "pin": 27, "pull": "up", "invert": True}, "boolean")
    assert fakehw.called("pin")[0] == ("pin", 27, machine.Pin.IN, machine.Pin.PULL_UP)
    assert d.read() is False          # idle: pulled up, inverted
    fakehw.put("pin", 27, 0)
    assert d.read() is True
    n = make({"driver": "pin", "pin": 5}, "integer")
    fakehw.put("pin", 5, 1)
    assert n.read() == 1


# ---- ds18b20 -----------------------------------------------------------------

ROM_A = "28aa00000000001f"
ROM_B = "28bb000000000020"


def with_clock(fn):
    from drivers import ds18b20
    t = [1000]
    keep = ds18b20.ticks_ms, ds18b20.settle
    ds18b20.ticks_ms = lambda: t[0]
    ds18b20.settle = lambda ms: fakehw.record("settle", ms)   # no real waiting in tests
    ds18b20._buses.clear()
    try:
        fn(t)
    finally:
        ds18b20.ticks_ms, ds18b20.settle = keep
        ds18b20._buses.clear()


def test_ds18b20_converts_on_one_sample_and_reads_on_a_later_one():
    def body(t):
        fakehw.reset()
        fakehw.put("onewire", 4, {ROM_A: 21.5})
        d = make({"driver": "ds18b20", "pin": 4})
        assert fakehw.called("settle") == [("settle", 750)]   # the first conversion, at boot
        assert d.read() is None and "first conversion" in d.error  # (here the clock stood still)
        assert len(fakehw.called("convert")) == 1 and not fakehw.called("read_temp")
        t[0] += 500                       # conversion still running: never waits for it
        assert d.read() is None and not fakehw.called("read_temp")
        t[0] += 500
        assert d.read() == 21.5
        assert len(fakehw.called("read_temp")) == 1 and len(fakehw.called("convert")) == 1
        fakehw.put("onewire", 4, {ROM_A: 30.25})
        t[0] += 1000
        assert d.read() == 21.5           # this sample starts the next conversion
        assert len(fakehw.called("convert")) == 2
        t[0] += 1000
        assert d.read() == 30.25
    with_clock(body)


def test_ds18b20_sensors_on_one_pin_share_each_conversion():
    def body(t):
        fakehw.reset()
        fakehw.put("onewire", 4, {ROM_A: 20.0, ROM_B: 25.0})
        a, b = make({"driver": "ds18b20", "pin": 4, "rom": ROM_A},
                    more=[{"driver": "ds18b20", "pin": 4, "rom": ROM_B}])
        for _ in range(3):
            a.read()
            b.read()
            t[0] += 1000
        assert (a.read(), b.read()) == (20.0, 25.0)
        assert len(fakehw.called("onewire")) == 1          # one bus object
        assert len(fakehw.called("convert")) == 2          # not one per sensor
        assert len(fakehw.called("settle")) == 1
    with_clock(body)


def test_ds18b20_missing_sensor_gives_none_with_the_reason():
    def body(t):
        fakehw.reset()
        d = make({"driver": "ds18b20", "pin": 15})
        d.read()
        t[0] += 800
        assert d.read() is None and "DS18B20 on pin 15: none found" in d.error
        gone = make({"driver": "ds18b20", "pin": 16, "rom": ROM_B})
        gone.read()
        t[0] += 800
        assert gone.read() is None and "CRC" in gone.error
    with_clock(body)


# ---- ina219 ------------------------------------------------------------------

def ina(channel, ohms=0.1, dtype="decimal"):
    return {"driver": "ina219", "bus": 0, "addr": 64, "channel": channel, "shunt_ohms": ohms}


def test_ina219_two_variables_one_chip():
    fakehw.reset()
    fakehw.ina219(0, 64, volts=12.1, amps=1.5, ohms=0.1)
    cur, volt, power = make(ina("current"), more=[ina("voltage"), ina("power")])
    assert approx(cur.read(), 1.5, 0.001)
    assert approx(volt.read(), 12.1, 0.004)
    assert approx(power.read(), 18.15, 0.05)
    assert len(fakehw.called("i2c")) == 1                   # one machine.I2C for the three
    assert len(fakehw.called("i2c_write")) == 1              # configured once
    fakehw.ina219(0, 64, volts=11.0, amps=-0.25, ohms=0.1)
    assert approx(cur.read(), -0.25, 0.001) and approx(volt.read(), 11.0, 0.004)


def test_ina219_overflow_and_absent_chip_give_none_and_reconfigure():
    fakehw.reset()
    fakehw.ina219(0, 65, volts=5, amps=0.5)
    s = dict(ina("voltage"), addr=65)
    d = make(s)
    assert approx(d.read(), 5, 0.004)
    fakehw.state["i2c"]["0:65"]["2"][1] |= 1                 # OVF
    assert d.read() is None and "overflow" in d.error
    del fakehw.state["i2c"]["0:65"]
    assert d.read() is None and "0x41" in d.error
    fakehw.ina219(0, 65, volts=6, amps=0.5)
    n = len(fakehw.called("i2c_write"))
    assert approx(d.read(), 6, 0.004)
    assert len(fakehw.called("i2c_write")) == n + 1          # written again after a failure


# ---- the registry ----------------------------------------------------------------

def test_registry_names_the_variable_and_key_for_unknown_drivers():
    b = {"variables": [var({"driver": "x"}), var({"driver": "nope"}), var({"driver": "buses"})]}
    e = support.raises(config.ConfigError, drivers.sensor, b, b["variables"][1], b["variables"][1]["sensor"])
    assert e.key == "variables[1].sensor.driver" and "nope" in e.why
    e = support.raises(config.ConfigError, drivers.sensor, b, b["variables"][2], b["variables"][2]["sensor"])
    assert e.key == "variables[2].sensor.driver" and "not a sensor driver" in e.why


def test_typed():
    assert drivers.typed("integer", 2.6) == 3
    assert drivers.typed("decimal", 1.234567) == 1.2346
    assert drivers.typed("boolean", 1) is True
