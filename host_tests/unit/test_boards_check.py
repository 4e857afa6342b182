"""The board file check (device/config.py) on the shipped boards and on bad
variants of them: each bad variant names the key at fault. host_tests/
test_boards.py runs the same CASES through the JSON Schema and
tools/validate_board.py, which must name the same key."""
import json

from device import config
import support

BOARDS = ("esp32-devkitc", "esp32s3-psram", "pico-w", "host", "sim")
DELETE = "<delete>"
S33 = "x" * 33
S51 = "x" * 51


def cfg(dtype, **more):
    """A board variable without a sensor, written by the CSMS."""
    v = {"component": {"name": "Cfg"}, "variable": {"name": "X"}, "dataType": dtype, "mutability": "ReadWrite"}
    v.update(more)
    return v


# (board, path, new value or DELETE, key the check names, the schema catches it too)
CASES = (
    ("esp32-devkitc", "wifi.ssid", DELETE, "wifi.ssid", True),
    ("esp32-devkitc", "wifi.ssid", S33, "wifi.ssid", True),
    ("esp32-devkitc", "wifi.pasword", "x", "wifi.pasword", True),
    ("esp32-devkitc", "wifi.password", 5, "wifi.password", True),
    ("esp32-devkitc", "wifi.country", "DEU", "wifi.country", True),
    ("pico-w", "watchdog.timeout_ms", 9000, "watchdog.timeout_ms", True),
    ("esp32-devkitc", "watchdog.timeout_ms", 500, "watchdog.timeout_ms", True),
    ("esp32-devkitc", "watchdog.timeout_ms", DELETE, "watchdog.timeout_ms", True),
    ("esp32-devkitc", "watchdog.offline_reset_s", -1, "watchdog.offline_reset_s", True),
    ("esp32-devkitc", "clock", "gps", "clock", True),
    ("esp32-devkitc", "clock", "csms", "ntp", True),
    ("esp32-devkitc", "ntp.every_s", 10, "ntp.every_s", True),
    ("esp32-devkitc", "ntp.timeout_s", 30, "ntp.timeout_s", True),
    ("esp32-devkitc", "mcu", "esp8266", "mcu", True),
    ("esp32-devkitc", "wathcdog", {"timeout_ms": 8000}, "wathcdog", True),
    ("esp32-devkitc", "echo", "yes", "echo", True),
    ("esp32-devkitc", "sample_ms", 5, "sample_ms", True),
    ("esp32-devkitc", "station.id", "CS/1", "station.id", True),
    ("esp32-devkitc", "csms.url", "wss://127.0.0.1:9/ocpp", "csms.ca", True),
    ("esp32-devkitc", "i2c[0].scl", DELETE, "i2c[0].scl", True),
    ("esp32-devkitc", "i2c[0].freq", 5, "i2c[0].freq", True),
    ("esp32-devkitc", "variables[0].sensor.pin", "4", "variables[0].sensor.pin", True),
    ("esp32-devkitc", "variables[0].sensor.rom", "28ff", "variables[0].sensor.rom", True),
    ("esp32-devkitc", "variables[0].sensor.conv_ms", 5000, "variables[0].sensor.conv_ms", True),
    ("esp32-devkitc", "variables[0].dataType", "boolean", "variables[0].dataType", True),
    ("esp32-devkitc", "variables[1].sensor.atten", "12dB", "variables[1].sensor.atten", True),
    ("esp32-devkitc", "variables[1].sensor.samples", 0, "variables[1].sensor.samples", True),
    ("esp32-devkitc", "variables[1].sensor.gain", 2, "variables[1].sensor.gain", True),
    ("esp32-devkitc", "variables[3].sensor.channel", "amps", "variables[3].sensor.channel", True),
    ("esp32-devkitc", "variables[3].sensor.addr", 32, "variables[3].sensor.addr", True),
    ("esp32-devkitc", "variables[3].sensor.shunt_ohms", 0, "variables[3].sensor.shunt_ohms", True),
    ("esp32-devkitc", "variables[5].sensor.pull", "sideways", "variables[5].sensor.pull", True),
    ("esp32-devkitc", "variables[5].dataType", "string", "variables[5].dataType", True),
    ("pico-w", "variables[4].sensor.mode", "uv", "variables[4].sensor.mode", True),
    ("pico-w", "variables[4].sensor.atten", "11dB", "variables[4].sensor.atten", True),
    ("host", "i2c", [{"id": 0, "scl": 1, "sda": 2}], "i2c", True),
    ("host", "wifi", {"ssid": "x"}, "wifi", True),
    ("host", "clock", "ntp", "clock", True),
    ("host", "variables[0].sensor", {"driver": "mcu_temp"}, "variables[0].sensor.driver", True),
    ("host", "variables[0].sensor.path", DELETE, "variables[0].sensor.path", True),
    ("sim", "variables[1].sensor.dropout", 2, "variables[1].sensor.dropout", True),
    ("sim", "variables[0].sensor.wave", "saw", "variables[0].sensor.wave", True),
    # BootNotification's limits (vendorName 50, model 20, serialNumber 25, firmwareVersion 50)
    ("host", "station.vendor", S51, "station.vendor", True),
    ("host", "station.model", "x" * 21, "station.model", True),
    ("host", "station.serial", "x" * 26, "station.serial", True),
    ("host", "station.firmware", S51, "station.firmware", True),
    # ComponentType and VariableType: instance maxLength 50
    ("host", "variables[0].component.instance", S51, "variables[0].component.instance", True),
    ("host", "variables[0].variable.instance", S51, "variables[0].variable.instance", True),
    # valuesList is one string of comma-separated values, at most 1000 characters
    ("host", "variables[1]", cfg("OptionList", values=["A", "B"], value="A"), "variables[1].values", True),
    ("host", "variables[1]", cfg("OptionList", values="A," + "x" * 999, value="A"), "variables[1].values", True),
    # the initial value has the dataType's JSON type
    ("host", "variables[1]", cfg("integer", value="abc"), "variables[1].value", True),
    ("host", "variables[1]", cfg("integer", value=1.5), "variables[1].value", True),
    ("host", "variables[1]", cfg("boolean", value="true"), "variables[1].value", True),
    ("host", "variables[1]", cfg("string", value=5), "variables[1].value", True),
    # settings name controller variables (a typo was ignored) with values that fit them
    ("host", "settings", {"MonitoringCtrlr.OfflineQueingSeverity": 3},
     "settings.MonitoringCtrlr.OfflineQueingSeverity", True),
    ("host", "settings", {"MonitoringCtrlr.Enabled": "true"}, "settings.MonitoringCtrlr.Enabled", True),
    ("host", "settings", {"OCPPCommCtrlr.HeartbeatInterval": 0}, "settings.OCPPCommCtrlr.HeartbeatInterval", True),
    ("host", "sample_ms", 3600001, "sample_ms", True),
    # a variable has the keys docs/boards.md lists and no others
    ("host", "variables[0].mutabilty", "ReadWrite", "variables[0].mutabilty", True),
    ("host", "variables[0]._note", "x", "variables[0]._note", True),
    # the URL the session connects to, <csms.url>/<station.id>, as protocol/ws.py parses it
    ("host", "csms.url", "ws:///ocpp", "csms.url", True),
    ("host", "csms.url", "ws://127.0.0.1:99999/ocpp", "csms.url", True),
    ("host", "csms.url", "ws://127.0.0.1:0/ocpp", "csms.url", True),
    ("host", "csms.url", "ws://127.0.0.1:9000/oc pp", "csms.url", True),
    ("host", "csms.url", "ws://csms example/ocpp", "csms.url", True),
    ("host", "csms.url", "ws://user@127.0.0.1/ocpp", "csms.url", True),
    ("host", "csms.url", "ws://::1/ocpp", "csms.url", True),
    ("host", "csms.url", "http://127.0.0.1/ocpp", "csms.url", True),
    ("host", "csms.url", "ws://127.0.0.1/ocpp?x=1", "csms.url", True),
    ("host", "csms.url", "ws://127.0.0.1/ocpp#x", "csms.url", True),
    ("host", "station.id", "CS 1", "station.id", True),
    ("host", "station.id", "CS?1", "station.id", True),
    ("host", "station.id", "CS#1", "station.id", True),
    ("host", "station.id", "CS\r\n1", "station.id", True),
    # thresholds need a numeric variable, as SetVariableMonitoring says (UnsupportedMonitorType)
    ("host", "variables[1]", cfg("string", monitors=[{"id": 5, "type": "UpperThreshold", "value": 3, "severity": 2,
                                                     "origin": "Preconfigured"}]), "variables[1].monitors[0].type", True),
    ("sim", "variables[4].monitors[0].type", "LowerThreshold", "variables[4].monitors[0].type", True),
    # Beyond a JSON Schema: only the firmware's check sees these.
    ("esp32-devkitc", "variables[0].sensor.driver", "nope", "variables[0].sensor.driver", False),
    ("esp32-devkitc", "variables[3].sensor.bus", 1, "variables[3].sensor.bus", False),
    ("esp32-devkitc", "variables[1].monitors[0].id", 1, "variables[1].monitors[0].id", False),
    ("esp32-devkitc", "i2c[1]", {"id": 0, "scl": 1, "sda": 2}, "i2c[1].id", False),
    ("esp32-devkitc", "variables[0].min", 200, "variables[0].min", False),
    # the initial value as SetVariables checks a value (Model.check): range, valuesList, dateTime
    ("host", "variables[1]", cfg("integer", min=0, max=10, value=99), "variables[1].value", False),
    ("host", "variables[0].value", 151, "variables[0].value", False),
    ("host", "variables[1]", cfg("OptionList", values="A,B", value="Z"), "variables[1].value", False),
    ("host", "variables[1]", cfg("MemberList", values="A,B", value="A,Z"), "variables[1].value", False),
    ("host", "variables[1]", cfg("dateTime", value="yesterday"), "variables[1].value", False),
)


