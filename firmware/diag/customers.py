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
"""
import asyncio
import binascii
import hashlib
import os

import compat
from device.config import ConfigError
from drivers import store

CHUNK = 512          # NotifyCustomerInformation.data: at most 512 characters
BLOCK = 256          # bytes read from a record file at a time
MAX_JOBS = 4         # CustomerInformation requests queued at most; more are Rejected
RETRIES = 3
SEP = "\n"           # between two records of the same customer in a report
NONE = "No customer data found"
CLEARED = "Customer data cleared"
REFS = ("idToken", "customerIdentifier", "customerCertificate", "certificate")


class Full(Exception):
    """The store has no room (customer_records or customer_bytes) for a record."""


def _text(v, what):
    if not isinstance(v, str) or v == "":
        raise ValueError(what + " must be a non-empty string")
    return v


def canon(ref):
    """The one customer reference in `ref` as canonical bytes; ValueError when none, several or malformed.

    idToken: type and value, the value case-insensitive (OCPP IdTokenType);
    additionalInfo is ignored. Certificate: the hex fields case-insensitive,
    serialNumber without leading zeros.
    """
    n = 0
    for k in REFS:
        if ref.get(k) is not None:
            n += 1
    if n != 1:
        raise ValueError("no customer reference" if n == 0 else "more than one customer reference")
    t = ref.get("idToken")
    if t is not None:
        if not isinstance(t, dict):
            raise ValueError("idToken must be an object")
        return b"T\n" + _text(t.get("type"), "idToken.type").encode() + b"\n" + \
            _text(t.get("idToken"), "idToken.idToken").encode().lower()
    c = ref.get("customerIdentifier")
    if c is not None:
        return b"C\n" + _text(c, "customerIdentifier").encode()
    c = ref.get("customerCertificate")
    if c is None:
        c = ref.get("certificate")
    if not isinstance(c, dict):
        raise ValueError("certificate must be an object")
    sn = _text(c.get("serialNumber"), "serialNumber").encode().lower().lstrip(b"0") or b"0"
    return b"X\n" + _text(c.get("hashAlgorithm"), "hashAlgorithm").encode() + b"\n" + \
        _text(c.get("issuerNameHash"), "issuerNameHash").encode().lower() + b"\n" + \
        _text(c.get("issuerKeyHash"), "issuerKeyHash").encode().lower() + b"\n" + sn


def utf8_cut(b):
    """Length of the longest prefix of b that ends on a UTF-8 character boundary."""
    n = len(b)
    i = n - 1
    while i >= 0 and n - i <= 4 and (b[i] & 0xC0) == 0x80:
        i -= 1
    if i < 0:
        return 0
    c = b[i]
    need = 1 if c < 0x80 else 4 if c >= 0xF0 else 3 if c >= 0xE0 else 2
    return n if n - i >= need else i


def status(st, reason, info=None):
    r = {"status": st, "statusInfo": {"reasonCode": reason}}
    if info:
        r["statusInfo"]["additionalInfo"] = info
    return r


class Customers:
    """The customer-data store: station.customers. add/find/chunks/clear for integrating firmware."""

    def __init__(self, station):
        self.st = station
        self.dir = station.store.root + "/customers"
        self.fs = store.Store(self.dir)
        b = station.board
        self.max_bytes = b.get("customer_bytes", 65536)
        self.max_records = b.get("customer_records", 64)
        idx = self.fs.load("index.json")
        if not isinstance(idx, dict) or "salt" not in idx:
            idx = {"salt": binascii.hexlify(compat.urandom(8)).decode(), "seeded": 0, "next": 1, "recs": []}
            self.fs.save("index.json", idx)
        self.idx = idx
        self.salt = idx["salt"].encode()
        self.jobs = []        # [requestId, report, file numbers], the first one running
        self.task = None
        self._sweep()

    # ---- storage ------------------------------------------------------------

    def path(self, n):
        return "%s/r%d.txt" % (self.dir, n)

    def key(self, ref):
        return binascii.hexlify(hashlib.sha256(self.salt + canon(ref)).digest()).decode()[:20]

    def used(self):
        """(records, bytes) held."""
        t = 0
        for r in self.idx["recs"]:
            t += r[2]
        return len(self.idx["recs"]), t

    def _numbers(self, key):
        return [r[1] for r in self.idx["recs"] if r[0] == key]

    def _save(self):
        self.fs.save("index.json", self.idx)

    def _sweep(self):
        """Delete record files the index does not name (a cut add or clear)."""
        keep = [r[1] for r in self.idx["recs"]]
        gone = 0
        for name in os.listdir(self.dir):
            if name.startswith("r") and name.endswith(".txt"):
                try:
                    n = int(name[1:-4])
                except ValueError:
                    continue
                if n not in keep:
                    store.remove(self.dir + "/" + name)
                    gone += 1
        if gone:
            self.st.log.write("customer store: %d orphan record files deleted" % gone)

    def _drop(self, nums):
        """Delete the files of detached records that no queued job still has to read."""
        keep = [r[1] for r in self.idx["recs"]]
        for j in self.jobs:
            keep.extend(j[2])
        for n in nums:
            if n not in keep:
                store.remove(self.path(n))

    # ---- API ----------------------------------------------------------------

    def add(self, ref, data):
        """Store a record of free text for a customer (more records per customer are kept in order).

        ref: {"idToken": {"idToken", "type"}} or {"customerIdentifier": s} or
        {"customerCertificate" (or "certificate"): {hashAlgorithm, issuerNameHash,
        issuerKeyHash, serialNumber}}. Raises ValueError for a bad ref or empty
        data, Full when over customer_records or customer_bytes.
        """
        key = self.key(ref)
        _text(data, "data")
        recs, used = self.used()
        if recs >= self.max_records:
            self.st.log.write("customer store full: %d records" % recs)
            raise Full("customer_records")
        n = self.idx["next"]
        p = self.path(n)
        try:
            with open(p + ".tmp", "w", encoding="utf-8") as f:
                f.write(data)
                store.sync(f)
            size = os.stat(p + ".tmp")[6]
        except Exception:
            store.remove(p + ".tmp")
            raise
        if used + size > self.max_bytes:
            store.remove(p + ".tmp")
            self.st.log.write("customer store full: %d + %d bytes > %d" % (used, size, self.max_bytes))
            raise Full("customer_bytes")
        store.replace(p + ".tmp", p)
        self.idx["next"] = n + 1
        self.idx["recs"].append([key, n, size])
        self._save()
        self.st.log.write("customer record added: #%s, %d bytes" % (key[:6], size))

    def find(self, ref):
        """Bytes of data held for the customer (0: nothing)."""
        key = self.key(ref)
        t = 0
        for r in self.idx["recs"]:
            if r[0] == key:
                t += r[2]
        return t

    def chunks(self, ref, n=CHUNK):
        """The customer's data as pieces of n characters (the last may be shorter), records joined by SEP."""
        return self._pieces(self._numbers(self.key(ref)), n)

    def clear(self, ref):
        """Delete every record of the customer; returns how many there were."""
        key = self.key(ref)
        nums = self._detach(key)
        if nums:
            self._drop(nums)
            self.st.log.write("customer data cleared: #%s, %d records" % (key[:6], len(nums)))
        return len(nums)

    def _detach(self, key):
        """Take the customer's records out of the index (committed); their files stay for _drop."""
        nums = self._numbers(key)
        if nums:
            self.idx["recs"] = [r for r in self.idx["recs"] if r[0] != key]
            self._save()
        return nums

    def _pieces(self, nums, n):
        buf = ""
        first = True
        for num in nums:
            try:
                f = open(self.path(num), "rb")
            except OSError:
                continue
            with f:
                if not first:
                    buf += SEP
                first = False
                carry = b""
                while True:
                    b = f.read(BLOCK)
                    if not b:
                        break
                    if carry:
                        b = carry + b
                    k = utf8_cut(b)
                    carry = b[k:]
                    if k:
                        buf += b[:k].decode()
                    while len(buf) >= n:
                        yield buf[:n]
                        buf = buf[n:]
        if buf:
            yield buf

    # ---- CustomerInformation --------------------------------------------------

    def request(self, req):
        """CustomerInformation: Invalid without exactly one reference, Rejected when
        neither report nor clear is asked or MAX_JOBS wait; else Accepted and queued."""
        n = 0
        for k in REFS:
            if k in req:
                n += 1
        if n != 1:
            # 2.0.1 leaves two or more references unspecified (2.1: exactly one): Invalid.
            return status("Invalid", "NoReference" if n == 0 else "MultipleReferences",
                          "give exactly one of idToken, customerIdentifier, customerCertificate")
        try:
            key = self.key(req)
        except ValueError as e:
            return status("Invalid", "InvalidReference", str(e))
        report = req["report"]
        clear = req["clear"]
        if not report and not clear:
            return status("Rejected", "NothingRequested", "report and clear are both false")
        if len(self.jobs) >= MAX_JOBS:
            return status("Rejected", "Busy", "earlier CustomerInformation requests still running")
        nums = self._numbers(key)
        self.jobs.append([req["requestId"], report, nums])
        if clear:
            self._detach(key)     # committed now; the job reads the files, then drops them
        self.st.log.write("CustomerInformation %d: report=%d clear=%d #%s, %d records" % (
            req["requestId"], report, clear, key[:6], len(nums)))
        if self.task is None:
            self.task = asyncio.create_task(self._work())
        return {"status": "Accepted"}

    async def _work(self):
        try:
            while self.jobs:
                job = self.jobs[0]
                try:
                    await self._run(job)
                except Exception as e:
                    self.st.log.write("CustomerInformation %d failed: %s" % (job[0], type(e).__name__))
                self.jobs.pop(0)
                self._drop(job[2])
        finally:
            self.task = None

    async def _run(self, job):
        rid, report, nums = job[0], job[1], job[2]
        if not nums:
            texts = (NONE,)
        elif report:
            texts = self._pieces(nums, CHUNK)
        else:
            texts = (CLEARED,)
        seq = 0
        prev = None
        try:
            for t in texts:
                if prev is not None:
                    if not await self._notify(rid, seq, prev, True):
                        return
                    seq += 1
                prev = t
        finally:
            if report and nums:
                texts.close()  # closes the open record file before the job drops it
        if prev is None:       # every file vanished under us
            prev = NONE
        if await self._notify(rid, seq, prev, False):
            self.st.log.write("CustomerInformation %d: %d messages sent" % (rid, seq + 1))

    async def _notify(self, rid, seq, data, tbc):
        req = {"data": data, "seqNo": seq, "generatedAt": compat.iso(), "requestId": rid}
        if tbc:
            req["tbc"] = True
        s = self.st.session
        for attempt in range(RETRIES):
            try:
                await s.call("NotifyCustomerInformation", req)
                return True
            except Exception as e:
                self.st.log.write("NotifyCustomerInformation %d/%d failed: %s" % (rid, seq, type(e).__name__))
                if not s.online:
                    break
        return False


def attach(station):
    """station.customers, seeded once from the board's `customers`, and the CustomerInformation handler."""
    c = Customers(station)
    station.customers = c
    seed = station.board.get("customers") or []
    for i, item in enumerate(seed):
        try:
            canon(item)
        except ValueError as e:
            raise ConfigError("customers[%d]" % i, str(e))
    total = 0
    for item in seed:
        total += len(item["data"].encode())
    if len(seed) > c.max_records or total > c.max_bytes:
        raise ConfigError("customers", "%d records, %d bytes: more than customer_records or customer_bytes"
                          % (len(seed), total))
    # Once per storage: a record the CSMS cleared must not come back at the next
    # boot. "seeded" counts the board records applied; it is saved in the same
    # index write as each record, so a power cut mid-seed never adds one twice.
    done = c.idx.get("seeded") or 0
    if done is True:
        done = len(seed)
    added = 0
    for i in range(done, len(seed)):
        item = seed[i]
        c.idx["seeded"] = i + 1
        try:
            c.add(item, item["data"])
            added += 1
        except (Full, ValueError):
            c._save()
    if added:
        station.log.write("customer store seeded with %d of %d board records" % (added, len(seed) - done))
    station.session.on("CustomerInformation", c.request)
    return c
