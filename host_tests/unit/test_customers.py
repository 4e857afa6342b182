"""The customer-data store (N09/N10) in-process on both runtimes: lookup by each
reference kind, chunking by characters, bounds, persistence, seed-once, orphans."""
import os

from device.config import ConfigError
from diag import customers as cu
import stationkit as kit
import support

TOK = {"idToken": {"idToken": "RFID-AB12", "type": "ISO14443"}}
CID = {"customerIdentifier": "cust-7"}
CERT = {"customerCertificate": {"hashAlgorithm": "SHA256", "issuerNameHash": "ab01cd",
                                "issuerKeyHash": "ef23", "serialNumber": "0f1e"}}
# Non-ASCII of 2, 3 and 4 UTF-8 bytes, so blocks and pieces split inside characters.
TEXT = "Zoë paid €12 at Ürümqi 😀; "


def make(**kw):
    """A Station on storage of this module's own (MicroPython has no getpid to tell runs apart)."""
    return kit.make(storage=support.tmpdir("cust"), **kw)


def text(ref, st):
    return "".join(st.customers.chunks(ref))


def storage_has(root, needle):
    """Does any file under root (logs, temp files, index) contain needle?"""
    nb = needle.encode()
    for n in os.listdir(root):
        p = root + "/" + n
        try:
            with open(p, "rb") as f:
                if nb in f.read():
                    return True
        except OSError:
            if storage_has(p, needle):
                return True
    return False


def test_add_and_find_by_idtoken_identifier_and_certificate():
    st = make()
    c = st.customers
    c.add(TOK, "token data")
    c.add(CID, "identifier data")
    c.add(CERT, "certificate data")
    assert text(TOK, st) == "token data"
    assert text(CID, st) == "identifier data"
    assert text(CERT, st) == "certificate data"
    assert c.find(CID) == len("identifier data")
    assert c.find({"customerIdentifier": "cust-8"}) == 0
    # idToken: the type must match, the value is case-insensitive
    assert c.find({"idToken": {"idToken": "RFID-AB12", "type": "Central"}}) == 0
    assert c.find({"idToken": {"idToken": "rfid-ab12", "type": "ISO14443",
                               "additionalInfo": [{"additionalIdToken": "x", "type": "y"}]}}) == 10
    # certificate: hex case-insensitive, serial number without leading zeros, board alias "certificate"
    assert c.find({"certificate": {"hashAlgorithm": "SHA256", "issuerNameHash": "AB01CD",
                                   "issuerKeyHash": "EF23", "serialNumber": "F1E"}}) == 16
    other = dict(CERT["customerCertificate"])
    other["hashAlgorithm"] = "SHA384"
    assert c.find({"customerCertificate": other}) == 0


def test_records_of_one_customer_are_kept_in_order_and_joined():
    st = make()
    st.customers.add(CID, "first")
    st.customers.add(CID, "second")
    assert text(CID, st) == "first" + cu.SEP + "second"
    assert st.customers.find(CID) == 11
    assert st.customers.clear(CID) == 2
    assert st.customers.find(CID) == 0 and text(CID, st) == ""


def pieces_ok(st, ref, data, n):
    """Stream the pieces and compare them with data as they come: no list of pieces in RAM."""
    pos = count = 0
    last = n
    for p in st.customers.chunks(ref, n):
        assert last == n                 # only the final piece may be short
        last = len(p)
        assert 0 < last <= n and data[pos:pos + last] == p
        pos += last
        count += 1
    assert pos == len(data) and count == (len(data) + n - 1) // n


def test_pieces_count_characters_not_bytes_across_block_boundaries():
    """The record is read as text in blocks of _BLOCK (diag/customers.py) characters: none split, on both runtimes."""
    st = make()
    data = TEXT * 120            # ~3200 characters, ~3500 bytes
    st.customers.add(TOK, data)
    pieces_ok(st, TOK, data, 512)
    pieces_ok(st, TOK, data, 7)
    st.customers.add(CID, TEXT * 3)
    pieces_ok(st, CID, TEXT * 3, 1)