def load(name):
    with open("boards/%s.json" % name) as f:
        return json.load(f)


def _steps(path):
    out = []
    for part in path.split("."):
        while "[" in part:
            i = part.index("[")
            if i:
                out.append(part[:i])
            j = part.index("]")
            out.append(int(part[i + 1:j]))
            part = part[j + 1:]
        if part:
            out.append(part)
    return out


def mutate(board, path, value):
    """Set (or delete, or append at the end of a list) the key at a dotted path."""
    steps = _steps(path)
    obj = board
    for s in steps[:-1]:
        obj = obj[s]
    last = steps[-1]
    if value == DELETE:
        del obj[last]
    elif isinstance(last, int) and last == len(obj):
        obj.append(value)
    else:
        obj[last] = value
    return board


def bad(case):
    b = mutate(load(case[0]), case[1], case[2])
    b["_dir"] = "boards"
    return b


def test_every_shipped_board_passes_the_check():
    for name in BOARDS:
        b = config.load("boards/%s.json" % name)
        assert b["board"] == name
        assert b["mcu"] == ("host" if name in ("host", "sim") else b["mcu"])


def test_each_bad_variant_names_the_key_at_fault():
    for case in CASES:
        e = support.raises(config.ConfigError, config.check, bad(case))
        assert e.key == case[3], (case, e.key, e.why)


