"""N09/N10 customer information: a bounded, persistent customer-data store
and the CustomerInformation handler (report and/or clear).

Storage, <storage>/customers:
  index.json  {"salt", "seeded", "next", "recs": [[key, n, bytes], ...]} in
              insertion order; key is a salted SHA-256 of the customer
              reference, so the index never holds an idToken in clear.
  rN.txt      one record's free text (UTF-8), read in blocks, never whole.

A record is written to rN.txt.tmp and renamed before the index names it; a
clear rewrites the index first and then deletes the files. A file the index
does not name is an orphan and is deleted at start-up, so a power cut in the
middle of either leaves no half record and no cleared data behind.

Accepting a clear commits it: the records leave the index at once (a later
request no longer finds them), the report is then read from the detached
files, and the files are deleted when the job ends. Jobs run one at a time,
in order; a file still needed by a queued job outlives an API clear until
that job is done.

The log names a customer only by a 6-hex tag of the salted key, never by
its idToken, identifier or data.

Few functions on purpose: each costs .mpy bytes and ~150 B of RAM on import.
"""
import asyncio
import binascii
import hashlib
import os

import compat
from compat import const
from device.config import ConfigError
from drivers import store

_CHUNK = const(512)      # NotifyCustomerInformation.data: at most 512 characters
_BLOCK = const(512)      # characters read from a record file at a time, at most
_MAX_JOBS = const(4)     # CustomerInformation requests queued at most; more are Rejected
_RETRIES = const(3)
SEP = "\n"           # between two records of the same customer in a report
NONE = "No customer data found"
CLEARED = "Customer data cleared"

# The store has no room (customer_records or customer_bytes) for a record. Not a
# class of its own (a class costs code and heap); nothing else in add() raises it.
Full = OverflowError