def test_bad_reference_or_empty_data_is_refused():
    st = make()
    for ref in ({}, {"customerIdentifier": "a", "idToken": {"idToken": "b", "type": "Local"}},
                {"idToken": {"idToken": "b"}}, {"customerIdentifier": ""}):
        support.raises(ValueError, st.customers.add, ref, "x")
    support.raises(ValueError, st.customers.add, CID, "")
    assert st.customers.used() == (0, 0)


def test_bounded_by_customer_records_and_customer_bytes():
    st = make(customer_records=2, customer_bytes=40)
    c = st.customers
    c.add(CID, "a" * 20)
    support.raises(cu.Full, c.add, TOK, "b" * 21)       # 41 bytes > 40
    c.add(TOK, "é" * 10)                                # 20 bytes: fits exactly
    support.raises(cu.Full, c.add, CERT, "c")           # a third record
    assert c.used() == (2, 40)
    assert text(CID, st) == "a" * 20 and text(TOK, st) == "é" * 10
    assert not [n for n in os.listdir(c.root) if n.endswith(".tmp")]


def test_persisted_across_restart_and_the_index_holds_no_reference_in_clear():
    st = make()
    st.customers.add(TOK, "secret data of the token")
    st.customers.add(CID, "more secret data")
    st2 = kit.again(st)
    assert text(TOK, st2) == "secret data of the token"
    assert text(CID, st2) == "more secret data"
    with open(st2.customers.root + "/index.json") as f:
        idx = f.read()
    assert "RFID-AB12" not in idx and "rfid-ab12" not in idx and "cust-7" not in idx


def test_seeded_once_from_the_board_and_a_cleared_record_stays_gone():
    seed = [{"idToken": {"idToken": "SEED-TOK", "type": "ISO14443"}, "data": "seed token data"},
            {"customerIdentifier": "seed-cust", "data": "seed customer data"},
            {"certificate": CERT["customerCertificate"], "data": "seed cert data"}]
    st = make(customers=seed)
    assert text(seed[0], st) == "seed token data"
    assert text(seed[2], st) == "seed cert data"
    assert st.customers.clear(seed[1]) == 1
    st2 = kit.again(st)
    assert st2.customers.find(seed[1]) == 0
    assert text(seed[0], st2) == "seed token data"
    assert st2.customers.used()[0] == 2
    root = st.store.root
    assert not storage_has(root, "seed customer data") and not storage_has(root, "seed-cust")
    assert storage_has(root, "seed token data")      # the grep itself works


def test_orphans_of_a_cut_add_or_clear_are_deleted_at_start():
    st = make()
    st.customers.add(CID, "kept")
    d = st.customers.root
    for name in ("r99.txt", "r98.txt.tmp"):
        with open(d + "/" + name, "w") as f:
            f.write("half written customer data")
    st2 = kit.again(st)
    assert sorted(n for n in os.listdir(d) if n.startswith("r")) == ["r1.txt"]
    assert text(CID, st2) == "kept"
    assert not storage_has(st.store.root, "half written customer data")


def test_board_errors_name_the_key():
    e = support.raises(ConfigError, kit.make, customers=[{"idToken": {"idToken": "x"}, "data": "d"}])
    assert e.key == "customers[0]"
    e = support.raises(ConfigError, kit.make, customers=[
        {"customerIdentifier": "a", "certificate": CERT["customerCertificate"], "data": "d"}])
    assert e.key == "customers[0]"
    e = support.raises(ConfigError, kit.make, customer_bytes=4, customers=[{"customerIdentifier": "a", "data": "12345"}])
    assert e.key == "customers"
    assert support.raises(ConfigError, kit.make, customer_records=0).key == "customer_records"
    assert support.raises(ConfigError, kit.make, customer_bytes="1k").key == "customer_bytes"
