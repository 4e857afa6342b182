"""Events: eventData built from what fired, the outbox, and NotifyEvent delivery.

The outbox is the one way out for events, online and offline alike: each
event is a small file <storage>/outbox/EEEEEEEEEE_BBBBBBBBBB_S.json (event
id, batch = first event id of its tick, severity) written atomically, and is
deleted only after the CSMS's CALLRESULT. Names sort in event order, so
delivery keeps order and a redelivered event keeps its eventId.

Filters, in LIB's order: MonitoringCtrlr.Enabled; severity above
ActiveMonitoringLevel is never reported (N05.FR.03, N07.FR.15); while
offline, severity above OfflineQueuingSeverity is dropped (N07.FR.04).

When the outbox holds queue_size events, the least severe event (highest
severity number, the oldest of those) is dropped to make room, or the new
event itself when it is the least severe; the diagnostics log says which.

On a CALLERROR for a NotifyEvent the batch is retried RETRIES times with
backoff, then logged as undeliverable and dropped, so one poisoned event
cannot block the queue forever. Timeouts and lost connections retry forever.

Few methods on purpose: each function costs .mpy bytes and ~150 B of RAM on import.
"""
import asyncio
import json
import os

import compat
from compat import const
from device.model import text
from diag.monitors import NOTIF
from drivers import store
from protocol.codec import CallError

# Rows of device/model.py's CTRL read here by number (host_tests/unit/test_variables.py checks them)
_ENABLED = const(1)          # MonitoringCtrlr.Enabled
_OFFLINE_SEV = const(6)      # MonitoringCtrlr.OfflineQueuingSeverity
_LEVEL = const(8)            # MonitoringCtrlr.ActiveMonitoringLevel
_VALUE_SIZE = const(16)      # DeviceDataCtrlr.ReportingValueSize

_HW_FAULT_SEVERITY = const(1)   # HardwareFailure, for sensor faults
_ID_BLOCK = const(64)           # event ids reserved per write of the counter
RETRIES = const(3)
# A NotifyEvent page holds at most this much event text: while it is built
# and encoded a page costs about 2.7x its text, in blocks a fragmented small
# heap must still find (2 KB pages peaked 3.4 KB higher in the heap bench).
PAGE_BYTES = const(1200)