def test_defaults_are_filled():
    b = config.check(bad(("host", "clock", DELETE, "", True)))
    assert b["clock"] == "csms" and b["mcu"] == "host"


def test_free_keys_start_with_an_underscore():
    b = load("host")
    b["_note"] = "anything"
    b["_dir"] = "boards"
    config.check(b)


def test_load_names_the_file_problem():
    e = support.raises(config.ConfigError, config.load, "boards/no-such-board.json")
    assert e.key == "(file)"


def test_the_checks_leave_no_code_behind():
    import sys
    import device
    config.load("boards/pico-w.json")
    support.raises(config.ConfigError, config.check, bad(CASES[0]))
    assert "device.checks" not in sys.modules and not hasattr(device, "checks")


def test_values_at_the_ocpp_limits_pass():
    b = bad(("host", "station", {"id": "x" * 48, "vendor": "v" * 50, "model": "m" * 20, "serial": "s" * 25,
                                  "firmware": "f" * 50}, "", True))
    b["variables"][0]["component"]["instance"] = b["variables"][0]["variable"]["instance"] = "i" * 50
    config.check(b)


def test_initial_values_that_fit_pass_and_the_station_starts_with_them():
    import os
    import support as sp
    from station import Station
    b = bad(("host", "variables", [cfg("OptionList", values="Eco,Boost", value="Boost"),
                                   cfg("MemberList", variable={"name": "M"}, values="L1,L2,L3", value="L1,L3"),
                                   cfg("integer", variable={"name": "N"}, min=0, max=10, value=10.0),
                                   cfg("decimal", variable={"name": "D"}, value=2),
                                   cfg("boolean", variable={"name": "B"}, value=False),
                                   cfg("dateTime", variable={"name": "T"}, value="2024-01-01T00:00:00Z")], "", True))
    b["storage"] = os.getcwd() + "/" + sp.tmpdir("values")
    st = Station(config.check(b))
    assert [v.value for v in st.model.vars] == ["Boost", "L1,L3", 10.0, 2, False, "2024-01-01T00:00:00Z"]


