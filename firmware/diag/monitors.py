"""Monitors: the store (what is installed, persisted) and the engine (evaluation).

A monitor is a small tuple (indices M_* below) rather than an object, so that
hundreds of them stay cheap (64 B each on x64, a 6-item tuple included; a list
of 5..8 is 96 B) and the tick reads them without allocating. Its state changes
only when it fires (or is scheduled, or takes a reference): then a new tuple
replaces it in `active`, so a monitor held elsewhere may be a stale copy (its
id, type, value, severity and variable are still right).
Origins: board monitors are HardWired or Preconfigured (the factory set);
SetVariableMonitoring makes Custom ones, and a custom monitor that took a
Preconfigured monitor's id "overrides" it until SetMonitoringBase resets it.

The tick is allocation-free while nothing fires: thresholds compare the
value with a stored number, numeric Delta compares with precomputed bounds
(reference ± delta, refreshed at each event), periodic monitors compare
ticks with a stored deadline. Only a firing monitor allocates (its event and
its new tuple); so do, rarely, a Delta taking its first reference and a
clock-aligned monitor rescheduled because the tick clock ran ahead.
"""
import json

import compat
from compat import const, ticks_ms, ticks_diff, ticks_add
from device import model as dm

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

# M_FLAGS bits: one small int.
_F_TYPE = const(7)        # bits 0-2: UPPER..ALIGNED
_F_TRIP = const(8)        # threshold: tripped
_F_SEV = const(4)         # shift: severity 0-9 in bits 4-7
_F_ORIGIN = const(8)      # shift: CUSTOM/PRECONF/HARDWIRED in bits 8-9
_F_TX = const(1024)       # active only during a transaction

BASES = ("All", "FactoryDefault", "HardWiredOnly")
FAULT_SAMPLES = const(3)   # consecutive failed samples before a sensor is declared faulty


def new(mid, mtype, value, sev, origin, var, tx=False):
    f = mtype | sev << _F_SEV | origin << _F_ORIGIN | (_F_TX if tx else 0)
    n = LENS[mtype]
    if n == 4:
        return (mid, f, value, var)
    if n == 5:
        return (mid, f, value, var, None)
    return (mid, f, value, var, None, None)


def put(m, i, a, j=-1, b=None):
    """m with slot i set to a (and slot j to b): a new tuple, built directly
    (no list in between: this runs for every monitor that fires)."""
    f = a if i == M_FLAGS else m[M_FLAGS]
    n = len(m)
    if n == 4:
        return (m[M_ID], f, m[M_VALUE], m[M_VAR])
    s4 = a if i == 4 else m[4]
    if n == 5:
        return (m[M_ID], f, m[M_VALUE], m[M_VAR], s4)
    s5 = a if i == 5 else (b if j == 5 else m[5])
    return (m[M_ID], f, m[M_VALUE], m[M_VAR], s4, s5)


def kind(m):
    return m[M_FLAGS] & _F_TYPE


def sev(m):
    return (m[M_FLAGS] >> _F_SEV) & 15


def origin(m):
    return (m[M_FLAGS] >> _F_ORIGIN) & 3


def tx(m):
    return (m[M_FLAGS] & _F_TX) != 0


def _var_index(m):
    return m[M_VAR].index


