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

# (name, component, variable, instance, dataType, mutability, default, min, max, unit, valuesList)
# Every row names a module constant (INT, BOOL, RO...), so it is a tuple built at import
# from interned strings; a tuple of literals only would be folded into a constant whose
# strings each take heap when the .mpy loads (2.4 KB more for this table). The names are
# strings the callers of ctrl("MonitoringCtrlr.Enabled") share, and they take no heap.
BOOL = "boolean"
INT = "integer"
RO = "ReadOnly"
RW = "ReadWrite"
CTRL = (
    ("MonitoringCtrlr.Available", "MonitoringCtrlr", "Available", None,
     BOOL, RO, True, None, None, None, None),
    ("MonitoringCtrlr.Enabled", "MonitoringCtrlr", "Enabled", None,
     BOOL, RW, True, None, None, None, None),
    ("MonitoringCtrlr.ItemsPerMessage[SetVariableMonitoring]", "MonitoringCtrlr", "ItemsPerMessage",
     "SetVariableMonitoring", INT, RO, 50, 1, None, None, None),
    ("MonitoringCtrlr.BytesPerMessage[SetVariableMonitoring]", "MonitoringCtrlr", "BytesPerMessage",
     "SetVariableMonitoring", INT, RO, 8000, 100, None, None, None),
    ("MonitoringCtrlr.ItemsPerMessage[ClearVariableMonitoring]", "MonitoringCtrlr", "ItemsPerMessage",
     "ClearVariableMonitoring", INT, RO, 100, 1, None, None, None),
    ("MonitoringCtrlr.BytesPerMessage[ClearVariableMonitoring]", "MonitoringCtrlr", "BytesPerMessage",
     "ClearVariableMonitoring", INT, RO, 4000, 100, None, None, None),
    ("MonitoringCtrlr.OfflineQueuingSeverity", "MonitoringCtrlr", "OfflineQueuingSeverity", None,
     INT, RW, 9, 0, 9, None, None),
    ("MonitoringCtrlr.ActiveMonitoringBase", "MonitoringCtrlr", "ActiveMonitoringBase", None,
     "OptionList", RO, "All", None, None, None, "All,FactoryDefault,HardWiredOnly"),
    ("MonitoringCtrlr.ActiveMonitoringLevel", "MonitoringCtrlr", "ActiveMonitoringLevel", None,
     INT, RO, 9, 0, 9, None, None),
    ("MonitoringCtrlr.SampleInterval", "MonitoringCtrlr", "SampleInterval", None,
     INT, RW, 1000, 10, 3600000, "ms", None),
    ("DeviceDataCtrlr.ItemsPerMessage[GetReport]", "DeviceDataCtrlr", "ItemsPerMessage", "GetReport",
     INT, RO, 20, 1, None, None, None),
    ("DeviceDataCtrlr.BytesPerMessage[GetReport]", "DeviceDataCtrlr", "BytesPerMessage", "GetReport",
     INT, RO, 4000, 100, None, None, None),
    ("DeviceDataCtrlr.ItemsPerMessage[GetVariables]", "DeviceDataCtrlr", "ItemsPerMessage", "GetVariables",
     INT, RO, 20, 1, None, None, None),
    ("DeviceDataCtrlr.BytesPerMessage[GetVariables]", "DeviceDataCtrlr", "BytesPerMessage", "GetVariables",
     INT, RO, 4000, 100, None, None, None),
    ("DeviceDataCtrlr.ItemsPerMessage[SetVariables]", "DeviceDataCtrlr", "ItemsPerMessage", "SetVariables",
     INT, RO, 20, 1, None, None, None),
    ("DeviceDataCtrlr.BytesPerMessage[SetVariables]", "DeviceDataCtrlr", "BytesPerMessage", "SetVariables",
     INT, RO, 4000, 100, None, None, None),
    ("DeviceDataCtrlr.ReportingValueSize", "DeviceDataCtrlr", "ReportingValueSize", None,
     INT, RO, 2500, 1, 2500, None, None),
    ("DeviceDataCtrlr.ValueSize", "DeviceDataCtrlr", "ValueSize", None,
     INT, RO, 2500, 1, 2500, None, None),
    ("OCPPCommCtrlr.HeartbeatInterval", "OCPPCommCtrlr", "HeartbeatInterval", None,
     INT, RW, 300, 1, 86400, "s", None),
    ("OCPPCommCtrlr.MessageTimeout[Default]", "OCPPCommCtrlr", "MessageTimeout", "Default",
     INT, RW, 30, 1, 3600, "s", None),
    ("OCPPCommCtrlr.FileTransferProtocols", "OCPPCommCtrlr", "FileTransferProtocols", None,
     "MemberList", RO, "HTTP,HTTPS,FTP", None, None, None, "HTTP,HTTPS,FTP"),
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


_AT = {"dtype": 0, "mutability": 1, "unit": 2, "min": 3, "max": 4, "values": 5}   # in Variable.ch


class Variable:
    """One variable of one component. A few hundred of these may exist, so an
    instance stores little: defaults are class attributes, the key is computed,
    and dataType and characteristics are one tuple that the Model shares between
    variables alike. On MicroPython an instance's attributes live in a per-object
    map that grows in steps of 2, 4, 6, 8, 10, 12, then 17 entries of 16 bytes."""

    numeric = False
    sensor = None
    ctrl = False
    name = None            # controller variables: "MonitoringCtrlr.Enabled"-style name
    value = None           # last good value (None: none yet)
    ok = True              # the sensor answered at the last sample
    faults = 0             # failed samples in a row (the monitors count them)
    monitorable = True
    summary = False        # listed in a SummaryInventory report

    def __init__(self, component, variable, dtype, mutability="ReadOnly", unit=None,
                 lo=None, hi=None, values=None, sensor=None, ctrl=False):
        self.component = component
        self.variable = variable
        self.ch = (dtype, mutability, unit, lo, hi, values)
        if dtype in NUMERIC:
            # Stored: every monitor evaluation reads it, and on MicroPython an instance
            # attribute reads ~5x faster than a class attribute (a map miss, then the class).
            self.numeric = True
        if sensor is not None:
            self.sensor = sensor
        if ctrl:
            self.ctrl = True

    def __getattr__(self, a):
        """dataType and characteristics from the shared tuple, the key computed: not stored.
        One function, not a property each: each property took ~180 bytes of code heap."""
        i = _AT.get(a)
        if i is not None:
            return self.ch[i]
        if a == "key":   # Model.by_key holds the string
            return key_of(self.component, self.variable)
        raise AttributeError(a)

    def settable(self):
        """SetVariables may write it: not ReadOnly and not measured by a sensor."""
        return self.mutability != "ReadOnly" and self.sensor is None

    def label(self):
        c = self.component["name"]
        e = self.component.get("evse")
        if e:
            c += "@%d" % e["id"]
        return c + "." + self.variable["name"]


class ProblemVar(Variable):
    """A <Component>.Problem variable, and its own sensor: true while a watched sensor
    is faulty. All but its component, watched sensors, value and index is in the class.

    Sampled after the sensors it watches (it is added after them), so it reads
    their state of the same tick; never allocates.
    """

    variable = {"name": "Problem"}   # shared by every Problem variable; nobody changes it
    ch = ("boolean", "ReadOnly", None, None, None, None)
    value = False
    summary = True
    error = None   # as a sensor: never fails

    def __init__(self, component):
        self.component = component
        self.sensor = self    # an attribute, not a class default: tests swap a variable's sensor
        self.watched = []     # made a tuple once complete (Model._problems)

    def read(self):
        for v in self.watched:
            if not v.ok:
                return True
        return False


_COMPS = {}   # controller name -> its component dict, shared by every controller variable


# Where a controller variable's CTRL row holds what a Variable stores or keeps in .ch
_CAT = {"name": 0, "dtype": 4, "mutability": 5, "min": 7, "max": 8, "unit": 9, "values": 10}


class Ctrl:
    """A controller variable, with a Variable's interface: all but its value and index
    is read from its CTRL row, so an instance stores three attributes instead of a
    dozen plus a key, a name and a variable dict (21 of them took 11 KB at boot)."""

    ctrl = True
    sensor = None
    value = None
    ok = True
    faults = 0

    def __init__(self, row):
        self.r = row

    def __getattr__(self, a):
        r = self.r
        i = _CAT.get(a)
        if i is not None:
            return r[i]
        if a == "numeric":
            return r[4] in NUMERIC
        if a == "monitorable":
            return r[4] in NUMERIC or r[4] == "boolean"
        if a == "summary":
            return r[0] in SUMMARY
        if a == "component":
            c = _COMPS.get(r[1])
            if c is None:
                c = _COMPS[r[1]] = {"name": r[1]}
            return c
        if a == "variable":
            # A new dict each time: only reports and events ask, and they do not keep it long.
            if r[3]:
                return {"name": r[2], "instance": r[3]}
            return {"name": r[2]}
        if a == "key":
            return key(r[1], None, None, r[2], r[3])
        raise AttributeError(a)

    settable = Variable.settable

    def label(self):
        return self.r[1] + "." + self.r[2]


class Model:
    def __init__(self, board, store, sensor_factory=None):
        self.store = store
        self.vars = []
        self.by_key = {}      # key() -> board (and Problem) variable; controller ones are in named only
        self.components = {}  # name -> 1, for UnknownComponent vs UnknownVariable
        self.named = {}       # "MonitoringCtrlr.Enabled"-style name -> controller variable
        chars = {}   # repr -> one shared characteristics tuple (repr: 1 and 1.0 and True differ)
        for spec in board["variables"]:
            s = spec.get("sensor")
            drv = sensor_factory(board, spec, s) if (s is not None and sensor_factory) else None
            v = Variable(spec["component"], spec["variable"], spec["dataType"], spec["mutability"],
                         spec.get("unit"), spec.get("min"), spec.get("max"), spec.get("values"), drv)
            v.ch = chars.setdefault(repr(v.ch), v.ch)
            if "value" in spec:
                v.value = spec["value"]
            self._add(v)
        self._problems()
        values = store.load("values.json", {}) if store else {}
        for v in self.vars:
            if v.settable():
                k = v.key
                if k in values and not self.check(v, values[k]):
                    v.value = values[k]
        saved = store.load("settings.json", {}) if store else {}
        over = dict(board.get("settings") or {})
        if "MonitoringCtrlr.SampleInterval" not in over:
            over["MonitoringCtrlr.SampleInterval"] = board.get("sample_ms", 1000)
        for c in CTRL:
            v = Ctrl(c)
            name = c[0]
            val = c[6]
            if name in over:
                val = over[name]
                err = self.check(v, val)
                if err:
                    raise config.ConfigError("settings." + name, err)
            if name in saved and not self.check(v, saved[name]):
                val = saved[name]
            v.value = val
            if v.key in self.by_key:
                raise config.ConfigError("variables", "duplicate variable " + v.label())
            v.index = len(self.vars)
            self.vars.append(v)
            self.named[name] = v
            self.components[c[1]] = 1
        self.vars = self.vars[:]   # a list grown by appends has up to twice the slots it uses

    def _problems(self):
        """One Problem variable per component with sensors, unless the board has one."""
        groups = {}
        for v in self.vars:
            if v.sensor is None:
                continue
            k = key_of(v.component, ProblemVar.variable)
            if k in self.by_key and k not in groups:
                continue
            g = groups.get(k)
            if g is None:
                g = groups[k] = ProblemVar(v.component)
            g.watched.append(v)
        for k in groups:
            g = groups[k]
            g.watched = tuple(g.watched)   # 32 bytes less than a list
            self._add(g)

    def _add(self, v):
        k = v.key
        if k in self.by_key:
            raise config.ConfigError("variables", "duplicate variable " + v.label())
        v.index = len(self.vars)
        self.vars.append(v)
        self.by_key[k] = v
        self.components[v.component["name"]] = 1

    def find(self, component, variable):
        """The variable, or None. component/variable in OCPP shapes."""
        v = self.by_key.get(key_of(component, variable))
        if v is None and not component.get("evse") and not component.get("instance"):
            v = self._named(component.get("name"), variable.get("name"), variable.get("instance") or "")
        return v

    def _named(self, cname, vname, vinst):
        """The controller variable cname.vname[vinst], or None."""
        v = self.named.get("%s.%s%s" % (cname, vname, "[%s]" % vinst if vinst else ""))
        # "X.A[b]" is also the name of variable "A[b]" without instance: compare the parts
        if v is not None and v.r[1] == cname and v.r[2] == vname and (v.r[3] or "") == vinst:
            return v
        return None

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

