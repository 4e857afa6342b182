"""Every shipped board builds a Station whose drivers import and read, against
the fake machine/network/onewire/ds18x20/esp32/ntptime modules, and runs its
device services (Wi-Fi, NTP clock, watchdog) for a moment."""
import sys

_FAKES = __file__.replace("\\", "/").rsplit("/", 2)[0] + "/fakes"
if _FAKES not in sys.path:
    sys.path.insert(0, _FAKES)

import asyncio  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402

import compat  # noqa: E402
import fakehw  # noqa: E402
from device import config  # noqa: E402
import main  # noqa: E402
import support  # noqa: E402

DEVICES = ("esp32-devkitc", "esp32s3-psram", "pico-w")


def hardware():
    from drivers import ds18b20
    ds18b20.settle = lambda ms: None      # no waiting for the first conversion here
    fakehw.reset()
    for pin in (1, 26, 34):
        fakehw.put("adc", pin, 20000)
    fakehw.put("adc", 4, 14020)
    fakehw.put("uv", 34, 750000)
    for pin in (4, 15):
        fakehw.put("onewire", pin, {"28aa00000000001f": 23.5})
    fakehw.ina219(0, 64, volts=12.0, amps=0.8)
    fakehw.state["mcu_temp"] = 44.0


def station(name):
    from station import Station
    b = config.load("boards/%s.json" % name)
    b["storage"] = os.getcwd() + "/" + support.tmpdir("board")   # not beside the board file
    b["csms"]["url"] = "ws://127.0.0.1:1/ocpp"   # nothing listens: the session retries
    return Station(b)


def values(st):
    out = {}
    for v in st.model.vars:
        if v.sensor is not None:
            out[v.label() + ("[%s]" % v.variable["instance"] if v.variable.get("instance") else "")] = v.value
    return out


def test_device_boards_read_every_sensor():
    hardware()
    for name in DEVICES:
        gc.collect()
        st = station(name)
        for _ in range(3):
            st.tick()
        got = values(st)
        assert got["ControlMetering.Current"] == 0.8, (name, got)
        assert got["ControlMetering.Voltage"] == 12.0, (name, got)
        assert got["ChargingStation.Temperature[MCU]"] is not None, (name, got)
        for k in got:
            if k != "EVSE@1.Temperature":        # the DS18B20 converts for >= 750 ms first
                assert got[k] is not None, (name, k, got)


def test_device_boards_start_wifi_clock_and_watchdog():
    for name in DEVICES:
        hardware()
        gc.collect()
        st = station(name)
        svc = main.services(st)
        assert [type(s).__name__ for s in svc] == ["Wifi", "Ntp", "Supervisor"]

        async def go():
            st.services = svc
            tasks = [asyncio.create_task(s.run()) for s in svc]
            runner = asyncio.create_task(st.run())
            await compat.sleep_ms(1300)         # Wi-Fi up at the first poll, then NTP, samples
            for t in tasks + st.tasks + [runner]:
                t.cancel()
            await compat.sleep_ms(50)          # let every cancellation land
        asyncio.run(go())
        assert fakehw.called("wlan_connect")[0][1] == "depot", name
        assert fakehw.called("wdt") == [("wdt", st.board["watchdog"]["timeout_ms"])], name
        assert fakehw.called("feed"), name
        assert svc[0].up and svc[0].connects == 1, name
        assert svc[1].synced >= 1 and st.board["clock"] == "ntp", name
        assert st.ticks >= 2 and svc[2].reason is None, name


def test_host_boards_start_no_device_service():
    for name in ("host", "sim"):
        gc.collect()
        b = config.load("boards/%s.json" % name)
        b["storage"] = os.getcwd() + "/" + support.tmpdir("board")
        from station import Station
        assert main.services(Station(b)) == []
