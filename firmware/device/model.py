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

# The controller variables, in a fixed order: a row's number is its index in Model.cv, which
# diag/events.py and device/variables.py read by number (host_tests/unit/test_variables.py
# checks the numbers they use). Each row is
# (component, variable, instance, default, dataType, mutability, min, max, unit, valuesList):
# from [4] on the characteristics in Variable.ch's order, the Nones at the end left out. The
# dotted name ("DeviceDataCtrlr.ItemsPerMessage[GetReport]", the settings keys) is not
# stored: Model.ci() compares one with the parts in place. Every row names a module constant (INT, BOOL,
# RO...), so it is a tuple built at import from the module's shared strings; a tuple of
# literals only would be folded into a constant whose strings are each a copy of their
# own on the heap when the .mpy loads (2.4 KB more for this table).
BOOL = "boolean"
INT = "integer"
RO = "ReadOnly"
RW = "ReadWrite"
CTRL = (
    ("MonitoringCtrlr", "Available", None, True, BOOL, RO),
    ("MonitoringCtrlr", "Enabled", None, True, BOOL, RW),
    ("MonitoringCtrlr", "ItemsPerMessage", "SetVariableMonitoring", 50, INT, RO, 1),
    ("MonitoringCtrlr", "BytesPerMessage", "SetVariableMonitoring", 8000, INT, RO, 100),
    ("MonitoringCtrlr", "ItemsPerMessage", "ClearVariableMonitoring", 100, INT, RO, 1),
    ("MonitoringCtrlr", "BytesPerMessage", "ClearVariableMonitoring", 4000, INT, RO, 100),
    ("MonitoringCtrlr", "OfflineQueuingSeverity", None, 9, INT, RW, 0, 9),
    ("MonitoringCtrlr", "ActiveMonitoringBase", None, "All", "OptionList", RO, None, None, None,
     "All,FactoryDefault,HardWiredOnly"),
    ("MonitoringCtrlr", "ActiveMonitoringLevel", None, 9, INT, RO, 0, 9),
    ("MonitoringCtrlr", "SampleInterval", None, 1000, INT, RW, 10, 3600000, "ms"),
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport", 20, INT, RO, 1),
    ("DeviceDataCtrlr", "BytesPerMessage", "GetReport", 4000, INT, RO, 100),
    ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables", 20, INT, RO, 1),
    ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables", 4000, INT, RO, 100),
    ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables", 20, INT, RO, 1),
    ("DeviceDataCtrlr", "BytesPerMessage", "SetVariables", 4000, INT, RO, 100),
    ("DeviceDataCtrlr", "ReportingValueSize", None, 2500, INT, RO, 1, 2500),
    ("DeviceDataCtrlr", "ValueSize", None, 2500, INT, RO, 1, 2500),
    ("OCPPCommCtrlr", "HeartbeatInterval", None, 300, INT, RW, 1, 86400, "s"),
    ("OCPPCommCtrlr", "MessageTimeout", "Default", 30, INT, RW, 1, 3600, "s"),
    ("OCPPCommCtrlr", "FileTransferProtocols", None, "HTTP,HTTPS,FTP", "MemberList", RO, None, None, None,
     "HTTP,HTTPS,FTP"),
)

# The CTRL rows of the controller variables a SummaryInventory lists, besides every Problem variable.
SUMMARY = (0, 1)


def parse(dtype, text):
    """Text from a sensor or a SetVariables to the variable's value; raises ValueError
    (without a message: both callers say what failed themselves)."""
    if dtype == "decimal":
        if "_" in text:
            raise ValueError    # Python's digit separators are no OCPP decimal
        f = float(text)
        if f - f != 0:
            raise ValueError    # nan and inf would poison thresholds
        return f
    if dtype == "integer":
        t = text.strip()
        if "." in t or "e" in t or "E" in t or "_" in t:
            raise ValueError
        return int(t)
    if dtype == "boolean":
        t = text.strip().lower()
        if t in ("true", "1"):
            return True
        if t in ("false", "0"):
            return False
        raise ValueError
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
        if -1e15 < value < 1e15 and value == int(value):    # (inf and nan fail the first test)
            return str(int(value))
        # The shortest text from 7 significant digits on that reads back as this
        # very float: 21.1, not 21.100000000000001, and never rounded onto the
        # other side of a threshold (123456.7, not 123457). A float32 (ESP32,
        # RP2040) needs 9 digits at most, a double 17.
        for p in range(7, 18 if 1.0 + 1e-10 > 1.0 else 10):
            s = "%.*g" % (p, value)
            if float(s) == value:
                return s
    return str(value)


