"""Monitors: the store (what is installed, persisted) and the engine (evaluation).

A monitor is a small list (indices M_* below) rather than an object, so that
hundreds of them stay cheap and the tick reads them without allocating.
Origins: board monitors are HardWired or Preconfigured (the factory set);
SetVariableMonitoring makes Custom ones, and a custom monitor that took a
Preconfigured monitor's id "overrides" it until SetMonitoringBase resets it.

The tick is allocation-free while nothing fires: thresholds compare the
value with a stored number, numeric Delta compares with precomputed bounds
(reference ± delta, refreshed at each event), periodic monitors compare
ticks with a stored deadline. Only a firing monitor allocates (its event).
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
M_TYPE = const(1)
M_VALUE = const(2)
M_SEV = const(3)
M_ORIGIN = const(4)
M_VAR = const(5)
# Slots 6 and 7 hold per-type state (one monitor has one type), keeping 500
# monitors small: 10 slots each.
M_TRIP = const(6)     # threshold: tripped
M_HI = const(6)       # numeric Delta: fire above this (None: take the next value as reference)
M_LO = const(7)       # numeric Delta: fire below this
M_REF = const(6)      # non-numeric Delta: reference value; None: take the next value
M_DUE = const(6)      # periodic: ticks deadline
M_SLOT = const(7)     # clock-aligned: wall-clock millisecond of the next slot
M_TX = const(8)       # active only during a transaction
M_OVER = const(9)     # custom: id of the Preconfigured monitor it overrides, else None
M_LEN = const(10)

BASES = ("All", "FactoryDefault", "HardWiredOnly")
FAULT_SAMPLES = const(3)   # consecutive failed samples before a sensor is declared faulty


def new(mid, mtype, value, sev, origin, var, tx=False, over=None):
    m = [None] * M_LEN
    m[M_ID] = mid
    m[M_TYPE] = mtype
    m[M_VALUE] = value
    m[M_SEV] = sev
    m[M_ORIGIN] = origin
    m[M_VAR] = var
    if mtype <= LOWER:
        m[M_TRIP] = False
    m[M_TX] = tx
    m[M_OVER] = over
    return m


class Monitors:
    """The installed monitors of a station and their evaluation."""

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
        self.custom = []
        self.next_id = 1
        for m in self.factory:
            self.next_id = max(self.next_id, m[M_ID] + 1)
        self.tx = {}          # evse id (0: station) -> transactionId while one runs
        self._load()
        self.active = []
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
            self.custom.append(new(r[0], r[1], r[2], r[3], CUSTOM, v, r[6], r[7]))

    def save(self):
        """Write every custom monitor, a row at a time (no list of 500 rows in RAM)."""
        def fill(f):
            f.write('{"next_id": %d, "custom": [' % self.next_id)
            sep = ""
            for m in self.custom:
                v = m[M_VAR]
                # [id, type, value, severity, component, variable, transaction, overrides]
                f.write(sep)
                json.dump([m[M_ID], m[M_TYPE], m[M_VALUE], m[M_SEV], v.component, v.variable,
                           m[M_TX], m[M_OVER]], f)
                sep = ","
            f.write("]}")
        self.store.write("monitors.json", fill)

    def save_trips(self):
        self.store.save("trips.json", [m[M_ID] for m in self.active if m[M_TYPE] <= LOWER and m[M_TRIP]])

    def _restore_trips(self):
        # N07.FR.14: a threshold tripped before a reboot is still tripped after
        # it, so a value back in range sends its cleared=true.
        ids = self.store.load("trips.json", [])
        for m in self.active:
            if m[M_ID] in ids and m[M_TYPE] <= LOWER:
                m[M_TRIP] = True

    # ---- what is installed -------------------------------------------------

    def base(self):
        return self.model.ctrl("MonitoringCtrlr.ActiveMonitoringBase")

    def rebuild(self):
        """Recompute the active list from factory + custom monitors and the base."""
        overridden = {}
        for m in self.custom:
            if m[M_OVER] is not None:
                overridden[m[M_OVER]] = 1
        preconf_on = self.base() != "HardWiredOnly"
        act = []
        for m in self.factory:
            if m[M_ORIGIN] == HARDWIRED or (preconf_on and m[M_ID] not in overridden):
                act.append(m)
        act.extend(self.custom)
        for m in act:
            self._prepare(m)
        act.sort(key=lambda m: m[M_VAR].index)
        self.active = act
        self.by_id = {}
        for m in act:
            self.by_id[m[M_ID]] = m

    def _prepare(self, m):
        """Schedule a periodic monitor, take a Delta's reference, once."""
        if m[M_DUE] is None and m[M_TYPE] >= PERIODIC:
            self._schedule(m, ticks_ms())
        if m[M_TYPE] == DELTA and m[M_HI] is None:
            self._reference(m)

    def get(self, mid):
        return self.by_id.get(mid)

    def on_variable(self, v):
        return [m for m in self.active if m[M_VAR] is v]

    def install(self, m, persist=True):
        """Add a custom monitor or replace one by id; returns the installed monitor.

        persist=False leaves the write to the caller (one save() per request,
        not one per item). A new monitor is inserted in place rather than by
        rebuilding the lists: less garbage, so a small heap fragments less.
        """
        old = self.by_id.get(m[M_ID])
        if old is None:
            self.custom.append(m)
            self.next_id = max(self.next_id, m[M_ID] + 1)
            self._prepare(m)
            act = self.active
            i = len(act)
            idx = m[M_VAR].index
            while i > 0 and act[i - 1][M_VAR].index > idx:
                i -= 1
            act.insert(i, m)
            self.by_id[m[M_ID]] = m
            if persist:
                self.save()
            return m
        if old[M_ORIGIN] == PRECONF:
            m[M_OVER] = old[M_ID]      # N04.FR.15: it becomes a CustomMonitor
        else:
            m[M_OVER] = old[M_OVER]
            self.custom.remove(old)
        # N07.FR.11: a modified threshold is re-evaluated from the trip state it had.
        if old[M_TYPE] == m[M_TYPE] and m[M_TYPE] <= LOWER:
            m[M_TRIP] = old[M_TRIP]
        self.custom.append(m)
        self.next_id = max(self.next_id, m[M_ID] + 1)
        self.rebuild()
        if persist:
            self.save()
            self.save_trips()
        return m

    def remove(self, mid):
        """Delete a custom monitor: no cleared event is sent (N07.FR.12)."""
        m = self.by_id.get(mid)
        self.custom.remove(m)
        self.rebuild()
        self.save()
        self.save_trips()

    def set_base(self, base):
        """N03: All keeps customs and turns preconfigured ones on; FactoryDefault and
        HardWiredOnly delete every custom monitor (overrides included)."""
        if base != "All":
            self.custom = []
        self.model.set_ctrl("MonitoringCtrlr.ActiveMonitoringBase", base)
        for m in self.factory:
            if base == "HardWiredOnly" and m[M_ORIGIN] != HARDWIRED and m[M_TYPE] <= LOWER:
                m[M_TRIP] = False
        self.rebuild()
        self.save()
        self.save_trips()

    def alloc_id(self):
        mid = self.next_id
        self.next_id += 1
        return mid

    # ---- scheduling ----------------------------------------------------------

    def _reference(self, m):
        """Take the variable's current value as the Delta reference."""
        v = m[M_VAR].value
        if m[M_VAR].numeric:
            if v is None:
                m[M_HI] = m[M_LO] = None
            else:
                m[M_HI] = v + m[M_VALUE]
                m[M_LO] = v - m[M_VALUE]
        else:
            m[M_REF] = v

    def _schedule(self, m, now):
        iv = m[M_VALUE]
        if m[M_TYPE] == PERIODIC:
            m[M_DUE] = ticks_add(now, int(iv * 1000))
        else:
            ms = compat.now_ms()
            period = int(iv * 1000)
            nxt = (ms // period) * period + period     # epoch-aligned, not hour-aligned
            m[M_SLOT] = nxt
            m[M_DUE] = ticks_add(now, nxt - ms)

    def clock_changed(self):
        now = ticks_ms()
        for m in self.active:
            if m[M_TYPE] == ALIGNED:
                self._schedule(m, now)

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
        """Evaluate every active monitor; returns None or the list of events that fired."""
        fired = None
        for m in self.active:
            v = m[M_VAR]
            val = v.value
            t = m[M_TYPE]
            if m[M_TX] and not self.tx:
                continue
            if t == UPPER or t == LOWER:
                if val is None or not v.numeric:
                    continue
                out = val > m[M_VALUE] if t == UPPER else val < m[M_VALUE]
                if out != m[M_TRIP]:
                    m[M_TRIP] = out
                    fired = self._fire(fired, m, "Alerting", not out)
                    self.save_trips()
            elif t == DELTA:
                if val is None:
                    continue
                if v.numeric:
                    hi = m[M_HI]
                    if hi is None:
                        self._reference(m)
                    elif val > hi or val < m[M_LO]:
                        fired = self._fire(fired, m, "Delta", False)
                        self._reference(m)
                elif m[M_REF] is None:
                    m[M_REF] = val
                elif val != m[M_REF]:
                    fired = self._fire(fired, m, "Delta", False)
                    m[M_REF] = val
            elif ticks_diff(now, m[M_DUE]) >= 0:
                if t == ALIGNED and compat.now_ms() < m[M_SLOT]:
                    self._schedule(m, now)    # the tick clock ran ahead of the wall clock
                    continue
                fired = self._fire(fired, m, "Periodic", False)
                if t == PERIODIC:
                    due = ticks_add(m[M_DUE], int(m[M_VALUE] * 1000))
                    m[M_DUE] = due if ticks_diff(due, now) > 0 else ticks_add(now, int(m[M_VALUE] * 1000))
                else:
                    self._schedule(m, now)
        return fired

    def recheck(self, m):
        """Evaluate one monitor now (after it was set or modified, N07.FR.11)."""
        keep = self.active
        self.active = [m]
        try:
            return self.evaluate(ticks_ms())
        finally:
            self.active = keep

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
