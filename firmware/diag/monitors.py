"""Monitors: the store (what is installed, persisted) and the engine (evaluation).

Every monitor, factory or custom, is one 28-byte record: slot j of six
parallel arrays (id, flags, variable index, value, two per-type state
slots), sorted by variable; a tuple per monitor took ~80 B on x64. Reading a
float out of an array allocates, so the tick does not read records at all
while nothing can fire: per monitored variable `band` holds the bounds within which none of its
monitors changes state (fire if value > gt, >= ge, < lt, <= le; a
non-numeric variable's Delta reference, compared with ==), and `due` the
earliest periodic deadline. The tick compares values with bands (stored
floats: no allocation), and only a variable that left its band has its
monitors evaluated in full, then its band recomputed; a passed deadline
evaluates every monitor, as a tick did before. Idle, the tick is
O(variables), whatever the number of monitors.

Outside this module a monitor is still the tuple it used to be (indices M_*):
`active` builds them on demand (requests, reports, events: not the tick),
and what fired is (monitor, trigger, cleared), the monitor only its first
four slots (id, flags, value, variable: all an event reads).
Origins: board monitors are HardWired or Preconfigured (the factory set);
SetVariableMonitoring makes Custom ones, and a custom monitor that took a
Preconfigured monitor's id "overrides" it until SetMonitoringBase resets it
(the Preconfigured record stays, flagged off, with its state).
"""
import json
from array import array

import compat
from compat import const, ticks_ms, ticks_diff, ticks_add

UPPER = const(0)
LOWER = const(1)
DELTA = const(2)
PERIODIC = const(3)
ALIGNED = const(4)
TYPES = ("UpperThreshold", "LowerThreshold", "Delta", "Periodic", "PeriodicClockAligned")

CUSTOM = const(0)
PRECONF = const(1)
HARDWIRED = const(2)
NOTIF = ("CustomMonitor", "PreconfiguredMonitor", "HardWiredMonitor")

# A monitor tuple, as `active`, get() and fired events give it.
M_ID = const(0)
M_FLAGS = const(1)    # type | trip | severity | origin | transaction, one small int (see below)
M_VALUE = const(2)
M_VAR = const(3)
# Per-type state after the 4 common slots; a tuple is only as long as its type needs.
_M_HI = const(4)       # numeric Delta: fire above this (None: take the next value as reference)
_M_LO = const(5)       # numeric Delta: fire below this
_M_REF = const(4)      # non-numeric Delta: reference value; None: take the next value
M_DUE = const(4)      # periodic: ticks deadline
M_SLOT = const(5)     # clock-aligned: wall-clock millisecond of the next slot
LENS = (4, 4, 6, 5, 6)   # by type

# Flags: one small int. Bits 0-10 are the tuple's M_FLAGS; 11-13 live in records only.
_F_TYPE = const(7)        # bits 0-2: UPPER..ALIGNED
_F_TRIP = const(8)        # threshold: tripped
_F_SEV = const(4)         # shift: severity 0-9 in bits 4-7
_F_ORIGIN = const(8)      # shift: CUSTOM/PRECONF/HARDWIRED in bits 8-9
_F_TX = const(1024)       # active only during a transaction
_F_PUB = const(2047)      # the bits a tuple shows
_F_INT = const(2048)      # the value was an int: given back as one (reports, monitors.json)
_F_ST = const(4096)       # numeric Delta has a reference / periodic is scheduled
_F_OFF = const(8192)      # factory monitor not active (overridden, or HardWiredOnly)

_BAND = const(7)          # band entry: variable, first record, end, gt, ge, lt, le
INF = float("inf")
NINF = -INF
_ANY = object()           # a non-numeric band that any value leaves (no or unequal references)

BASES = ("All", "FactoryDefault", "HardWiredOnly")
FAULT_SAMPLES = const(3)   # consecutive failed samples before a sensor is declared faulty


def new(mid, mtype, value, sev, origin, var, tx=False):
    """A monitor tuple, for install()."""
    f = mtype | sev << _F_SEV | origin << _F_ORIGIN | (_F_TX if tx else 0)
    n = LENS[mtype]
    if n == 4:
        return (mid, f, value, var)
    if n == 5:
        return (mid, f, value, var, None)
    return (mid, f, value, var, None, None)