def test_settings_json_may_name_a_variable_the_firmware_no_longer_has():
    # Saved by SetVariables before a firmware update removed or changed the variable:
    # skipped at boot, unlike the board's own settings.
    import os
    import support as sp
    from drivers.store import Store
    from station import Station
    b = bad(("host", "settings", {"OCPPCommCtrlr.HeartbeatInterval": 60}, "", True))
    b["storage"] = os.getcwd() + "/" + sp.tmpdir("settings")
    Store(b["storage"]).save("settings.json", {"MonitoringCtrlr.Gone": 1, "OCPPCommCtrlr.HeartbeatInterval": 0,
                                               "MonitoringCtrlr.OfflineQueuingSeverity": 4})
    m = Station(config.check(b)).model
    assert m.ctrl("OCPPCommCtrlr.HeartbeatInterval") == 60
    assert m.ctrl("MonitoringCtrlr.OfflineQueuingSeverity") == 4


# Valid for the firmware and the schema alike (host_tests/test_boards.py checks the schema).
GOOD = (("csms.url", "ws://127.0.0.1:9000/ocpp/"), ("csms.url", "ws://csms.example"),
        ("csms.url", "ws://[::1]:9000/ocpp"), ("csms.url", "ws://h:/o"), ("csms.url", "ws://h:065535/a//b"),
        ("csms.url", "wss://[fe80::1]/ocpp"), ("station.id", "CS-1:a*b|c@d.e=f+g_h"))


def fixture_ca():
    import os
    return os.getcwd() + "/host_tests/fakes/ca.der"     # a test CA's certificate (DER)


def test_urls_the_websocket_client_takes_pass():
    for case in GOOD:
        b = bad(("host",) + case)
        b["csms"]["ca"] = fixture_ca()
        config.check(b)


def test_a_wss_board_needs_a_ca_file_the_station_can_load():
    # Loaded at boot as each connection loads it: a missing or unreadable CA
    # fails the boot naming csms.ca, not every connection attempt forever.
    import support
    junk = support.tmpdir("ca") + "/junk.pem"
    with open(junk, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
    for ca in ("/nonexistent/ca.der", junk):
        b = bad(("host", "csms.url", "wss://127.0.0.1:9/ocpp", "", True))
        b["csms"]["ca"] = ca
        e = support.raises(config.ConfigError, config.check, b)
        assert e.key == "csms.ca", (ca, e.why)
    b["csms"]["ca"] = fixture_ca()
    config.check(b)


def test_monitors_on_a_variable_the_same_as_set_variable_monitoring_takes_them():
    # A threshold on a string or boolean variable: refused at boot, UnsupportedMonitorType
    # from SetVariableMonitoring. A Delta or a Periodic monitor: taken by both.
    import stationkit as kit
    mons = [{"id": 5, "type": "Delta", "value": 0, "severity": 2, "origin": "Preconfigured"},
            {"id": 6, "type": "Periodic", "value": 60, "severity": 2, "origin": "Preconfigured"}]
    st = kit.make([kit.var(comp={"name": "Cfg"}, name="S", dtype="string", lo=None, hi=None, mut="ReadWrite",
                           value="x", monitors=mons)])
    st.tick()
    st.push({"name": "Cfg"}, {"name": "S"}, "y")     # the board's Delta fires on a change
    st.tick()
    assert [(e["variableMonitoringId"], e["actualValue"]) for e in kit.drain(st)] == [(5, "y")]
    for t, status in (("UpperThreshold", "UnsupportedMonitorType"), ("LowerThreshold", "UnsupportedMonitorType"),
                      ("Delta", "Accepted")):
        assert kit.setmon(st, t, 3, comp={"name": "Cfg"}, variable={"name": "S"})["status"] == status, t
        b = bad(("host", "variables[1]", cfg("string", monitors=[dict(mons[0], type=t, value=3)]), "", True))
        e = None
        try:
            config.check(b)
        except config.ConfigError as x:
            e = x
        assert (e and e.key) == (None if status == "Accepted" else "variables[1].monitors[0].type"), t
