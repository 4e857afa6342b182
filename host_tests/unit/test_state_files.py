"""A state file that exists but does not parse (flash damage, a cut write on a
file system without atomic rename): the station goes on with the default, as
for a missing file, and says so once in the diagnostics log."""
from drivers import store
import stationkit as kit
import support


def truncate(path, keep=10):
    with open(path) as f:
        text = f.read()
    assert len(text) > keep
    with open(path, "w") as f:
        f.write(text[:keep])


def corrupt_lines(st):
    return [ln for t, ln in st.log.lines() if "corrupt" in ln]


def test_the_store_logs_a_corrupt_file_once_and_a_missing_one_never():
    d = support.tmpdir("store")
    said = []
    s = store.Store(d, said.append)
    assert s.load("gone.json", 7) == 7
    s.save("x.json", {"next": 65})
    truncate(d + "/x.json", 9)
    assert s.load("x.json", {"next": 1}) == {"next": 1}
    assert s.load("x.json") is None
    assert s.bad == ("x.json",)
    assert said == [d + "/x.json corrupt: not used"]
    assert store.Store(d).load("x.json", 3) == 3     # no log function: still the default


def test_a_corrupt_monitors_json_drops_the_custom_monitors_and_is_logged():
    st = kit.make()
    kit.setmon(st, "UpperThreshold", 50)
    kit.setmon(st, "Delta", 5)
    assert corrupt_lines(st) == []
    truncate(st.store.root + "/monitors.jsonl", 30)     # in the first monitor's line
    st2 = kit.again(st)
    assert len(st2.monitors.active) == 0
    lines = corrupt_lines(st2)
    assert len(lines) == 1 and "monitors.jsonl corrupt" in lines[0]
    kit.setmon(st2, "UpperThreshold", 60)             # written whole again
    st3 = kit.again(st2)
    assert len(st3.monitors.active) == 1 and len(corrupt_lines(st3)) == 1


def test_a_corrupt_settings_json_reverts_to_the_defaults_and_is_logged_once():
    st = kit.make()
    kit.call(st, "SetMonitoringLevel", {"severity": 4})
    kit.call(st, "SetMonitoringBase", {"monitoringBase": "HardWiredOnly"})
    truncate(st.store.root + "/settings.json", 25)
    st2 = kit.again(st)
    assert st2.model.ctrl("MonitoringCtrlr.ActiveMonitoringLevel") == 9
    assert st2.model.ctrl("MonitoringCtrlr.ActiveMonitoringBase") == "All"
    kit.call(st2, "SetMonitoringLevel", {"severity": 3})   # reads the corrupt file again: said once
    lines = corrupt_lines(st2)
    assert len(lines) == 1 and "settings.json corrupt" in lines[0]
    st3 = kit.again(st2)
    assert st3.model.ctrl("MonitoringCtrlr.ActiveMonitoringLevel") == 3
    assert len(corrupt_lines(st3)) == 1


def test_a_corrupt_trips_json_is_logged():
    st = kit.make()
    kit.setmon(st, "UpperThreshold", 50)
    kit.setmon(st, "UpperThreshold", 55, severity=4)
    kit.push(st, 60)
    kit.drain(st)
    truncate(st.store.root + "/trips.json", 3)
    st2 = kit.again(st)
    lines = corrupt_lines(st2)
    assert len(lines) == 1 and "trips.json corrupt" in lines[0]


def test_monitors_are_a_row_per_line_and_a_corrupt_line_keeps_those_before_it():
    # A boot reads monitors.jsonl a row at a time (500 monitors never whole in
    # RAM); damage in one row loses that row and those after it, not all.
    st = kit.make()
    a = kit.setmon(st, "UpperThreshold", 50)["id"]
    kit.setmon(st, "Delta", 5)
    kit.setmon(st, "LowerThreshold", 0)
    p = st.store.root + "/monitors.jsonl"
    with open(p) as f:
        lines = f.read().split("\n")
    assert lines[0] == '{"next_id": %d}' % (a + 3) and len(lines) == 5 and lines[4] == ""
    with open(p, "w") as f:
        f.write("\n".join(lines[:2] + [lines[2][:12]] + lines[3:]))
    st2 = kit.again(st)
    assert [m[0] for m in st2.monitors.active] == [a]
    assert len(corrupt_lines(st2)) == 1
