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
        if a == "key":   # values.json's key
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
    """A controller variable as an object, with a Variable's interface. None exists
    at rest: the values are Model.cv, the rest is the CTRL row; Model.find() makes
    one when asked and keeps it for a monitor to hold (monitors compare variables
    by identity), reports make throwaway ones (21 objects took 2.2 KB at boot)."""

    ctrl = True
    sensor = None
    ok = True
    faults = 0

    def __init__(self, model, i):
        self.m = model
        self.i = i     # the CTRL row; value is model.cv[i]

    def __getattr__(self, a):
        if a == "value":    # first: monitors on the variable read it at every tick
            return self.m.cv[self.i]
        r = CTRL[self.i]
        i = _CAT.get(a)
        if i is not None:
            return r[i]
        if a == "numeric":
            return r[4] in NUMERIC
        if a == "monitorable":
            return r[4] in NUMERIC or r[4] == "boolean"
        if a == "summary":
            return r[0] in SUMMARY
        if a == "index":    # after the board's variables, in CTRL order
            return len(self.m.vars) + self.i
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
        r = CTRL[self.i]
        return r[1] + "." + r[2]


def _is(v, component, variable):
    """Does v have this component and variable? As their key() strings compare,
    without building them."""
    c = v.component
    w = v.variable
    if c["name"] != component.get("name") or w["name"] != variable.get("name") \
            or (c.get("instance") or "") != (component.get("instance") or "") \
            or (w.get("instance") or "") != (variable.get("instance") or ""):
        return False
    e = c.get("evse")
    f = component.get("evse")
    if e and f:
        return e.get("id") == f.get("id") and e.get("connectorId") == f.get("connectorId")
    return not e and not f


class Model:
    """The variables. At rest: the board's Variable objects (`vars`) and one list
    of the controller variables' values (`cv`, in CTRL order); lookups scan them
    rather than keep key strings and dicts (a board has tens of variables)."""

    def __init__(self, board, store, sensor_factory=None):
        self.store = store
        self.vars = []        # the board's variables, then the Problem ones
        self.made = {}        # CTRL index -> the Ctrl find() gave out
        chars = {}   # repr -> one shared characteristics tuple, component or variable dict (1, 1.0, True differ)
        for spec in board["variables"]:
            s = spec.get("sensor")
            drv = sensor_factory(board, spec, s) if (s is not None and sensor_factory) else None
            v = Variable(spec["component"], spec["variable"], spec["dataType"], spec["mutability"],
                         spec.get("unit"), spec.get("min"), spec.get("max"), spec.get("values"), drv)
            # One of each content kept: 4x {"name": "Temperature"} is one dict after main() drops the specs.
            v.ch = chars.setdefault(repr(v.ch), v.ch)
            v.component = chars.setdefault(repr(v.component), v.component)
            v.variable = chars.setdefault(repr(v.variable), v.variable)
            if "value" in spec:
                v.value = spec["value"]
            self._add(v)
        chars = None
        self._problems()
        values = store.load("values.json", {}) if store else {}
        for v in self.vars:
            if v.settable():
                k = v.key
                if k in values and not self.check(v, values[k]):
                    v.value = values[k]
        values = None
        saved = store.load("settings.json", {}) if store else {}
        over = dict(board.get("settings") or {})
        if "MonitoringCtrlr.SampleInterval" not in over:
            over["MonitoringCtrlr.SampleInterval"] = board.get("sample_ms", 1000)
        cv = [None] * len(CTRL)
        for i in range(len(CTRL)):
            c = CTRL[i]
            v = Ctrl(self, i)
            name = c[0]
            val = c[6]
            if name in over:
                val = over[name]
                err = self.check(v, val)
                if err:
                    raise config.ConfigError("settings." + name, err)
            if name in saved and not self.check(v, saved[name]):
                val = saved[name]
            cv[i] = val
        self.cv = cv
        self.vars = self.vars[:]   # a list grown by appends has up to twice the slots it uses

    def _problems(self):
        """One Problem variable per component with sensors, unless the board has one."""
        vs = self.vars
        n = len(vs)
        for j in range(n):
            v = vs[j]
            if v.sensor is None:
                continue
            g = self.find(v.component, ProblemVar.variable, False)
            if g is None:
                g = ProblemVar(v.component)
                self._add(g)
            if isinstance(g, ProblemVar):    # not the board's own Problem variable
                g.watched.append(v)
        for j in range(n, len(vs)):
            vs[j].watched = tuple(vs[j].watched)   # 32 bytes less than a list

    def _add(self, v):
        if self.find(v.component, v.variable, False):
            raise config.ConfigError("variables", "duplicate variable " + v.label())
        v.index = len(self.vars)
        self.vars.append(v)

    def all(self):
        """Every variable, the board's then the controller ones (made for the caller)."""
        for v in self.vars:
            yield v
        for i in range(len(CTRL)):
            yield self.made.get(i) or Ctrl(self, i)

    def at(self, i):
        """The variable with this index (Variable.index): a board one, or the kept
        controller one after them (made and kept when none is)."""
        n = len(self.vars)
        if i < n:
            return self.vars[i]
        v = self.made.get(i - n)
        if v is None:
            v = self.made[i - n] = Ctrl(self, i - n)
        return v

    def find(self, component, variable, keep=True):
        """The variable, or None. component/variable in OCPP shapes. A controller
        variable's object is kept (keep) for later finds to return: a monitor may
        hold it. Without keep, one is only made when none is kept."""
        for v in self.vars:
            if _is(v, component, variable):
                return v
        if component.get("evse") or component.get("instance"):
            return None
        cname = component.get("name")
        vname = variable.get("name")
        vinst = variable.get("instance") or ""
        i = 0
        for r in CTRL:
            if r[1] == cname and r[2] == vname and (r[3] or "") == vinst:
                v = self.made.get(i)
                if v is None:
                    v = Ctrl(self, i)
                    if keep:
                        self.made[i] = v
                return v
            i += 1
        return None

    def known_component(self, component):
        """True when some variable has this component (name, evse and instance)."""
        name = component.get("name")
        e = component.get("evse")
        for v in self.vars:
            c = v.component
            if c["name"] == name and c.get("instance") == component.get("instance"):
                ce = c.get("evse")
                if e is None and ce is None:
                    return True
                if e and ce and e.get("id") == ce.get("id") and e.get("connectorId") == ce.get("connectorId"):
                    return True
        if e is None and component.get("instance") is None:
            for r in CTRL:
                if r[1] == name:
                    return True
        return False

    def ci(self, name):
        """The CTRL index of a controller variable by its dotted name (a scan: no dict to keep)."""
        i = 0
        for r in CTRL:
            if r[0] == name:
                return i
            i += 1
        raise KeyError(name)

    def ctrl(self, name):
        """Value of a controller variable by its dotted name, e.g. 'MonitoringCtrlr.Enabled'."""
        return self.cv[self.ci(name)]

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
        return self._set(Ctrl(self, self.ci(name)), value, "settings.json", name)

    def put(self, v, value):
        """Set v's value as is: no check, nothing persisted (a sensor's or integrator's value)."""
        if v.ctrl:
            self.cv[v.i] = value
        else:
            v.value = value

    def _set(self, v, value, fname, key):
        """Check, set, and persist under `key` in `fname` (controller settings or CSMS-written values)."""
        err = self.check(v, value)
        if err:
            return err
        if v.dtype == "integer":
            value = int(value)
        self.put(v, value)
        saved = self.store.load(fname, {})
        saved[key] = value
        self.store.save(fname, saved)
        return None