def kind(m):
    return m[M_FLAGS] & _F_TYPE


def sev(m):
    return (m[M_FLAGS] >> _F_SEV) & 15


def origin(m):
    return (m[M_FLAGS] >> _F_ORIGIN) & 3


def tx(m):
    return (m[M_FLAGS] & _F_TX) != 0


class Active:
    """Monitors.active: the active monitors as tuples, in variable order, each
    built when iterated (a consumer that keeps one keeps a copy)."""

    def __init__(self, ms):
        self.ms = ms

    def __len__(self):
        n = 0
        for f in self.ms.fl:
            if not f & _F_OFF:
                n += 1
        return n

    def __iter__(self):
        ms = self.ms
        for j in range(len(ms.fl)):
            if not ms.fl[j] & _F_OFF:
                yield ms.at(j)


class Monitors:
    """The installed monitors of a station and their evaluation.

    Record j is ids[j], fl[j] (flags), vi[j] (variable index), val[j], s[j]
    (numeric Delta reference, clock-aligned slot in wall-clock ms) and
    dues[j] (periodic ticks deadline); non-numeric Delta references are
    objects, in `refs`. Factory monitors are never deleted (_F_OFF when not
    active). `over` maps the id of a custom monitor that overrides a
    Preconfigured one to the latter's id. `band` is None when a change asks
    for it to be recomputed at the next tick.
    """

    def __init__(self, station):
        self.st = station
        model = station.model
        for v in model.vars:
            v.faults = 0
        self.ids = array("i")
        self.fl = array("H")
        self.vi = array("H")
        self.val = array("d")
        self.s = array("d")
        self.dues = array("i")
        self.refs = {}        # non-numeric Delta references: id (factory: ~id) -> value
        self.band = None
        self.due = None       # earliest periodic deadline (ticks), None: none
        self.over = {}
        self.next_id = 1
        self.tx = {}          # evse id (0: station) -> transactionId while one runs
        self.trips_changed = False   # a threshold tripped or cleared in this evaluation
        for spec in station.board["variables"]:
            v = model.find(spec["component"], spec["variable"])
            for b in spec["monitors"]:
                self._add(new(b["id"], TYPES.index(b["type"]), b["value"], b["severity"],
                              HARDWIRED if b["origin"] == "HardWired" else PRECONF, v,
                              b.get("transaction", False)))
                self.next_id = max(self.next_id, b["id"] + 1)
        self._load()
        self.rebuild()
        self._restore_trips()
        self.sensed = [v for v in model.vars if v.sensor is not None]
        self.active = Active(self)

    # ---- records -------------------------------------------------------------

    def _key(self, j):
        """Record j's key in refs: a custom monitor may share its id with a factory one."""
        i = self.ids[j]
        return i if (self.fl[j] >> _F_ORIGIN) & 3 == CUSTOM else ~i

    def at(self, j, short=False):
        """Record j as a monitor tuple (short: its first four slots only)."""
        f = self.fl[j]
        i = self.ids[j]
        x = self.val[j]
        v = self.st.model.at(self.vi[j])
        if f & _F_INT:
            x = int(x)
        t = f & _F_TYPE
        g = f & _F_PUB
        if t <= LOWER or short:
            return (i, g, x, v)
        st = f & _F_ST
        s = self.s[j]
        if t == DELTA:
            if v.numeric:
                return (i, g, x, v, s + x if st else None, s - x if st else None)
            return (i, g, x, v, self.refs.get(self._key(j)), None)
        due = self.dues[j] if st else None
        if t == PERIODIC:
            return (i, g, x, v, due)
        return (i, g, x, v, due, int(s) if st else None)

    def _put(self, j, m):
        """Monitor tuple m into record j, without state."""
        x = m[M_VALUE]
        self.ids[j] = m[M_ID]
        self.fl[j] = m[M_FLAGS] & _F_PUB | (_F_INT if type(x) is int else 0)
        self.vi[j] = m[M_VAR].index
        self.val[j] = x
        self.band = None

    def _add(self, m):
        """Insert monitor tuple m after its variable's records; returns its index.
        An array grows 8 slots at a time on MicroPython: few reallocations."""
        vi = self.vi
        idx = m[M_VAR].index
        j = n = len(vi)
        while j > 0 and vi[j - 1] > idx:
            j -= 1
        for a in (self.ids, self.fl, vi, self.val, self.s, self.dues):
            a.append(0)
            if j < n:
                memoryview(a)[j + 1:] = memoryview(a)[j:n]
        self._put(j, m)
        return j

    def _drop(self, j):
        if (self.fl[j] & _F_TYPE) == DELTA:
            self.refs.pop(self._key(j), None)
        for a in (self.ids, self.fl, self.vi, self.val, self.s, self.dues):
            a[j:j + 1] = a[:0]
        self.band = None

    def find(self, mid, start=0):
        """The index of the active record with this id, searched from start round; -1."""
        ids = self.ids
        n = len(ids)
        j = start
        for _ in range(n):
            if j >= n:
                j = 0
            if ids[j] == mid and not self.fl[j] & _F_OFF:
                return j
            j += 1
        return -1

    # ---- persistence -------------------------------------------------------

    def _load(self):
        d = self.st.store.load("monitors.json", None)
        if not d:
            return
        self.next_id = max(self.next_id, d.get("next_id", 1))
        for r in d.get("custom", ()):
            # [id, type, value, severity, component, variable, transaction, overrides]
            v = self.st.model.find(r[4], r[5])
            if v is None or not v.monitorable:
                self.st.log.write("monitor %d dropped: its variable is gone" % r[0])
                continue
            self._add(new(r[0], r[1], r[2], r[3], CUSTOM, v, r[6]))
            if r[7] is not None:
                self.over[r[0]] = r[7]

    def save(self):
        """Write every custom monitor, a row at a time (no list of 500 rows in RAM)."""
        def fill(f):
            f.write('{"next_id": %d, "custom": [' % self.next_id)
            sep = ""
            for j in range(len(self.fl)):
                if (self.fl[j] >> _F_ORIGIN) & 3 != CUSTOM:
                    continue
                m = self.at(j)
                v = m[M_VAR]
                # [id, type, value, severity, component, variable, transaction, overrides]
                f.write(sep)
                json.dump([m[M_ID], kind(m), m[M_VALUE], sev(m), v.component, v.variable,
                           tx(m), self.over.get(m[M_ID])], f)
                sep = ","
            f.write("]}")
        self.st.store.write("monitors.json", fill)

    def save_trips(self):
        ids = []
        fl = self.fl
        for j in range(len(fl)):
            f = fl[j]
            if f & _F_TRIP and not f & _F_OFF and (f & _F_TYPE) <= LOWER:
                ids.append(self.ids[j])
        self.st.store.save("trips.json", ids)

    def _restore_trips(self):
        # N07.FR.14: a threshold tripped before a reboot is still tripped after
        # it, so a value back in range sends its cleared=true.
        ids = self.st.store.load("trips.json", [])
        fl = self.fl
        for j in range(len(fl)):
            f = fl[j]
            if not f & _F_OFF and (f & _F_TYPE) <= LOWER and self.ids[j] in ids:
                fl[j] = f | _F_TRIP

    # ---- what is installed -------------------------------------------------

    def rebuild(self):
        """Turn each factory monitor on or off by the base and the overrides;
        schedule, or take the reference of, each that is on and has none."""
        preconf_on = self.st.model.ctrl("MonitoringCtrlr.ActiveMonitoringBase") != "HardWiredOnly"
        over = self.over
        fl = self.fl
        for j in range(len(fl)):
            f = fl[j]
            if (f >> _F_ORIGIN) & 3 == PRECONF:
                on = preconf_on
                for k in over:
                    if over[k] == self.ids[j]:
                        on = False
                fl[j] = f & ~_F_OFF if on else f | _F_OFF
            self._prepare(j)
        self.band = None

    def _prepare(self, j):
        """Schedule a periodic monitor, take a Delta's reference, once."""
        f = self.fl[j]
        t = f & _F_TYPE
        if f & _F_OFF or t <= LOWER:
            return
        if t >= PERIODIC:
            if not f & _F_ST:
                self._schedule(j, ticks_ms())
        elif self.st.model.at(self.vi[j]).numeric:
            if not f & _F_ST:
                self._reference(j)
        elif self.refs.get(self._key(j)) is None:
            self._reference(j)

    def get(self, mid):
        """The active monitor with this id, or None."""
        j = self.find(mid)
        return None if j < 0 else self.at(j)

    def on_variable(self, v):
        return [m for m in self.active if m[M_VAR] is v]

    def duplicate(self, v, t, severity, mid):
        """Is there another active monitor of this type and severity on v (N04.FR.10)?"""
        fl = self.fl
        for j in range(len(fl)):
            f = fl[j]
            if not f & _F_OFF and self.vi[j] == v.index and (f & _F_TYPE) == t \
                    and (f >> _F_SEV) & 15 == severity and self.ids[j] != mid:
                return True
        return False

    def install(self, m, persist=True):
        """Add a custom monitor (a tuple from new()) or replace one by id;
        returns the installed monitor.

        persist=False leaves the write to the caller (one save() per request,
        not one per item).
        """
        mid = m[M_ID]
        self.next_id = max(self.next_id, mid + 1)
        j = self.find(mid)
        if j < 0:
            j = self._add(m)
        else:
            f = self.fl[j]
            t = f & _F_TYPE
            trip = f & _F_TRIP if t == kind(m) and t <= LOWER else 0
            if (f >> _F_ORIGIN) & 3 == PRECONF:
                # N04.FR.15: it becomes a CustomMonitor; the Preconfigured record keeps its state.
                self.over[mid] = mid
                self.fl[j] = f | _F_OFF
                j = self._add(m)           # among the customs, where a reboot loads it
            else:
                if t == DELTA:
                    self.refs.pop(self._key(j), None)
                self._put(j, m)            # same variable (MonitorMoved otherwise): still sorted
            # N07.FR.11: a modified threshold is re-evaluated from the trip state it had.
            self.fl[j] |= trip
        self._prepare(j)
        if persist:
            self.save()
            self.save_trips()
        return self.at(j)

    def remove(self, mid, persist=True):
        """Delete a custom monitor: no cleared event is sent (N07.FR.12).
        persist=False: the caller writes once for its whole request."""
        j = self.find(mid)
        if j >= 0:
            if (self.fl[j] >> _F_ORIGIN) & 3 == CUSTOM:
                self._drop(j)
            else:
                self.fl[j] |= _F_OFF     # a factory monitor is only off, until a rebuild
        if self.over.pop(mid, None) is not None:
            self.rebuild()             # the Preconfigured monitor it overrode is back
        self.band = None
        if persist:
            self.save()
            self.save_trips()

    def set_base(self, base):
        """N03: All keeps customs and turns preconfigured ones on; FactoryDefault and
        HardWiredOnly delete every custom monitor (overrides included)."""
        fl = self.fl
        if base != "All":
            # The factory records moved down over the custom ones, then the arrays
            # copied at their new length: no room kept for the deleted records.
            cols = (self.ids, fl, self.vi, self.val, self.s, self.dues)
            w = 0
            for j in range(len(fl)):
                if (fl[j] >> _F_ORIGIN) & 3 != CUSTOM:
                    for a in cols:
                        a[w] = a[j]
                    w += 1
            self.ids, self.fl, self.vi, self.val, self.s, self.dues = [a[:w] for a in cols]
            fl = self.fl
            refs = self.refs
            self.refs = {}
            for k in refs:
                if k < 0:              # a factory monitor's (~id)
                    self.refs[k] = refs[k]
            self.over = {}
        self.st.model.set_ctrl("MonitoringCtrlr.ActiveMonitoringBase", base)
        if base == "HardWiredOnly":
            for j in range(len(fl)):
                f = fl[j]
                if (f >> _F_ORIGIN) & 3 != HARDWIRED and (f & _F_TYPE) <= LOWER:
                    fl[j] = f & ~_F_TRIP
        self.rebuild()
        self.save()
        self.save_trips()

    def alloc_id(self):
        mid = self.next_id
        self.next_id += 1
        return mid

    # ---- scheduling ----------------------------------------------------------

    def _reference(self, j):
        """The variable's current value as record j's Delta reference."""
        v = self.st.model.at(self.vi[j])
        x = v.value
        if not v.numeric:
            self.refs[self._key(j)] = x
        elif x is None:
            self.fl[j] &= ~_F_ST
        else:
            self.s[j] = x
            self.fl[j] |= _F_ST

    def _schedule(self, j, now):
        """Record j's next deadline."""
        period = int(self.val[j] * 1000)
        if (self.fl[j] & _F_TYPE) == PERIODIC:
            self.dues[j] = ticks_add(now, period)
        else:
            ms = compat.now_ms()
            nxt = (ms // period) * period + period     # epoch-aligned, not hour-aligned
            self.dues[j] = ticks_add(now, nxt - ms)
            self.s[j] = nxt
        self.fl[j] |= _F_ST

    def clock_changed(self):
        now = ticks_ms()
        fl = self.fl
        for j in range(len(fl)):
            if (fl[j] & _F_TYPE) == ALIGNED and not fl[j] & _F_OFF:
                self._schedule(j, now)
        self.band = None

    def set_transaction(self, evse_id, tx_id):
        """Integrators call this when a transaction starts (tx_id) or ends (None)."""
        was = not self.tx
        if tx_id is None:
            self.tx.pop(evse_id, None)
        else:
            self.tx[evse_id] = tx_id
        if was != (not self.tx):
            self.band = None       # monitors with the transaction flag count or stop counting

    # ---- the tick ------------------------------------------------------------

    def sample(self):
        """Read every sensor once; a sensor that stops answering raises a HardWiredNotification."""
        fired = None
        for v in self.sensed:
            try:
                val = v.sensor.read()
            except Exception as e:   # a driver bug or MemoryError costs this sensor's sample, not the tick
                v.sensor.error = "read failed: %r" % e
                val = None
            if val is None:
                v.faults += 1
                if v.faults == FAULT_SAMPLES:
                    v.ok = False
                    self.st.log.write("sensor %s fault: %s" % (v.label(), v.sensor.error))
                    fired = self._fault(fired, v, False)
            else:
                if not v.ok:
                    v.ok = True
                    self.st.log.write("sensor %s recovered" % v.label())
                    fired = self._fault(fired, v, True)
                v.faults = 0
                v.value = val
        return fired

    def evaluate(self, now):
        """Evaluate the monitors; returns None or the list of events that fired.
        Allocates nothing while every value stays in its band and no deadline
        passed. Trip states are written once per tick, whole, when one changed."""
        b = self.band
        if b is None:
            b = self._bands()
        d = self.due
        fired = None
        if d is not None and ticks_diff(now, d) >= 0:
            fired = self._run(0, len(self.fl), now, None)    # every monitor, in order, as before
            self.band = None
        else:
            for k in range(0, len(b), _BAND):
                x = b[k].value
                if x is None:
                    continue
                ge = b[k + 4]
                if ge is None:             # non-numeric: its Delta reference
                    if x == b[k + 3]:
                        continue
                elif not (x > b[k + 3] or x >= ge or x < b[k + 5] or x <= b[k + 6]):
                    continue
                fired = self._run(b[k + 1], b[k + 2], now, fired)
                self._band(b, k)
        if self.trips_changed:
            self.trips_changed = False
            self.save_trips()
        return fired

    def _bands(self):
        """Recompute every band and the earliest deadline."""
        b = []
        vi = self.vi
        fl = self.fl
        n = len(vi)
        d = None
        notx = not self.tx
        j = 0
        while j < n:
            e = j + 1
            while e < n and vi[e] == vi[j]:
                e += 1
            k = len(b)
            b.extend((self.st.model.at(vi[j]), j, e, None, None, None, None))
            if not self._band(b, k):
                del b[k:]
            for i in range(j, e):
                f = fl[i]
                if (f & _F_TYPE) >= PERIODIC and f & _F_ST and not f & _F_OFF and not (f & _F_TX and notx):
                    if d is None or ticks_diff(self.dues[i], d) < 0:
                        d = self.dues[i]
            j = e
        self.band = b[:]       # without the slack appends left
        self.due = d
        return self.band

    def _band(self, b, k):
        """Fill band entry k from its variable's records; False when no threshold or Delta counts."""
        v = b[k]
        notx = not self.tx
        gt = ge = INF
        lt = le = NINF
        ref = None
        seen = False
        for j in range(b[k + 1], b[k + 2]):
            f = self.fl[j]
            t = f & _F_TYPE
            if t > DELTA or f & _F_OFF or (f & _F_TX and notx):
                continue
            if not v.numeric:
                if t == DELTA:
                    x = self.refs.get(self._key(j))
                    ref = x if not seen else (ref if x == ref else _ANY)
                    seen = True
                continue
            seen = True
            x = self.val[j]
            if t == DELTA:
                if not f & _F_ST:
                    gt = NINF          # no reference yet: the next value is taken
                else:
                    s = self.s[j]
                    hi = s + x
                    if hi < gt:
                        gt = hi
                    s -= x
                    if s > lt:
                        lt = s
            elif t == UPPER:
                if f & _F_TRIP:
                    if x > le:
                        le = x         # tripped: cleared at or below
                elif x < gt:
                    gt = x
            elif f & _F_TRIP:
                if x < ge:
                    ge = x
            elif x > lt:
                lt = x
        if v.numeric:
            b[k + 3] = gt
            b[k + 4] = ge
            b[k + 5] = lt
            b[k + 6] = le
        else:
            b[k + 3] = _ANY if ref is None else ref
            b[k + 4] = None
        return seen

    def _run(self, lo, hi, now, fired):
        """Evaluate records lo..hi-1; returns fired, with what fired appended."""
        fl = self.fl
        at = self.st.model.at
        notx = not self.tx
        for j in range(lo, hi):
            f = fl[j]
            if f & _F_OFF or (f & _F_TX and notx):
                continue
            t = f & _F_TYPE
            v = at(self.vi[j])
            val = v.value
            if t <= LOWER:
                if val is None or not v.numeric:
                    continue
                out = val > self.val[j] if t == UPPER else val < self.val[j]
                if out != ((f & _F_TRIP) != 0):
                    fl[j] = f ^ _F_TRIP
                    fired = self._fire(fired, j, "Alerting", not out)
                    self.trips_changed = True
            elif t == DELTA:
                if val is None:
                    continue
                if v.numeric:
                    if f & _F_ST:
                        x = self.val[j]
                        s = self.s[j]
                        if val > s + x or val < s - x:
                            fired = self._fire(fired, j, "Delta", False)
                            self._reference(j)
                    else:
                        self._reference(j)
                else:
                    key = self._key(j)
                    ref = self.refs.get(key)
                    if ref is not None and val != ref:
                        fired = self._fire(fired, j, "Delta", False)
                    self.refs[key] = val
            elif f & _F_ST:
                due = self.dues[j]
                if ticks_diff(now, due) < 0:
                    continue
                if t == ALIGNED and compat.now_ms() < self.s[j]:
                    self._schedule(j, now)    # the tick clock ran ahead of the wall clock
                    continue
                fired = self._fire(fired, j, "Periodic", False)
                if t == PERIODIC:
                    iv = int(self.val[j] * 1000)
                    due = ticks_add(due, iv)
                    if ticks_diff(due, now) <= 0:
                        due = ticks_add(now, iv)
                    self.dues[j] = due
                else:
                    self._schedule(j, now)
        return fired

    def recheck(self, m):
        """Evaluate one monitor now (after it was set or modified, N07.FR.11);
        found by id, so a stale copy of it will do."""
        j = self.find(m[M_ID])
        if j < 0:
            return None
        fired = self._run(j, j + 1, ticks_ms(), None)
        self.band = None
        if self.trips_changed:
            self.trips_changed = False
            self.save_trips()     # from every record, with this monitor's new state
        return fired

    def _fire(self, fired, j, trigger, cleared):
        """Append (monitor, trigger, cleared); the monitor without its state: a
        tick where dozens fire holds them all until Outbox.post."""
        if fired is None:
            fired = []
        fired.append((self.at(j, True), trigger, cleared))
        return fired

    def _fault(self, fired, v, cleared):
        if fired is None:
            fired = []
        fired.append((v, "Alerting", cleared))
        return fired
