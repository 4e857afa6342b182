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
monitors evaluated, its band made anew in the same pass; a passed deadline,
or a change that dropped the bands, evaluates every monitor and makes every
band. Idle, the tick is O(variables), whatever the number of monitors.

Outside this module a monitor is a tuple (indices M_*): id, flags, value,
variable, then a periodic monitor's deadline (and a clock-aligned one's
slot); `active` builds them on demand (requests, reports, events: not the
tick), and what fired is (monitor, trigger, cleared).
Origins: board monitors are HardWired or Preconfigured (the factory set);
SetVariableMonitoring makes Custom ones, and a custom monitor that took a
Preconfigured monitor's id "overrides" it until SetMonitoringBase resets it
or it is cleared (the Preconfigured record stays, flagged off; switched on
again it starts with no state, as a new monitor).

Written for the size of its bytecode (flash, and RAM on a board that
imports .mpy files): few functions, few distinct names, flag bits a byte each.
"""
import json
from array import array

from compat import const, ticks_ms, ticks_diff, ticks_add, now_ms

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

# A monitor tuple: these four slots, then a periodic monitor's state (a
# threshold's or a Delta's state is not shown).
M_ID = const(0)
M_FLAGS = const(1)    # type | trip | severity | origin | transaction, one small int (see below)
M_VALUE = const(2)
M_VAR = const(3)
M_DUE = const(4)      # periodic: ticks deadline
M_SLOT = const(5)     # clock-aligned: wall-clock millisecond of the next slot

# A clock-aligned record keeps its next slot's number (since the epoch) modulo
# _SLOTS: its milliseconds (~1.8e12) would round by up to a minute in the
# float32 that ESP32 and RP2040 builds read out of the array, and the check
# that the wall clock reached the slot would skip or double a slot.
_SLOTS = const(1048576)

# Flags: one small int. The bits tested most sit lowest: a small int up to 47
# is one byte of bytecode, a larger one two or three.
_F_TYPE = const(7)        # bits 0-2: UPPER..ALIGNED
_F_OFF = const(8)         # factory monitor not active (overridden, or HardWiredOnly)
_F_ST = const(16)         # Delta has a reference / periodic is scheduled
_F_TRIP = const(32)       # tripped: the CSMS has an alert of this id open (cleared=false sent). On a
                          # Delta or periodic monitor (a threshold changed by id): its cleared=true is owed
_F_ORIGIN = const(6)      # shift: CUSTOM/PRECONF/HARDWIRED in bits 6-7
_F_FACT = const(192)      # the origin bits: non-zero for a factory monitor
_F_PRE = const(64)        # origin PRECONF
_F_TX = const(256)        # active only during a transaction
_F_SEV = const(9)         # shift: severity 0-9 in bits 9-12
_F_TS = const(7687)       # type and severity bits
_F_INT = const(8192)      # the value was an int: given back as one (reports, monitors.jsonl)
_F_PUB = const(8167)      # the bits a tuple's M_FLAGS shows: all but OFF, ST and INT

_BAND = const(7)          # band entry: variable, first record, end, gt, ge, lt, le
_ANY = object()           # a non-numeric band that any value leaves (no or unequal references)
_FAULTS = const(3)        # consecutive failed samples before a sensor is declared faulty


def new(mid, t, value, sev, origin, v, tx=False):
    """A monitor tuple, for install(): type t on variable v."""
    return (mid, t | sev << _F_SEV | origin << _F_ORIGIN | (_F_TX if tx else 0), value, v)


def kind(m):
    return m[M_FLAGS] & _F_TYPE


def sev(m):
    return (m[M_FLAGS] >> _F_SEV) & 15


def origin(m):
    return (m[M_FLAGS] >> _F_ORIGIN) & 3


def tx(m):
    return (m[M_FLAGS] & _F_TX) != 0


class Monitors:
    """The installed monitors of a station and their evaluation.

    Record j is ids[j], fl[j] (flags), vi[j] (variable index), val[j], s[j]
    (numeric Delta reference, clock-aligned slot in wall-clock ms) and
    dues[j] (periodic ticks deadline); non-numeric Delta references are
    objects, in `refs` (by id, a factory monitor's by ~id). Factory monitors
    are never deleted (_F_OFF when not active). `over` maps the id of a custom
    monitor that overrides a Preconfigured one to the latter's (the same, N04.FR.15).
    `band` is None when a change asks for it to be recomputed at the next tick.
    `active` is the object itself: len() and iteration give the active
    monitors as tuples in variable order, each built when iterated.
    """

    def __init__(self, station):
        self.st = station
        model = station.model
        self.sensed = []
        for v in model.vars:
            if v.sensor is not None:
                v.faults = 0          # an instance attribute before the first tick
                self.sensed.append(v)
        self.ids, self.fl, self.vi, self.val, self.s, self.dues = map(array, "iHHddi")
        self.refs = {}
        self.band = None
        self.due = None       # earliest periodic deadline (ticks), None: none
        self.over = {}
        self.next_id = 1
        self.tx = {}          # evse id (0: station) -> transactionId while one runs
        self.chg = False      # a trip state changed that trips.json does not hold yet
        self.active = self
        for spec in station.board["variables"]:
            v = model.find(spec["component"], spec["variable"])
            for b in spec["monitors"]:
                self._add(new(b["id"], TYPES.index(b["type"]), b["value"], b["severity"],
                              HARDWIRED if b["origin"] == "HardWired" else PRECONF, v,
                              b.get("transaction")))
        # {"next_id": n}, then a custom monitor per line (save()): read a row at a time
        for r in station.store.rows("monitors.jsonl"):
            if type(r) is dict:
                self.next_id = max(self.next_id, r["next_id"])
                continue
            # [id, type, value, severity, component, variable, transaction, overrides]
            v = model.find(r[4], r[5])
            if v is None or not v.monitorable:
                station.log.write("monitor %d dropped: its variable is gone" % r[0])
                continue
            self._add(new(*r[:4], CUSTOM, v, r[6]))
            if r[7] is not None:
                self.over[r[0]] = r[7]
        self.rebuild()
        # N07.FR.14: a threshold tripped before a reboot is still tripped after
        # it, so a value back in range sends its cleared=true (and a threshold
        # changed into a Delta or periodic monitor still owes it).
        d = station.store.load("trips.json", [])
        fl = self.fl
        for j in range(len(fl)):
            if not fl[j] & _F_OFF and self.ids[j] in d:
                fl[j] |= _F_TRIP

    def __len__(self):
        n = 0
        for f in self.fl:
            if not f & _F_OFF:
                n += 1
        return n

    def __iter__(self):
        for j in range(len(self.fl)):
            if not self.fl[j] & _F_OFF:
                yield self.at(j)

    # ---- records -------------------------------------------------------------

    def _key(self, j):
        """Record j's key in refs: a custom monitor may share its id with a factory one."""
        i = self.ids[j]
        return ~i if self.fl[j] & _F_FACT else i

    def at(self, j):
        """Record j as a monitor tuple."""
        f = self.fl[j]
        x = self.val[j]
        if f & _F_INT:
            x = int(x)
        m = (self.ids[j], f & _F_PUB, x, self.st.model.at(self.vi[j]))
        t = f & _F_TYPE
        if t > DELTA:      # a periodic monitor's deadline, a clock-aligned one's slot too
            s = None
            if f & _F_ST and t == ALIGNED:     # the slot nearest now with those low bits
                p = int(self.val[j] * 1000)
                k = now_ms() // p
                s = (k + (int(self.s[j]) - k + _SLOTS // 2) % _SLOTS - _SLOTS // 2) * p
            m += ((self.dues[j], s) if f & _F_ST else (None, None))[:t - DELTA]
        return m

    def _add(self, m, j=-1):
        """Monitor tuple m into record j, without state; returns j. j -1: a new
        record after its variable's (an array grows 8 slots at a time on
        MicroPython: few reallocations)."""
        x = m[M_VALUE]
        if j < 0:
            vi = self.vi
            j = n = len(vi)
            while j and vi[j - 1] > m[M_VAR].index:
                j -= 1
            for a in (self.ids, self.fl, vi, self.val, self.s, self.dues):
                a.append(0)
                if j < n:
                    memoryview(a)[j + 1:] = memoryview(a)[j:n]
            self.next_id = max(self.next_id, m[M_ID] + 1)
        self.ids[j] = m[M_ID]
        self.fl[j] = m[M_FLAGS] | (_F_INT if type(x) is int else 0)
        self.vi[j] = m[M_VAR].index
        self.val[j] = x
        self.band = None
        return j

    def find(self, mid, start=0):
        """The index of the active record with this id, searched from start round; -1."""
        ids = self.ids
        n = len(ids)
        for j in range(start, start + n):
            j %= n
            if ids[j] == mid and not self.fl[j] & _F_OFF:
                return j
        return -1

    # ---- persistence -------------------------------------------------------

    def save(self):
        """Write every custom monitor, a row per line (no list of 500 rows in
        RAM, now or at boot), then the trip states."""
        def fill(f):
            f.write('{"next_id": %d}\n' % self.next_id)
            for j in range(len(self.fl)):
                if not self.fl[j] & _F_FACT:
                    i, g, x, v = self.at(j)[:4]
                    # [id, type, value, severity, component, variable, transaction, overrides]
                    json.dump([i, g & _F_TYPE, x, g >> _F_SEV & 15, v.component, v.variable,
                               g & _F_TX > 0, self.over.get(i)], f)
                    f.write("\n")
        self.st.store.write("monitors.jsonl", fill)
        self.save_trips()

    def save_trips(self):
        self.chg = False
        ids = []
        for j in range(len(self.fl)):
            if self.fl[j] & (_F_TRIP | _F_OFF) == _F_TRIP:
                ids.append(self.ids[j])
        self.st.store.save("trips.json", ids)

    # ---- what is installed -------------------------------------------------

    def rebuild(self):
        """Turn each Preconfigured monitor on or off by the base and the
        overrides; schedule, or take the reference of, each that is on and has none.
        A monitor switched on or off loses its state: the CSMS was told nothing
        of it while it was off (its override's events, or none), and removing
        a monitor ends its alert (N07.FR.12), so it comes back untripped, with
        a new Delta reference and schedule, and is evaluated as a new monitor."""
        on = self.st.model.ctrl("MonitoringCtrlr.ActiveMonitoringBase") != "HardWiredOnly"
        fl = self.fl
        for j in range(len(fl)):
            f = fl[j]
            if f & _F_FACT == _F_PRE:
                g = f & ~_F_OFF if on and self.ids[j] not in self.over.values() else f | _F_OFF
                fl[j] = g if g == f else g & ~(_F_TRIP | _F_ST)
            self._prep(j)
        self.band = None

    def _prep(self, j):
        """Schedule a periodic monitor, or take the variable's current value as
        a Delta's reference (none while it has no value), unless it has one."""
        f = self.fl[j]
        t = f & _F_TYPE
        if t > LOWER and not f & (_F_OFF | _F_ST):
            if t == DELTA:
                v = self.st.model.at(self.vi[j])
                x = v.value
                if x is not None:
                    if v.numeric:
                        self.s[j] = x
                    else:
                        self.refs[self._key(j)] = x
                    self.fl[j] = f | _F_ST
            else:
                now = ticks_ms()
                self._sched(j, now, now)

    def get(self, mid):
        """The active monitor with this id, or None."""
        j = self.find(mid)
        return None if j < 0 else self.at(j)

    def on_variable(self, v):
        return [m for m in self if m[M_VAR] is v]

    def duplicate(self, v, t, severity, mid):
        """Is there another active monitor of this type and severity on v (N04.FR.10)?"""
        fl = self.fl
        for j in range(len(fl)):
            if fl[j] & (_F_OFF | _F_TS) == t | severity << _F_SEV and self.vi[j] == v.index and self.ids[j] != mid:
                return True
        return False

    def install(self, m, persist=True):
        """Add a custom monitor (a tuple from new()) or replace one by id;
        returns the installed monitor.

        persist=False leaves the write to the caller (one save() per request,
        not one per item).
        """
        j = self.find(m[M_ID])
        if j < 0:
            j = self._add(m)
        else:
            f = self.fl[j]
            trip = f & _F_TRIP
            if f & _F_FACT == _F_PRE:
                # N04.FR.15: it becomes a CustomMonitor; the Preconfigured record keeps its state.
                self.over[m[M_ID]] = m[M_ID]
                self.fl[j] = f | _F_OFF
                j = self._add(m)           # among the customs, where a reboot loads it
            else:
                self._add(m, j)            # same variable (MonitorMoved otherwise): still sorted
            # N07.FR.11: a modified monitor keeps the alert the CSMS has open for its id,
            # whatever its new type: a threshold is evaluated from it (cleared=true when
            # the new condition does not hold, no repeat when it does), a Delta or
            # periodic monitor sends its cleared=true at its next evaluation.
            self.fl[j] |= trip
        self._prep(j)
        if persist:
            self.save()
        return self.at(j)

    def remove(self, mid, persist=True):
        """Delete a custom monitor: no cleared event is sent (N07.FR.12).
        persist=False: the caller writes once for its whole request."""
        j = self.find(mid)
        if j >= 0:
            if self.fl[j] & _F_FACT:
                self.fl[j] |= _F_OFF     # a factory monitor is only off, until a rebuild
            else:
                self.refs.pop(mid, None)
                for a in (self.ids, self.fl, self.vi, self.val, self.s, self.dues):
                    a[j:j + 1] = a[:0]
        if self.over.pop(mid, None) is not None:
            self.rebuild()             # the Preconfigured monitor it overrode is back
        self.band = None
        if persist:
            self.save()

    def set_base(self, base):
        """N03: All keeps customs and turns preconfigured ones on; FactoryDefault and
        HardWiredOnly delete every custom monitor (overrides included)."""
        if base != "All":
            # The factory records moved down over the custom ones, then the arrays
            # copied at their new length: no room kept for the deleted records.
            fl = self.fl
            cols = (self.ids, fl, self.vi, self.val, self.s, self.dues)
            w = 0
            for j in range(len(fl)):
                f = fl[j]
                if f & _F_FACT:          # HardWiredOnly turns Preconfigured ones off in rebuild()
                    for a in cols:
                        a[w] = a[j]
                    w += 1
                else:
                    self.refs.pop(self.ids[j], None)
            self.ids, self.fl, self.vi, self.val, self.s, self.dues = [a[:w] for a in cols]
            self.over = {}
        self.st.model.set_ctrl("MonitoringCtrlr.ActiveMonitoringBase", base)
        self.rebuild()
        self.save()

    def alloc_id(self):
        mid = self.next_id
        self.next_id += 1
        return mid

    # ---- scheduling ----------------------------------------------------------

    def _sched(self, j, now, due):
        """Record j's next deadline: a periodic monitor's the period after due
        (after now if that passed), a clock-aligned one's the next slot."""
        p = int(self.val[j] * 1000)
        if self.fl[j] & _F_TYPE == PERIODIC:
            d = ticks_diff(ticks_add(due, p), now)
            if d <= 0:
                d = p
        else:
            ms = now_ms()
            d = ms // p + 1                     # the next slot: epoch-aligned, not hour-aligned
            self.s[j] = d % _SLOTS
            d = d * p - ms
        self.dues[j] = ticks_add(now, d)
        self.fl[j] |= _F_ST

    def clock_changed(self):
        now = ticks_ms()
        for j in range(len(self.fl)):
            if self.fl[j] & (_F_OFF | _F_TYPE) == ALIGNED:
                self._sched(j, now, now)
        self.band = None

    def set_transaction(self, evse_id, tx_id):
        """Integrators call this when a transaction starts (tx_id) or ends (None)."""
        if tx_id is None:
            self.tx.pop(evse_id, None)
        else:
            self.tx[evse_id] = tx_id
        self.band = None       # monitors with the transaction flag may count or stop counting

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
            ok = val is not None
            if ok:
                v.faults = 0
                v.value = val
            else:
                v.faults += 1
            if ok != v.ok and (ok or v.faults == _FAULTS):
                v.ok = ok
                self.st.log.write("sensor %s %s" % (v.label(), "recovered" if ok else "fault: %s" % v.sensor.error))
                fired = self._fire(fired, v, "Alerting", ok)
        return fired

    def evaluate(self, now):
        """Evaluate the monitors; returns None or the list of events that fired.
        Allocates nothing while every value stays in its band and no deadline
        passed. A trip state that changed sets `chg`; Outbox.post() writes them,
        whole, once the events that report the change are in the outbox."""
        b = self.band
        d = self.due
        if b is None or (d is not None and ticks_diff(now, d) >= 0):
            # Every monitor, in order, and every band and the earliest deadline anew.
            b = []
            self.due = None
            fired = self._run(b, 0, len(self.fl), now, None)
            self.band = b[:]          # without the slack appends left
        else:
            fired = None
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
                e = []
                fired = self._run(e, b[k + 1], b[k + 2], now, fired)
                b[k:k + _BAND] = e         # the same variable and records: a band still
        return fired

    def _run(self, b, j, hi, now, fired):
        """Evaluate records j..hi-1 (whole variables); append to b each
        variable's band entry from the records' new state (none when no
        threshold or Delta of it counts), and lower `due` to their deadlines.
        Returns fired, with what fired appended."""
        fl = self.fl
        vi = self.vi
        notx = not self.tx
        while j < hi:
            e = j + 1
            while e < hi and vi[e] == vi[j]:
                e += 1
            v = self.st.model.at(vi[j])
            val = v.value
            num = v.numeric
            gt = ge = 1e999
            lt = le = -1e999
            ref = None
            seen = False
            for i in range(j, e):
                f = fl[i]
                t = f & _F_TYPE
                if t > LOWER and f & (_F_OFF | _F_TRIP) == _F_TRIP:
                    # Was a tripped threshold (N07.FR.11): its open alert is cleared.
                    fl[i] = f = f ^ _F_TRIP
                    fired = self._fire(fired, i, "Alerting", True)
                    self.chg = True
                if f & _F_OFF or (f & _F_TX and notx):
                    continue
                x = self.val[i]
                if t > DELTA:
                    if f & _F_ST:
                        d = self.dues[i]
                        if ticks_diff(now, d) >= 0:
                            # A clock-aligned slot the wall clock has not reached (the
                            # tick clock ran ahead) is only rescheduled.
                            if t == PERIODIC or (now_ms() // int(x * 1000) - int(self.s[i])) % _SLOTS < _SLOTS // 2:
                                fired = self._fire(fired, i, "Periodic", False)
                            self._sched(i, now, d)
                            d = self.dues[i]
                        if self.due is None or ticks_diff(d, self.due) < 0:
                            self.due = d
                    continue
                if val is not None:
                    if t == DELTA:
                        out = False
                        if f & _F_ST:
                            if num:
                                s = self.s[i]
                                out = val > s + x or val < s - x
                            else:
                                out = val != self.refs.get(self._key(i))
                            if out:
                                fired = self._fire(fired, i, "Delta", False)
                        if out or not f & _F_ST:     # the value now is the reference
                            if num:
                                self.s[i] = val
                            else:
                                self.refs[self._key(i)] = val
                            fl[i] = f = f | _F_ST
                    elif num:
                        out = val > x if t == UPPER else val < x
                        if out != (f & _F_TRIP > 0):
                            fl[i] = f = f ^ _F_TRIP
                            fired = self._fire(fired, i, "Alerting", not out)
                            self.chg = True
                # The band: the values for which none of these changes state.
                if not num:
                    if t == DELTA:
                        x = self.refs.get(self._key(i)) if f & _F_ST else None
                        ref = x if not seen or x == ref else _ANY
                        seen = True
                    continue
                seen = True
                if t == DELTA:
                    if f & _F_ST:
                        s = self.s[i]
                        gt = min(gt, s + x)
                        lt = max(lt, s - x)
                    else:
                        gt = -1e999        # no reference yet: the next value is taken
                elif f & _F_TRIP:          # cleared at or above a LowerThreshold, at or below an Upper
                    if t:
                        ge = min(ge, x)
                    else:
                        le = max(le, x)
                elif t:
                    lt = max(lt, x)
                else:
                    gt = min(gt, x)
            if seen:
                if not num:
                    gt = _ANY if ref is None else ref
                    ge = None
                b += (v, j, e, gt, ge, lt, le)
            j = e
        return fired

    def recheck(self, m):
        """Evaluate one monitor now (after it was set or modified, N07.FR.11);
        found by id, so a stale copy of it will do. What fired goes to
        Outbox.post(), which then writes the trip states."""
        j = self.find(m[M_ID])
        if j < 0:
            return None
        fired = self._run([], j, j + 1, ticks_ms(), None)
        self.band = None
        return fired

    def _fire(self, fired, j, t, cleared):
        """Append (monitor, trigger t, cleared): j a record, or a faulty sensor's variable."""
        if fired is None:
            fired = []
        fired.append((self.at(j) if type(j) is int else j, t, cleared))
        return fired
