"""The device model: components, variables, their characteristics and values.

Two kinds of variables live here, with one shape:
- sensor variables from the board file, sampled by a driver each tick;
- controller variables (MonitoringCtrlr, DeviceDataCtrlr, OCPPCommCtrlr...),
  configuration the station reads itself, persisted in settings.json when
  changed, with defaults from CTRL below and overrides from the board's
  "settings".
Board variables without a sensor that are not ReadOnly are written by the
CSMS (SetVariables) and persisted in values.json. Each component with a
sensor also gets a ReadOnly boolean "Problem" variable: true while one of
its sensors fails (docs/device-model.md).
"""
import compat
from device import config

NUMERIC = ("decimal", "integer")

# (component, variable, instance, dataType, mutability, default, min, max, unit, valuesList)
CTRL = (
    ("MonitoringCtrlr", "Available", None, "boolean", "ReadOnly", True, None, None, None, None),
    ("MonitoringCtrlr", "Enabled", None, "boolean", "ReadWrite", True, None, None, None, None),
    ("MonitoringCtrlr", "ItemsPerMessage", "SetVariableMonitoring", "integer", "ReadOnly", 50, 1, None, None, None),
    ("MonitoringCtrlr", "BytesPerMessage", "SetVariableMonitoring", "integer", "ReadOnly", 8000, 100, None, None, None),
    ("MonitoringCtrlr", "ItemsPerMessage", "ClearVariableMonitoring", "integer", "ReadOnly", 100, 1, None, None, None),
    ("MonitoringCtrlr", "BytesPerMessage", "ClearVariableMonitoring", "integer", "ReadOnly", 4000, 100, None, None, None),
    ("MonitoringCtrlr", "OfflineQueuingSeverity", None, "integer", "ReadWrite", 9, 0, 9, None, None),
    ("MonitoringCtrlr", "ActiveMonitoringBase", None, "OptionList", "ReadOnly", "All", None, None, None,
     "All,FactoryDefault,HardWiredOnly"),
    ("MonitoringCtrlr", "ActiveMonitoringLevel", None, "integer", "ReadOnly", 9, 0, 9, None, None),
    ("MonitoringCtrlr", "SampleInterval", None, "integer", "ReadWrite", 1000, 10, 3600000, "ms", None),
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport", "integer", "ReadOnly", 20, 1, None, None, None),
    ("DeviceDataCtrlr", "BytesPerMessage", "GetReport", "integer", "ReadOnly", 4000, 100, None, None, None),
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables", "integer", "ReadOnly", 20, 1, None, None, None),
    ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables", "integer", "ReadOnly", 4000, 100, None, None, None),
    ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables", "integer", "ReadOnly", 20, 1, None, None, None),
    ("DeviceDataCtrlr", "BytesPerMessage", "SetVariables", "integer", "ReadOnly", 4000, 100, None, None, None),
    ("DeviceDataCtrlr", "ReportingValueSize", None, "integer", "ReadOnly", 2500, 1, 2500, None, None),
    ("DeviceDataCtrlr", "ValueSize", None, "integer", "ReadOnly", 2500, 1, 2500, None, None),
    ("OCPPCommCtrlr", "HeartbeatInterval", None, "integer", "ReadWrite", 300, 1, 86400, "s", None),
    ("OCPPCommCtrlr", "MessageTimeout", "Default", "integer", "ReadWrite", 30, 1, 3600, "s", None),
    ("OCPPCommCtrlr", "FileTransferProtocols", None, "MemberList", "ReadOnly", "HTTP,HTTPS,FTP", None, None, None,
     "HTTP,HTTPS,FTP"),
)

# Controller variables a SummaryInventory lists, besides every Problem variable.
SUMMARY = ("MonitoringCtrlr.Available", "MonitoringCtrlr.Enabled")


def key(cname, ceid, cinst, vname, vinst):
    """The lookup key of a variable: component name/evse/instance + variable name/instance."""
    return "%s|%s|%s|%s|%s" % (cname, "" if ceid is None else ceid, cinst or "", vname, vinst or "")