class Outbox:
    # Counters and settings in the class until they change: an instance attribute
    # is a slot of its table (16 bytes on a 64-bit port).
    fails = 0          # CALLERRORs in a row for the head page
    dropped = 0
    sent = 0
    retry_ms = 1000    # first retry delay, doubling to 30 s

    def __init__(self, station):
        self.st = station
        self.dir = station.store.root + "/outbox"
        store.makedirs(self.dir)
        k = 0
        top = 1       # above every queued event's id
        for n in os.listdir(self.dir):
            if n.endswith(".tmp"):
                store.remove(self.dir + "/" + n)
            else:
                k += 1
                if n[:10].isdigit():
                    top = max(top, int(n[:10]) + 1)
        self.count = k
        e = station.store.load("eventid.json", {"next": 1})["next"]
        if e < top:
            # eventid.json lost or corrupt: ids from 1 would overwrite queued events
            station.log.write("eventid.json behind outbox: next %d" % top)
            e = top
        self.next_id = self.reserved = e   # ids below reserved are reserved on storage
        q = station.board["queue_size"]
        while self.count > q:   # queued under a larger queue_size than the board's now
            n = self._victim()
            if n is None:
                break
            store.remove(self.dir + "/" + n)
            self.count -= 1
            self.dropped += 1
            station.log.write("outbox over queue_size: dropped event %d (severity %s)" % (int(n[:10]), n[-6]))
        self.wake = asyncio.Event()
        station.session.listen(self._online)

    def _victim(self):
        """The queued event to drop first: the least severe (highest severity
        number), the oldest of those; its file name, None when none is queued."""
        victim = None
        for n in compat.names(self.dir):
            if n.endswith(".json") and (victim is None or n[-6] > victim[-6]
                                        or (n[-6] == victim[-6] and n < victim)):
                victim = n
        return victim

    def _online(self, up):
        if up:
            self.wake.set()     # deliver what was queued while offline

    def post(self, fired):
        """Queue what one tick found, (monitor tuple or faulty sensor's variable, trigger, cleared)
        each; they travel as one batch (seqNo/tbc). Then the trip states they report are
        written (trips.json, once): a power cut between the two sends an event twice, never
        loses one (written first, the trip state would stop it from firing again)."""
        st = self.st
        cv = st.model.cv    # the controller values by CTRL row (device/model.py): no name strings here
        if not cv[_ENABLED]:
            fired = ()
        level = cv[_LEVEL]
        offline_sev = cv[_OFFLINE_SEV]
        lim = min(2500, cv[_VALUE_SIZE])
        online = st.session.online
        log = st.log.write
        ts = compat.iso()
        batch = None
        for src, trigger, cleared in fired:
            # The eventData of a fired monitor (a tuple: id, flags, value, variable; the
            # flags' bits as diag/monitors.py packs them) or of a faulty sensor (its variable).
            is_mon = isinstance(src, tuple)
            v = src[3] if is_mon else src
            f = src[1] if is_mon else 0
            d = {"eventId": 0, "timestamp": ts, "trigger": trigger, "eventNotificationType":
                 NOTIF[f >> 6 & 3] if is_mon else "HardWiredNotification",
                 "component": v.component, "variable": v.variable,
                 "actualValue": "" if v.mutability == "WriteOnly" else text(v.value)[:lim]}
            if is_mon:
                sev = f >> 9 & 15
                mid = d["variableMonitoringId"] = src[0]
                if f & 7 < 2 or cleared:  # UpperThreshold, LowerThreshold; the clear of a
                    d["cleared"] = cleared  # threshold since changed into another type
                if f & 256:               # active during a transaction only
                    txs = st.monitors.tx
                    e = v.component.get("evse")
                    tx = txs.get(e["id"] if e else 0)
                    if tx is None:
                        for k in txs:
                            tx = txs[k]
                    if tx is not None:
                        d["transactionId"] = tx
            else:
                sev = _HW_FAULT_SEVERITY
                mid = "-"
                d["cleared"] = cleared
                d["techCode"] = "SensorRecovered" if cleared else "SensorFault"
                if not cleared and getattr(v.sensor, "error", None):
                    d["techInfo"] = v.sensor.error[:500]
            if sev > level:
                continue
            if not online and sev > offline_sev:
                log("offline: event of monitor %s (severity %d) not queued" % (mid, sev))
                continue
            e = self.next_id
            if e >= self.reserved:
                # Persist a block ahead, so ids stay unique across a reboot with one
                # write per _ID_BLOCK events rather than one per event.
                self.reserved = e + _ID_BLOCK
                st.store.save("eventid.json", {"next": self.reserved})
            self.next_id = e + 1
            d["eventId"] = e
            if batch is None:
                batch = e
            if self.count >= st.board["queue_size"]:
                # The least severe queued event makes room, unless the new one is less severe still.
                victim = self._victim()
                self.dropped += 1
                gone = e
                gs = sev
                if victim is not None and int(victim[-6]) >= sev:
                    store.remove(self.dir + "/" + victim)
                    self.count -= 1
                    gone = int(victim[:10])
                    gs = int(victim[-6])
                log("outbox full: dropped event %d (severity %d)" % (gone, gs))
                if gone == e:
                    continue
            name = "%s/%010d_%010d_%d.json" % (self.dir, e, batch, sev)
            with open(name + ".tmp", "w") as f:
                json.dump(d, f)
                store.sync(f)
            os.rename(name + ".tmp", name)
            self.count += 1
            log("event %d: %s %s=%s%s" % (e, trigger, mid if is_mon else v.variable["name"],
                                         d["actualValue"][:40], " cleared" if cleared else ""))
        if batch is not None:
            self.wake.set()
        if st.monitors.chg:
            st.monitors.save_trips()

    async def run(self):
        """Drain the outbox while online: one NotifyEvent at a time, deleting after its answer."""
        seq = 0
        while True:
            if not self.st.session.online or self.count <= 0:
                self.wake.clear()
                await self.wake.wait()
                continue
            seq = await self._send_page(seq)

    def _page(self, seq):
        """The events of the outbox's first batch that fit one message: (their names, the
        NotifyEvent payload's JSON text, more). Events are sent as stored, JSON text joined
        once (a page of dicts and their encoding took 5x the text at the heap bench's peak).
        Not a coroutine: the batch's name list must not outlive it in a suspended frame
        (a stale slot of one keeps it from the collector)."""
        # The outbox's first batch: the oldest event's (names sort in event order). Only
        # its names are listed: a backlog of queue_size events is not.
        first = None
        k = 0
        for n in compat.names(self.dir):
            if n.endswith(".json"):
                k += 1
                if first is None or n < first:
                    first = n
        self.count = k
        names = []
        if first is not None:
            for n in compat.names(self.dir):
                if n[11:21] == first[11:21] and n.endswith(".json"):
                    names.append(n)
            names.sort()
        take = []
        parts = [None]     # the payload's head, once `more` is known
        budget = min(PAGE_BYTES, self.st.board["max_message"] // 2)
        used = 120
        more = False
        for n in names:
            p = self.dir + "/" + n
            try:
                size = os.stat(p)[6] + 1    # the file is the event's JSON text
                if take and used + size > budget:
                    more = True
                    break
                with open(p) as f:
                    t = f.read(size)
                json.loads(t)       # one that does not parse could never be delivered
            except (OSError, ValueError):
                store.remove(p)   # unreadable: cannot be sent, never blocks
                self.count -= 1
                continue
            used += size
            take.append(n)
            parts.append(t)
            parts.append(",")
        parts[-1] = "]}"
        parts[0] = '{"generatedAt":"%s","seqNo":%d,%s"eventData":[' % (compat.iso(), seq, '"tbc":true,' if more else "")
        return take, "".join(parts), more

    async def _send_page(self, seq):
        """Send the next page of the outbox; return the next seqNo.

        A method of its own so that the page (its names, the request text)
        is garbage as soon as it returns: nothing is held while idle.
        """
        take, req, more = self._page(seq)
        if not take:
            return seq
        try:
            await self.st.session.call("NotifyEvent", req)
        except Exception as e:
            if isinstance(e, CallError):
                self.fails += 1
                if self.fails > RETRIES:
                    # which events are lost, by id (the file names start with them)
                    ids = ""
                    for n in take:
                        ids += ",%d" % int(n[:10])
                    self.st.log.write("NotifyEvent refused %d times (%s): events %s dropped"
                                      % (self.fails, e.code, ids[1:]))
                    self.fails = 0
                    self.dropped += len(take)
                    seq = -1
            if seq >= 0:
                self.st.log.write("NotifyEvent: %r" % e)
                req = None
                await compat.sleep_ms(min(30000, self.retry_ms * (1 << min(self.fails, 5))))
                return seq
        else:
            self.fails = 0
            self.sent += len(take)
        for n in take:
            store.remove(self.dir + "/" + n)
        self.count -= len(take)
        return seq + 1 if more else 0