class Monitors:
    """The installed monitors of a station and their evaluation.

    `active` is the one list of what is evaluated, sorted by variable: the
    factory monitors that are on plus every custom one (customs are always
    active, so they are not kept in a second list). `over` maps the id of a
    custom monitor that overrides a Preconfigured one to the latter's id.
    """

    def __init__(self, station):
        self.st = station
        self.model = station.model
        self.store = station.store
        self.factory = []     # board monitors, never deleted
        for v in self.model.vars:
            v.faults = 0
        for spec in station.board["variables"]:
            v = self.model.find(spec["component"], spec["variable"])
            for b in spec["monitors"]:
                self.factory.append(new(b["id"], TYPES.index(b["type"]), b["value"], b["severity"],
                                        HARDWIRED if b["origin"] == "HardWired" else PRECONF, v,
                                        b.get("transaction", False)))
        self.active = []
        self.over = {}
        self.next_id = 1
        for m in self.factory:
            self.next_id = max(self.next_id, m[M_ID] + 1)
        self.tx = {}          # evse id (0: station) -> transactionId while one runs
        self.trips_changed = False   # a threshold tripped or cleared in this evaluation
        self._load()
        self.rebuild()
        self._restore_trips()
        self.sensed = [v for v in self.model.vars if v.sensor is not None]

    # ---- persistence -------------------------------------------------------

    def _load(self):
        d = self.store.load("monitors.json", None)
        if not d:
            return
        self.next_id = max(self.next_id, d.get("next_id", 1))
        for r in d.get("custom", ()):
            # [id, type, value, severity, component, variable, transaction, overrides]
            v = self.model.find(r[4], r[5])
            if v is None or not v.monitorable:
                self.st.log.write("monitor %d dropped: its variable is gone" % r[0])
                continue
            self.active.append(new(r[0], r[1], r[2], r[3], CUSTOM, v, r[6]))
            if r[7] is not None:
                self.over[r[0]] = r[7]

    def save(self):
        """Write every custom monitor, a row at a time (no list of 500 rows in RAM)."""
        def fill(f):
            f.write('{"next_id": %d, "custom": [' % self.next_id)
            sep = ""
            for m in self.active:
                if origin(m) != CUSTOM:
                    continue
                v = m[M_VAR]
                # [id, type, value, severity, component, variable, transaction, overrides]
                f.write(sep)
                json.dump([m[M_ID], kind(m), m[M_VALUE], sev(m), v.component, v.variable,
                           tx(m), self.over.get(m[M_ID])], f)
                sep = ","
            f.write("]}")
        self.store.write("monitors.json", fill)

    def save_trips(self):
        self.store.save("trips.json", [m[M_ID] for m in self.active if kind(m) <= LOWER and m[M_FLAGS] & _F_TRIP])

    def _restore_trips(self):
        # N07.FR.14: a threshold tripped before a reboot is still tripped after
        # it, so a value back in range sends its cleared=true.
        ids = self.store.load("trips.json", [])
        act = self.active
        for i in range(len(act)):
            m = act[i]
            if m[M_ID] in ids and kind(m) <= LOWER:
                act[i] = put(m, M_FLAGS, m[M_FLAGS] | _F_TRIP)

    # ---- what is installed -------------------------------------------------

    def base(self):
        return self.model.ctrl("MonitoringCtrlr.ActiveMonitoringBase")

    def rebuild(self):
        """Recompute the active list in place: the customs it holds plus the
        factory monitors the base turns on and no custom overrides."""
        self._sync_factory()
        act = self.active
        j = 0
        for m in act:
            if origin(m) == CUSTOM:
                act[j] = m
                j += 1
        del act[j:]
        act.sort(key=_var_index)
        for k in range(j):
            act[k] = self._prepare(act[k])
        preconf_on = self.base() != "HardWiredOnly"
        over = self.over
        i = len(self.factory)
        while i > 0:       # backwards, each before its variable's customs: factory order kept
            i -= 1
            m = self.factory[i]
            if origin(m) == PRECONF:
                if not preconf_on:
                    continue
                hit = False
                for k in over:
                    if over[k] == m[M_ID]:
                        hit = True
                if hit:
                    continue
            self._place(self._prepare(m), True)

    def _sync_factory(self):
        """Take the active copies of factory monitors (their state) back into `factory`."""
        fac = self.factory
        for m in self.active:
            if origin(m) != CUSTOM:
                for k in range(len(fac)):
                    if fac[k][M_ID] == m[M_ID]:
                        fac[k] = m

    def _place(self, m, first):
        """Insert m among its variable's monitors (first: before them, else after)."""
        act = self.active
        i = len(act)
        idx = m[M_VAR].index
        if first:
            while i > 0 and act[i - 1][M_VAR].index >= idx:
                i -= 1
        else:
            while i > 0 and act[i - 1][M_VAR].index > idx:
                i -= 1
        act.insert(i, m)

    def _prepare(self, m):
        """Schedule a periodic monitor, take a Delta's reference, once; returns m or its new copy."""
        t = kind(m)
        if t >= PERIODIC and m[M_DUE] is None:
            return self._schedule(m, ticks_ms())
        if t == DELTA and m[_M_HI] is None:
            return self._reference(m)
        return m

    def get(self, mid):
        """The active monitor with this id (a scan: no index to keep for <= 500)."""
        for m in self.active:
            if m[M_ID] == mid:
                return m
        return None

    def on_variable(self, v):
        return [m for m in self.active if m[M_VAR] is v]

    def install(self, m, persist=True):
        """Add a custom monitor or replace one by id; returns the installed monitor.

        persist=False leaves the write to the caller (one save() per request,
        not one per item). The monitor goes in place rather than through a
        rebuild: less garbage, so a small heap fragments less.
        """
        mid = m[M_ID]
        self.next_id = max(self.next_id, mid + 1)
        act = self.active
        i = 0
        n = len(act)
        while i < n and act[i][M_ID] != mid:
            i += 1
        if i == n:
            m = self._prepare(m)
            self._place(m, False)
            if persist:
                self.save()
            return m
        old = act[i]
        if origin(old) == PRECONF:
            self.over[mid] = mid       # N04.FR.15: it becomes a CustomMonitor
        # N07.FR.11: a modified threshold is re-evaluated from the trip state it had.
        if kind(old) == kind(m) and kind(m) <= LOWER:
            m = put(m, M_FLAGS, (m[M_FLAGS] & ~_F_TRIP) | (old[M_FLAGS] & _F_TRIP))
        if origin(old) != CUSTOM:
            self._sync_factory()       # the Preconfigured one keeps its state for when it is back
        m = self._prepare(m)
        act[i] = m                     # same variable (MonitorMoved otherwise): still sorted
        if persist:
            self.save()
            self.save_trips()
        return m

    def remove(self, mid, persist=True):
        """Delete a custom monitor: no cleared event is sent (N07.FR.12).
        persist=False: the caller writes once for its whole request."""
        act = self.active
        for i in range(len(act)):
            if act[i][M_ID] == mid:
                act.pop(i)
                break
        if self.over.pop(mid, None) is not None:
            self.rebuild()             # the Preconfigured monitor it overrode is back
        if persist:
            self.save()
            self.save_trips()

    def set_base(self, base):
        """N03: All keeps customs and turns preconfigured ones on; FactoryDefault and
        HardWiredOnly delete every custom monitor (overrides included)."""
        self._sync_factory()
        if base != "All":
            self.active = []
            self.over = {}
        self.model.set_ctrl("MonitoringCtrlr.ActiveMonitoringBase", base)
        fac = self.factory
        for k in range(len(fac)):
            m = fac[k]
            if base == "HardWiredOnly" and origin(m) != HARDWIRED and kind(m) <= LOWER:
                fac[k] = put(m, M_FLAGS, m[M_FLAGS] & ~_F_TRIP)
        self.rebuild()
        self.save()
        self.save_trips()

    def alloc_id(self):
        mid = self.next_id
        self.next_id += 1
        return mid

    # ---- scheduling ----------------------------------------------------------

    def _reference(self, m):
        """m with the variable's current value as its Delta reference."""
        v = m[M_VAR].value
        if m[M_VAR].numeric:
            if v is None:
                return put(m, _M_HI, None, _M_LO, None)
            return put(m, _M_HI, v + m[M_VALUE], _M_LO, v - m[M_VALUE])
        return put(m, _M_REF, v)

    def _schedule(self, m, now):
        """m with its next deadline."""
        iv = m[M_VALUE]
        if kind(m) == PERIODIC:
            return put(m, M_DUE, ticks_add(now, int(iv * 1000)))
        ms = compat.now_ms()
        period = int(iv * 1000)
        nxt = (ms // period) * period + period     # epoch-aligned, not hour-aligned
        return put(m, M_DUE, ticks_add(now, nxt - ms), M_SLOT, nxt)

    def clock_changed(self):
        now = ticks_ms()
        act = self.active
        for i in range(len(act)):
            if kind(act[i]) == ALIGNED:
                act[i] = self._schedule(act[i], now)

    def set_transaction(self, evse_id, tx_id):
        """Integrators call this when a transaction starts (tx_id) or ends (None)."""
        if tx_id is None:
            self.tx.pop(evse_id, None)
        else:
            self.tx[evse_id] = tx_id

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
        """Evaluate every active monitor; returns None or the list of events that
        fired. A monitor whose state changes is replaced by its new tuple; trip
        states are written once per tick, whole, when one changed."""
        fired = self._run(self.active, now)
        if self.trips_changed:
            self.trips_changed = False
            self.save_trips()
        return fired

    def _run(self, act, now):
        fired = None
        i = 0
        for m in act:       # faster than indexing; i tracks the slot for a replacement
            i += 1
            v = m[M_VAR]
            val = v.value
            f = m[M_FLAGS]
            t = f & _F_TYPE
            if f & _F_TX and not self.tx:
                continue
            if t == UPPER or t == LOWER:
                if val is None or not v.numeric:
                    continue
                out = val > m[M_VALUE] if t == UPPER else val < m[M_VALUE]
                if out != ((f & _F_TRIP) != 0):
                    m = act[i - 1] = put(m, M_FLAGS, f ^ _F_TRIP)
                    fired = self._fire(fired, m, "Alerting", not out)
                    self.trips_changed = True
            elif t == DELTA:
                if val is None:
                    continue
                if v.numeric:
                    hi = m[_M_HI]
                    if hi is None:
                        act[i - 1] = self._reference(m)
                    elif val > hi or val < m[_M_LO]:
                        fired = self._fire(fired, m, "Delta", False)
                        act[i - 1] = self._reference(m)
                elif m[_M_REF] is None:
                    act[i - 1] = put(m, _M_REF, val)
                elif val != m[_M_REF]:
                    fired = self._fire(fired, m, "Delta", False)
                    act[i - 1] = put(m, _M_REF, val)
            elif ticks_diff(now, m[M_DUE]) >= 0:
                if t == ALIGNED and compat.now_ms() < m[M_SLOT]:
                    act[i - 1] = self._schedule(m, now)    # the tick clock ran ahead of the wall clock
                    continue
                fired = self._fire(fired, m, "Periodic", False)
                if t == PERIODIC:
                    due = ticks_add(m[M_DUE], int(m[M_VALUE] * 1000))
                    if ticks_diff(due, now) <= 0:
                        due = ticks_add(now, int(m[M_VALUE] * 1000))
                    act[i - 1] = put(m, M_DUE, due)
                else:
                    act[i - 1] = self._schedule(m, now)
        return fired

    def recheck(self, m):
        """Evaluate one monitor now (after it was set or modified, N07.FR.11);
        found by id, so a stale copy of it will do."""
        act = self.active
        mid = m[M_ID]
        for i in range(len(act)):
            if act[i][M_ID] == mid:
                one = [act[i]]
                fired = self._run(one, ticks_ms())
                act[i] = one[0]
                if self.trips_changed:
                    self.trips_changed = False
                    self.save_trips()     # from the whole list, with this monitor's new state
                return fired
        return None

    def _fire(self, fired, m, trigger, cleared):
        if fired is None:
            fired = []
        fired.append((m, trigger, cleared))
        return fired

    def _fault(self, fired, v, cleared):
        if fired is None:
            fired = []
        fired.append((v, "Alerting", cleared))
        return fired