def key_of(component, variable):
    e = component.get("evse")
    ceid = None
    if e:
        # A connector is a component of its own: EVSE 1 connector 1 != connector 2.
        ceid = e.get("id") if e.get("connectorId") is None else "%s:%s" % (e.get("id"), e["connectorId"])
    return key(component.get("name"), ceid, component.get("instance"),
               variable.get("name"), variable.get("instance"))


def parse(dtype, text):
    """Text from a sensor or a SetVariables to the variable's value; raises ValueError."""
    if dtype == "decimal":
        if "_" in text:
            raise ValueError("not a decimal")   # Python's digit separators are no OCPP decimal
        f = float(text)
        if f - f != 0:
            raise ValueError("not a finite decimal")   # nan and inf would poison thresholds
        return f
    if dtype == "integer":
        t = text.strip()
        if "." in t or "e" in t or "E" in t or "_" in t:
            raise ValueError("not an integer")
        return int(t)
    if dtype == "boolean":
        t = text.strip().lower()
        if t in ("true", "1"):
            return True
        if t in ("false", "0"):
            return False
        raise ValueError("not a boolean")
    return text


def text(value):
    """A value as OCPP sends it: booleans lower case, numbers without noise."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, float):
        if value == int(value) and -1e15 < value < 1e15:
            return str(int(value))
        return "%.6g" % value if abs(value) < 1e6 else str(value)
    return str(value)


class Variable:
    """One variable of one component. A few hundred of these may exist: defaults
    are class attributes and an instance stores only what differs, which halves
    its size on MicroPython (an instance's attributes live in a per-object map)."""

    numeric = False
    mutability = "ReadOnly"
    unit = None
    min = None
    max = None
    values = None
    sensor = None
    ctrl = False
    name = None            # controller variables: "MonitoringCtrlr.Enabled"-style name
    value = None           # last good value (None: none yet)
    ok = True              # the sensor answered at the last sample
    monitorable = True
    summary = False        # listed in a SummaryInventory report

    def __init__(self, component, variable, dtype, mutability="ReadOnly", unit=None,
                 lo=None, hi=None, values=None, sensor=None, ctrl=False):
        self.component = component
        self.variable = variable
        self.key = key_of(component, variable)
        self.dtype = dtype
        if dtype in NUMERIC:
            self.numeric = True
        if mutability != "ReadOnly":
            self.mutability = mutability
        if unit is not None:
            self.unit = unit
        if lo is not None:
            self.min = lo
        if hi is not None:
            self.max = hi
        if values is not None:
            self.values = values
        if sensor is not None:
            self.sensor = sensor
        if ctrl:
            self.ctrl = True

    def settable(self):
        """SetVariables may write it: not ReadOnly and not measured by a sensor."""
        return self.mutability != "ReadOnly" and self.sensor is None

    def label(self):
        c = self.component["name"]
        e = self.component.get("evse")
        if e:
            c += "@%d" % e["id"]
        return c + "." + self.variable["name"]


class Model:
    def __init__(self, board, store, sensor_factory=None):
        self.store = store
        self.vars = []
        self.by_key = {}
        self.components = {}  # name -> 1, for UnknownComponent vs UnknownVariable
        self.named = {}       # "MonitoringCtrlr.Enabled"-style name -> controller variable
        for spec in board["variables"]:
            s = spec.get("sensor")
            drv = sensor_factory(board, spec, s) if (s is not None and sensor_factory) else None
            v = Variable(spec["component"], spec["variable"], spec["dataType"], spec["mutability"],
                         spec.get("unit"), spec.get("min"), spec.get("max"), spec.get("values"), drv)
            if "value" in spec:
                v.value = spec["value"]
            self._add(v)
        self._problems()
        values = store.load("values.json", {}) if store else {}
        for v in self.vars:
            if v.key in values and v.settable() and not self.check(v, values[v.key]):
                v.value = values[v.key]
        saved = store.load("settings.json", {}) if store else {}
        over = dict(board.get("settings") or {})
        if "MonitoringCtrlr.SampleInterval" not in over:
            over["MonitoringCtrlr.SampleInterval"] = board.get("sample_ms", 1000)
        comps = {}   # one component dict per controller, shared by its variables
        for c in CTRL:
            comp = comps.get(c[0])
            if comp is None:
                comp = comps[c[0]] = {"name": c[0]}
            var = {"name": c[1]}
            if c[2]:
                var["instance"] = c[2]
            v = Variable(comp, var, c[3], c[4], c[8], c[6], c[7], c[9], None, True)
            if not (c[3] in NUMERIC or c[3] == "boolean"):
                v.monitorable = False
            name = c[0] + "." + c[1] + ("[%s]" % c[2] if c[2] else "")
            v.name = name
            if name in SUMMARY:
                v.summary = True
            self.named[name] = v
            val = c[5]
            if name in over:
                val = over[name]
                err = self.check(v, val)
                if err:
                    raise config.ConfigError("settings." + name, err)
            if name in saved and not self.check(v, saved[name]):
                val = saved[name]
            v.value = val
            self._add(v)

    def _problems(self):
        """One Problem variable per component with sensors, unless the board has one."""
        groups = {}
        for v in self.vars:
            if v.sensor is None:
                continue
            k = key_of(v.component, {"name": "Problem"})
            if k in self.by_key and k not in groups:
                continue
            g = groups.get(k)
            if g is None:
                p = Variable(v.component, {"name": "Problem"}, "boolean", "ReadOnly", None, None, None, None,
                             Problem([]))
                p.value = False
                p.summary = True
                groups[k] = p
                g = p
            g.sensor.watched.append(v)
        for k in groups:
            self._add(groups[k])

    def _add(self, v):
        if v.key in self.by_key:
            raise config.ConfigError("variables", "duplicate variable " + v.label())
        v.index = len(self.vars)
        self.vars.append(v)
        self.by_key[v.key] = v
        self.components[v.component["name"]] = 1

    def find(self, component, variable):
        """The variable, or None. component/variable in OCPP shapes."""
        return self.by_key.get(key_of(component, variable))

    def known_component(self, component):
        """True when some variable has this component (name, evse and instance)."""
        name = component.get("name")
        if name not in self.components:
            return False
        e = component.get("evse")
        for v in self.vars:
            c = v.component
            if c["name"] == name and c.get("instance") == component.get("instance"):
                ce = c.get("evse")
                if e is None and ce is None:
                    return True
                if e and ce and e.get("id") == ce.get("id") and e.get("connectorId") == ce.get("connectorId"):
                    return True
        return False

    def ctrl(self, name):
        """Value of a controller variable by its dotted name, e.g. 'MonitoringCtrlr.Enabled'."""
        return self.named[name].value

    def check(self, v, value):
        """Why `value` does not fit variable v (a string), or None when it fits."""
        if v.dtype == "boolean":
            return None if isinstance(value, bool) else "not a boolean"
        if v.numeric:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return "not a number"
            if v.dtype == "integer" and value != int(value):
                return "not an integer"
            if (v.min is not None and value < v.min) or (v.max is not None and value > v.max):
                return "out of range"
            return None
        if not isinstance(value, str):
            return "not a string"
        if v.values and v.dtype == "OptionList" and value not in v.values.split(","):
            return "not in valuesList"
        if v.values and v.dtype == "MemberList" and value:
            allowed = v.values.split(",")
            for m in value.split(","):
                if m not in allowed:
                    return "not in valuesList"
        if v.dtype == "dateTime" and compat.parse_iso(value) is None:
            return "not a dateTime"
        return None

    def set_value(self, v, value):
        """Set a variable the CSMS may write, and persist it; the error text or None."""
        if v.ctrl:
            return self.set_ctrl(v.name, value)
        return self._set(v, value, "values.json", v.key)

    def set_ctrl(self, name, value):
        """Set and persist a controller variable; returns the error text or None."""
        return self._set(self.named[name], value, "settings.json", name)

    def _set(self, v, value, fname, key):
        """Check, set, and persist under `key` in `fname` (controller settings or CSMS-written values)."""
        err = self.check(v, value)
        if err:
            return err
        if v.dtype == "integer":
            value = int(value)
        v.value = value
        saved = self.store.load(fname, {})
        saved[key] = value
        self.store.save(fname, saved)
        return None


class Problem:
    """The sensor of a Problem variable: true while a watched sensor is faulty.

    Sampled after the sensors it watches (it is added after them), so it
    reads their state of the same tick; never allocates.
    """

    def __init__(self, watched):
        self.watched = watched
        self.error = None

    def read(self):
        for v in self.watched:
            if not v.ok:
                return True
        return False
