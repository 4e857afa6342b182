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
"""
import asyncio
import json
import os

import compat
from compat import const
from device import model as dm
from diag import monitors as mon
from drivers import store

HW_FAULT_SEVERITY = const(1)   # HardwareFailure, for sensor faults
ID_BLOCK = const(64)           # event ids reserved per write of the counter
RETRIES = const(3)
# A NotifyEvent page holds at most this much event text: while it is built
# and encoded a page costs about 2.7x its text, in blocks a fragmented small
# heap must still find (2 KB pages peaked 3.4 KB higher in the heap bench).
PAGE_BYTES = const(1200)


class Outbox:
    def __init__(self, station):
        self.st = station
        self.dir = station.store.root + "/outbox"
        store.makedirs(self.dir)
        for n in os.listdir(self.dir):
            if n.endswith(".tmp"):
                store.remove(self.dir + "/" + n)
        self.count = len(os.listdir(self.dir))
        c = station.store.load("eventid.json", {"next": 1})
        self.next_id = c["next"]
        self.reserved = self.next_id   # ids below this are reserved on storage
        self.wake = asyncio.Event()
        self.budget = min(PAGE_BYTES, station.board["max_message"] // 2)
        self.fails = 0          # CALLERRORs in a row for the head page
        self.dropped = 0
        self.sent = 0
        self.retry_ms = 1000    # first retry delay, doubling to 30 s
        station.session.listen(self._online)

    def _online(self, up):
        if up:
            self.wake.set()     # deliver what was queued while offline

    def _eid(self):
        if self.next_id >= self.reserved:
            # Persist a block ahead, so ids stay unique across a reboot with one
            # write per ID_BLOCK events rather than one per event.
            self.reserved = self.next_id + ID_BLOCK
            self.st.store.save("eventid.json", {"next": self.reserved})
        e = self.next_id
        self.next_id += 1
        return e

    # ---- building events -----------------------------------------------------

    def event(self, src, trigger, cleared, ts):
        """(eventData dict, severity) for a fired monitor or a faulty sensor."""
        if isinstance(src, tuple):
            v = src[mon.M_VAR]
            sev = mon.sev(src)
            ntype = mon.NOTIF[mon.origin(src)]
        else:
            v = src
            sev = HW_FAULT_SEVERITY
            ntype = "HardWiredNotification"
        d = {"eventId": 0, "timestamp": ts, "trigger": trigger, "eventNotificationType": ntype,
             "component": v.component, "variable": v.variable}
        if v.mutability == "WriteOnly":
            d["actualValue"] = ""
        else:
            lim = self.st.model.ctrl("DeviceDataCtrlr.ReportingValueSize")
            d["actualValue"] = dm.text(v.value)[:min(2500, lim)]
        if isinstance(src, tuple):
            d["variableMonitoringId"] = src[mon.M_ID]
            if mon.kind(src) <= mon.LOWER:
                d["cleared"] = cleared
            if mon.tx(src):
                e = v.component.get("evse")
                tx = self.st.monitors.tx.get(e["id"] if e else 0)
                if tx is None and self.st.monitors.tx:
                    for k in self.st.monitors.tx:
                        tx = self.st.monitors.tx[k]
                if tx is not None:
                    d["transactionId"] = tx
        else:
            d["cleared"] = cleared
            d["techCode"] = "SensorRecovered" if cleared else "SensorFault"
            if not cleared and getattr(v.sensor, "error", None):
                d["techInfo"] = v.sensor.error[:500]
        return d, sev

    def post(self, fired):
        """Queue what one tick found; they travel as one batch (seqNo/tbc)."""
        m = self.st.model
        if not m.ctrl("MonitoringCtrlr.Enabled"):
            return
        level = m.ctrl("MonitoringCtrlr.ActiveMonitoringLevel")
        offline_sev = m.ctrl("MonitoringCtrlr.OfflineQueuingSeverity")
        online = self.st.session.online
        ts = compat.iso()
        batch = None
        for src, trigger, cleared in fired:
            d, sev = self.event(src, trigger, cleared, ts)
            if sev > level:
                continue
            if not online and sev > offline_sev:
                self.st.log.write("offline: event of monitor %s (severity %d) not queued"
                                  % (d.get("variableMonitoringId", "-"), sev))
                continue
            d["eventId"] = self._eid()
            if batch is None:
                batch = d["eventId"]
            self._append(d, batch, sev)
        if batch is not None:
            self.wake.set()

    def _append(self, d, batch, sev):
        if self.count >= self.st.board["queue_size"]:
            victim = self._least_severe()
            if victim is None or int(victim[-6]) < sev:
                self.dropped += 1
                self.st.log.write("outbox full: dropped new event %d (severity %d)" % (d["eventId"], sev))
                return
            store.remove(self.dir + "/" + victim)
            self.count -= 1
            self.dropped += 1
            self.st.log.write("outbox full: dropped event %d (severity %s)" % (int(victim[:10]), victim[-6]))
        name = "%s/%010d_%010d_%d.json" % (self.dir, d["eventId"], batch, sev)
        with open(name + ".tmp", "w") as f:
            json.dump(d, f)
            store.sync(f)
        os.rename(name + ".tmp", name)
        self.count += 1
        self.st.log.write("event %d: %s %s %s=%s%s" % (
            d["eventId"], d["trigger"], d["eventNotificationType"],
            d.get("variableMonitoringId", d["variable"]["name"]), d["actualValue"][:40],
            " cleared" if d.get("cleared") else ""))

    def _least_severe(self):
        worst = None
        for n in sorted(os.listdir(self.dir)):
            if n.endswith(".json") and (worst is None or n[-6] > worst[-6]):
                worst = n
        return worst

    def pending(self):
        names = os.listdir(self.dir)
        i = 0
        for n in names:          # filtered and sorted in place: one list, not three
            if n.endswith(".json"):
                names[i] = n
                i += 1
        del names[i:]
        names.sort()
        return names

    # ---- delivery ------------------------------------------------------------

    def _page(self, names):
        """The events of the first batch in names that fit one message: (names, datas, more)."""
        batch = names[0][11:21]
        used = 120
        take = []
        datas = []
        more = False
        for n in names:
            if n[11:21] != batch:
                break
            p = self.dir + "/" + n
            try:
                size = os.stat(p)[6] + 1    # the file is the event's JSON text
                if take and used + size > self.budget:
                    more = True
                    break
                with open(p) as f:
                    d = json.load(f)
            except (OSError, ValueError):
                store.remove(p)   # unreadable: cannot be sent, never blocks
                self.count -= 1
                continue
            used += size
            take.append(n)
            datas.append(d)
        return take, datas, more

    async def run(self):
        """Drain the outbox while online: one NotifyEvent at a time, deleting after its answer."""
        seq = 0
        while True:
            if not self.st.session.online or self.count <= 0:
                self.wake.clear()
                await self.wake.wait()
                continue
            seq = await self._send_page(seq)

    async def _send_page(self, seq):
        """Send the next page of the outbox; return the next seqNo.

        A method of its own so that the page (names, event dicts, request)
        is garbage as soon as it returns: nothing is held while idle.
        """
        names = self.pending()
        self.count = len(names)
        if not names:
            return seq
        take, datas, more = self._page(names)
        names = None
        if not take:
            return seq
        req = {"generatedAt": compat.iso(), "seqNo": seq, "eventData": datas}
        if more:
            req["tbc"] = True
        try:
            await self.st.session.call("NotifyEvent", req)
        except Exception as e:
            from protocol import codec
            if isinstance(e, codec.CallError):
                self.fails += 1
                if self.fails > RETRIES:
                    for n in take:
                        store.remove(self.dir + "/" + n)
                    self.count -= len(take)
                    self.dropped += len(take)
                    self.st.log.write("NotifyEvent refused %d times (%s): events %s dropped"
                                      % (self.fails, e.code, ",".join(str(d["eventId"]) for d in datas)))
                    self.fails = 0
                    return 0
            self.st.log.write("NotifyEvent not delivered: %r" % e)
            req = datas = None
            await compat.sleep_ms(min(30000, self.retry_ms * (1 << min(self.fails, 5))))
            return seq
        self.fails = 0
        for n in take:
            store.remove(self.dir + "/" + n)
        self.count -= len(take)
        self.sent += len(take)
        return seq + 1 if more else 0