class Customers(store.Store):
    """The customer-data store: station.customers, seeded once from the board's `customers`,
    and the CustomerInformation handler. add/find/chunks/clear for integrating firmware.

    A Store of its own folder (root). The index is read from storage at each use and
    written back at each change, not held: between requests the store keeps its salt."""

    task = None       # the job runner while jobs wait
    jobs = ()         # [requestId, report, file numbers], the first one running (a list while any)

    def __init__(self, station):
        store.Store.__init__(self, station.store.root + "/customers", station.log.write)
        self.st = station
        b = station.board
        seed = b["customers"]
        idx = self.idx()
        if not isinstance(idx, dict) or "salt" not in idx:
            # No index: a new store, to seed. An index there but unusable: its records cannot be
            # attributed and go (_drop), and the board's were seeded before; seeding them again
            # would bring back records the CSMS erased (N10).
            old = self.bad or idx is not None
            if old:
                station.log.write("customer index lost: not seeded again")
            idx = {"salt": binascii.hexlify(compat.urandom(8)).decode(), "seeded": len(seed) if old else 0,
                   "next": 1, "recs": []}
            self.save("index.json", idx)
        self.salt = idx["salt"].encode()
        self._drop(None)
        station.customers = self
        # The board's `customers`, checked whole first so that a bad board fails every boot.
        total = 0
        for i in range(len(seed)):
            item = seed[i]
            try:
                self.key(item)
            except ValueError as e:
                raise ConfigError("customers[%d]" % i, str(e))
            total += len(item["data"].encode())
        if len(seed) > b["customer_records"] or total > b["customer_bytes"]:    # device/checks.py: defaults
            raise ConfigError("customers", "over customer_records or customer_bytes")
        # Seeded once per storage: a record the CSMS cleared must not come back at the
        # next boot. "seeded" counts the board records applied; it is saved in the same
        # index write as each record, so a power cut mid-seed never adds one twice.
        done = idx.get("seeded") or 0
        if done is True:
            done = len(seed)
        idx = None
        for i in range(done, len(seed)):
            try:
                self.add(seed[i], seed[i]["data"], i + 1)
            except Full:
                idx = self.idx()
                idx["seeded"] = i + 1
                self.save("index.json", idx)
                station.log.write("customer store full: board record %d not added" % i)
        station.session.on("CustomerInformation", self.request)

    def idx(self):
        """The index, {"salt", "seeded", "next", "recs"}, as on storage."""
        return self.load("index.json")

    def path(self, n):
        return "%s/r%d.txt" % (self.root, n)

    def key(self, ref):
        """The salted hash of the one customer reference in ref; ValueError when none, several or malformed.

        Hashed: idToken type and value, the value case-insensitive (additionalInfo
        ignored); a certificate's hex fields case-insensitive, serialNumber
        without leading zeros.
        """
        g = ref.get
        n = (g("idToken") is not None) + (g("customerIdentifier") is not None) + \
            (g("customerCertificate") is not None) + (g("certificate") is not None)
        if n != 1:
            raise ValueError("NoReference" if n == 0 else "MultipleReferences")   # request()'s reasonCodes
        o = g("idToken")
        c = g("customerCertificate") or g("certificate")
        try:
            if o is not None:
                parts = ["T", o.get("type"), o.get("idToken")]
            elif c is not None:
                parts = ["X", c.get("hashAlgorithm"), c.get("issuerNameHash"), c.get("issuerKeyHash"),
                         c.get("serialNumber")]
            else:
                parts = ["C", g("customerIdentifier")]
        except AttributeError:    # not an object
            parts = [0, 0]
        for i in range(1, len(parts)):
            v = parts[i]
            if not isinstance(v, str) or v == "":
                raise ValueError("InvalidReference")
            if i > 1:     # the first field (type, customerIdentifier, hashAlgorithm) keeps its case
                v = v.encode().lower().decode()     # ASCII only, as on MicroPython
            if i == 4:
                v = v.lstrip("0") or "0"
            parts[i] = v
        out = SEP.join(parts).encode()
        return binascii.hexlify(hashlib.sha256(self.salt + out).digest()).decode()[:20]

    def _scan(self, key, cut=False, idx=None):
        """(record numbers, bytes) of the customer with this key, of every record for None;
        cut: take them out of the index (committed), their files stay for _drop."""
        idx = idx or self.idx()
        nums = []
        kept = []
        t = 0
        for r in idx["recs"]:
            if key is None or r[0] == key:
                nums.append(r[1])
                t += r[2]
            elif cut:
                kept.append(r)
        if cut and nums:
            idx["recs"] = kept
            self.save("index.json", idx)
        return nums, t

    def _drop(self, nums):
        """Delete the files of nums (None: every rN.txt, the orphans of a cut add or clear)
        that neither the index nor a queued job still names."""
        keep = self._scan(None)[0]
        for j in self.jobs:
            keep += j[2]
        if nums is None:
            nums = []
            for name in os.listdir(self.root):
                if name[0] == "r" and name.endswith(".txt"):
                    try:
                        nums.append(int(name[1:-4]))
                    except ValueError:
                        pass
        for n in nums:
            if n not in keep:
                store.remove(self.path(n))

    # ---- API ----------------------------------------------------------------

    def used(self):
        """(records, bytes) held."""
        n, t = self._scan(None)
        return len(n), t

    def add(self, ref, data, seeded=None):
        """Store a record of free text for a customer (more records per customer are kept in order).

        ref: {"idToken": {"idToken", "type"}} or {"customerIdentifier": s} or
        {"customerCertificate" (or "certificate"): {hashAlgorithm, issuerNameHash,
        issuerKeyHash, serialNumber}}. Raises ValueError for a bad ref or empty
        data, Full when over customer_records or customer_bytes. `seeded`: the
        board records applied with this one, saved in the same index write.
        """
        key = self.key(ref)
        if not isinstance(data, str) or data == "":
            raise ValueError("data")
        idx = self.idx()
        recs, used = self._scan(None, False, idx)
        n = idx["next"]
        p = self.path(n)
        tmp = p + ".tmp"
        # A write that fails leaves tmp behind: the next add overwrites it, a restart sweeps it.
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(data)
            store.sync(f)
        size = os.stat(tmp)[6]
        b = self.st.board
        if len(recs) >= b["customer_records"] or used + size > b["customer_bytes"]:
            store.remove(tmp)
            raise Full()
        store.replace(tmp, p)
        idx["next"] = n + 1
        idx["recs"].append([key, n, size])
        if seeded:
            idx["seeded"] = seeded
        self.save("index.json", idx)
        self.st.log.write("customer #%s: %d bytes added" % (key[:6], size))

    def find(self, ref):
        """Bytes of data held for the customer (0: nothing)."""
        return self._scan(self.key(ref))[1]

    def chunks(self, ref, n=_CHUNK):
        """The customer's data as pieces of n characters (the last may be shorter), records joined by SEP."""
        return self._pieces(self._scan(self.key(ref))[0], n)

    def clear(self, ref):
        """Delete every record of the customer; returns how many there were."""
        key = self.key(ref)
        nums = self._scan(key, True)[0]
        self._drop(nums)
        self.st.log.write("customer #%s: %d records cleared" % (key[:6], len(nums)))
        return len(nums)

    def _pieces(self, nums, n, empty=None):
        """Pieces of n characters of the records' text (records joined by SEP), the last
        shorter; `empty` alone when there is no text. A piece is read whole where it can
        be, one string rather than blocks joined and a buffer sliced."""
        buf = sep = ""
        sent = False
        for num in nums:
            try:
                f = open(self.path(num), encoding="utf-8")
            except OSError:
                continue
            with f:
                buf += sep
                sep = SEP
                while True:
                    if len(buf) >= n:
                        sent = True
                        yield buf
                        buf = ""
                    b = f.read(min(_BLOCK, n - len(buf)))     # characters, never a split one (MicroPython too)
                    if not b:
                        break
                    buf = buf + b if buf else b
        if buf:
            yield buf
        elif empty and not sent:
            yield empty

    # ---- CustomerInformation --------------------------------------------------

    def request(self, req):
        """CustomerInformation: Invalid without exactly one valid reference (2.0.1 leaves
        two or more unspecified, 2.1 asks for one), Rejected when neither report nor
        clear is asked or _MAX_JOBS wait; else Accepted and queued."""
        report = req["report"]
        clear = req["clear"]
        st = "Rejected"
        why = "Busy" if len(self.jobs) >= _MAX_JOBS else None
        if not report and not clear:
            why = "NothingRequested"
        try:
            key = self.key(req)
        except ValueError as e:
            st = "Invalid"
            why = str(e)
        if why:
            return {"status": st, "statusInfo": {"reasonCode": why}}
        # A clear is committed now; the job reads the files, then drops them.
        nums = self._scan(key, clear)[0]
        if not self.jobs:
            self.jobs = []
        self.jobs.append((req["requestId"], report, nums))
        self.st.log.write("CustomerInformation %d #%s: %d records, report %d clear %d" % (
            req["requestId"], key[:6], len(nums), report, clear))
        if self.task is None:
            self.task = asyncio.create_task(self._work())
        return {"status": "Accepted"}

    async def _work(self):
        """Run the jobs in order: NotifyCustomerInformation parts, counted first (for tbc:
        one part in RAM at a time, not the next one read ahead), _RETRIES tries each; then
        delete the files of what was cleared."""
        s = self.st.session
        log = self.st.log.write
        try:
            while self.jobs:
                rid, report, nums = self.jobs[0]
                have = nums if report else ()
                empty = NONE if report or not nums else CLEARED
                k = 0
                for t in self._pieces(have, _CHUNK, empty):
                    k += 1
                texts = self._pieces(have, _CHUNK, empty)
                seq = 0
                r = "done"
                try:
                    for t in texts:
                        req = {"data": t, "seqNo": seq, "generatedAt": compat.iso(), "requestId": rid}
                        t = None
                        if seq < k - 1:
                            req["tbc"] = True
                        for i in range(_RETRIES):
                            try:
                                await s.call("NotifyCustomerInformation", req)
                                break
                            except Exception:
                                if i == _RETRIES - 1 or not s.online:
                                    raise
                        req = None
                        seq += 1
                except Exception as e:
                    r = type(e).__name__
                finally:
                    texts.close()   # closes an open record file before the job drops it
                log("CustomerInformation %d: %d parts sent, %s" % (rid, seq, r))
                self.jobs.pop(0)
                self._drop(nums)
        finally:
            self.task = None
            if not self.jobs:
                self.jobs = ()    # no list kept between requests


attach = Customers     # station.py: customers.attach(station)