_AT = {"dtype": 0, "mutability": 1, "min": 2, "max": 3, "unit": 4, "values": 5}   # in Variable.ch


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
                 lo=None, hi=None, values=None, sensor=None):
        self.component = component
        self.variable = variable
        self.ch = (dtype, mutability, lo, hi, unit, values)
        if dtype in NUMERIC:
            # Stored: every monitor evaluation reads it, and on MicroPython an instance
            # attribute reads ~5x faster than a class attribute (a map miss, then the class).
            self.numeric = True
        if sensor is not None:
            self.sensor = sensor

    def __getattr__(self, a):
        """dataType and characteristics from the shared tuple, the key computed: not stored.
        One function, not a property each: each property took ~180 bytes of code heap."""
        i = _AT.get(a)
        if i is not None:
            return self.ch[i]
        if a == "key":
            # values.json's key: component name|evse[:connector]|instance|variable name|instance
            # (a connector is a component of its own: EVSE 1 connector 1 != connector 2).
            c = self.component
            w = self.variable
            e = c.get("evse") or {}
            i = e.get("id")
            if e.get("connectorId") is not None:
                i = "%s:%s" % (i, e["connectorId"])
            return "%s|%s|%s|%s|%s" % (c.get("name"), "" if i is None else i, c.get("instance") or "",
                                       w.get("name"), w.get("instance") or "")
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

    def __init__(self, component, index):
        self.component = component
        self.index = index
        self.sensor = self    # an attribute, not a class default: tests swap a variable's sensor
        self.watched = []     # made a tuple once complete (Model.__init__)

    def read(self):
        for v in self.watched:
            if not v.ok:
                return True
        return False


_COMPS = {}   # controller name -> its component dict, shared by every controller variable


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
        i = _AT.get(a)
        if i is not None:
            i += 4
            return r[i] if i < len(r) else None
        if a == "numeric":
            return r[4] in NUMERIC
        if a == "monitorable":
            return r[4] in NUMERIC or r[4] == "boolean"
        if a == "summary":
            return self.i in SUMMARY
        if a == "index":    # after the board's variables, in CTRL order
            return len(self.m.vars) + self.i
        if a == "component":
            c = _COMPS.get(r[0])
            if c is None:
                c = _COMPS[r[0]] = {"name": r[0]}
            return c
        if a == "variable":
            # A new dict each time: only reports and events ask, and they do not keep it long.
            if r[2]:
                return {"name": r[1], "instance": r[2]}
            return {"name": r[1]}
        if a == "name":
            return "%s.%s" % (r[0], r[1]) + ("[%s]" % r[2] if r[2] else "")
        return Variable.__getattr__(self, a)     # the key, from the component and variable

    settable = Variable.settable
    label = Variable.label


def _is(v, component, variable):
    """Does v have this component and variable? As their keys compare, without building them."""
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
        self.vars = vs = []   # the board's variables, then the Problem ones
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
            if self.find(v.component, v.variable, False):
                raise config.ConfigError("variables", "duplicate variable " + v.label())
            v.index = len(vs)
            vs.append(v)
        chars = None
        # One Problem variable per component with sensors, unless the board has one.
        n = len(vs)
        for j in range(n):
            v = vs[j]
            if v.sensor is None:
                continue
            g = self.find(v.component, ProblemVar.variable, False)
            if g is None:
                g = ProblemVar(v.component, len(vs))
                vs.append(g)
            if isinstance(g, ProblemVar):    # not the board's own Problem variable
                g.watched.append(v)
        for j in range(n, len(vs)):
            vs[j].watched = tuple(vs[j].watched)   # 32 bytes less than a list
        values = store.load("values.json", {}) if store else {}
        for v in vs:
            if v.settable():
                k = v.key
                if k in values and not self.check(v, values[k]):
                    v.value = values[k]
        values = None
        self.cv = cv = [None] * len(CTRL)
        for i in range(len(CTRL)):
            cv[i] = CTRL[i][3]
        # The board's "settings" (device/checks.py refused a bad one), then what SetVariables
        # saved: a saved name or value a firmware update made unknown or wrong is skipped.
        over = dict(board.get("settings") or {})
        if "MonitoringCtrlr.SampleInterval" not in over:
            over["MonitoringCtrlr.SampleInterval"] = board.get("sample_ms", 1000)
        for d in (over, store.load("settings.json", {}) if store else {}):
            for k in d:
                try:
                    i = self.ci(k)
                except KeyError:
                    continue
                if not self.check(Ctrl(self, i), d[k]):
                    cv[i] = d[k]
        self.vars = vs[:]   # a list grown by appends has up to twice the slots it uses

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
            if r[0] == cname and r[1] == vname and (r[2] or "") == vinst:
                v = self.made.get(i)
                if v is None:
                    v = Ctrl(self, i)
                    if keep:
                        self.made[i] = v
                return v
            i += 1
        return None

    def known_component(self, component):
        """True when some variable has this component (name, evse and instance, as
        find() compares them)."""
        for v in self.vars:
            if _is(v, component, v.variable):
                return True
        if not (component.get("evse") or component.get("instance")):
            for r in CTRL:
                if r[0] == component.get("name"):
                    return True
        return False

    @staticmethod
    def ci(name):
        """The CTRL index of a controller variable by its dotted name, e.g.
        'DeviceDataCtrlr.ItemsPerMessage[GetReport]', KeyError for none: compared
        with the row's parts in place, no string made (the monitor loop asks at
        every tick)."""
        i = 0
        for r in CTRL:
            k = len(r[0]) + 1
            n = k + len(r[1])
            s = r[2]
            if len(name) == (n + len(s) + 2 if s else n) and name.startswith(r[0]) and name.startswith(".", k - 1) \
                    and name.startswith(r[1], k) and (not s or name.startswith("[", n) and name.startswith(s, n + 1)
                                                      and name.endswith("]")):
                return i
            i += 1
        raise KeyError(name)

    def ctrl(self, name):
        """Value of a controller variable by its dotted name, e.g. 'MonitoringCtrlr.Enabled'."""
        return self.cv[self.ci(name)]

    @staticmethod
    def check(v, value):
        """Why `value` does not fit variable v (a string), or None when it fits.
        Static: device/checks.py checks the board's settings and values with it."""
        d = v.dtype
        if d == "boolean":
            return None if isinstance(value, bool) else "not a boolean"
        if v.numeric:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return "not a number"
            if d == "integer" and value != int(value):
                return "not an integer"
            if (v.min is not None and value < v.min) or (v.max is not None and value > v.max):
                return "out of range"
            return None
        if not isinstance(value, str):
            return "not a string"
        vs = v.values
        if vs and d == "OptionList" and value not in vs.split(","):
            return "not in valuesList"
        if vs and d == "MemberList" and value:
            vs = vs.split(",")
            for m in value.split(","):
                if m not in vs:
                    return "not in valuesList"
        if d == "dateTime" and compat.parse_iso(value) is None:
            return "not a dateTime"
        return None

    def set_value(self, v, value):
        """Check, set and persist a variable the CSMS may write: a controller one in
        settings.json under its name, a board one in values.json under its key.
        The error text or None."""
        err = self.check(v, value)
        if err:
            return err
        if v.dtype == "integer":
            value = int(value)
        self.put(v, value)
        f = "settings.json" if v.ctrl else "values.json"
        saved = self.store.load(f, {})
        saved[v.name if v.ctrl else v.key] = value
        self.store.save(f, saved)
        return None

    def set_ctrl(self, name, value):
        """Set and persist a controller variable; returns the error text or None."""
        return self.set_value(Ctrl(self, self.ci(name)), value)

    def put(self, v, value):
        """Set v's value as is: no check, nothing persisted (a sensor's or integrator's value)."""
        if v.ctrl:
            self.cv[v.i] = value
        else:
            v.value = value
