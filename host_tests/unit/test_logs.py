"""The log rings and the pure parts of log upload (N01), on both runtimes:
bounds, snapshots, windows, remoteLocation parsing."""
import os

import compat
from diag import logs, logupload as lu
from drivers import upload
import support
from test_logs_upload import snapshot

T0 = 1577836800   # 2020-01-01T00:00:00Z


def ring(max_bytes=4096, files=4):
    return logs.LogRing(support.tmpdir("logs"), "diagnostics", max_bytes, files)


def stamp(t):
    return compat.iso(t)


def fill(r, t0, n, text="entry"):
    """n lines one second apart from t0, written straight into the newest segment."""
    with open(r.path(r.cur), "a") as f:
        for i in range(n):
            f.write("%s %s %d\n" % (stamp(t0 + i), text, i))


def raw(r):
    out = b""
    for n in r.segments():
        with open(r.path(n), "rb") as f:
            out += f.read()
    return out


def win(lo=None, hi=None):
    """A window as GetLog makes it: the bytes a line starts with (None: open)."""
    return [None if t is None else stamp(t)[:19].encode() for t in (lo, hi)]


def joined(r, snap, lo=None, hi=None):
    out = b""
    for p in lu.chunks(r, snap, win(lo, hi), 100):
        out += bytes(p)
    return out


def test_ring_stays_within_its_byte_bound_with_utc_stamps():
    r = ring(4096, 4)
    for i in range(400):
        r.write("line %d with some text" % i)
    segs = r.segments()
    assert len(segs) <= 4
    total = sum(os.stat(r.path(n))[6] for n in segs)
    assert total <= 4096
    last = raw(r).split(b"\n")[-2]
    assert last.endswith(b"line 399 with some text")
    assert compat.parse_iso(last[:24].decode()) is not None and last[23:24] == b"Z"


def test_ring_counts_bytes_and_clips_long_lines_without_splitting_a_character():
    # Log lines echo CSMS text (an unknown action's name): the size check
    # counted characters and a line longer than a segment went in whole, so
    # a ring of 8192 bytes reached 48288 on disk. Now every segment stays
    # within bytes / files, and a line over logs.LINE bytes is clipped where
    # a character ends and ends with "...".
    r = ring(8192, 4)
    for i in range(24):
        c = ("\u20ac", "\u00e9", "\U0001f600", "A")[i % 4]
        r.write("x" * (i % 3) + c * 3000)        # 3000 to 12000 bytes
        r.write("short %d \u20ac" % i)
        assert r.size == os.stat(r.path(r.cur))[6]
    sizes = [os.stat(r.path(n))[6] for n in r.segments()]
    print("segment bytes:", sizes)
    assert max(sizes) <= r.seg_bytes == 2048 and sum(sizes) <= 8192, sizes
    data = raw(r)
    lines = data.split(b"\n")[:-1]
    assert all(compat.parse_iso(ln[:24].decode()) is not None for ln in lines)
    long = [ln.decode() for ln in lines if b" short " not in ln]
    assert len(long) >= 3 and lines[-1].decode().endswith(" short 23 \u20ac")
    for ln in long:     # decodes: no character split; 0-3 bytes short of the bound, "\n" included
        assert ln.endswith("...") and logs.LINE - 3 <= len(ln.encode()) + 1 <= logs.LINE, len(ln.encode())
    # What an upload reads is the files' bytes, whole or by window.
    snap = snapshot(r)
    assert joined(r, snap) == data
    t = compat.parse_iso(lines[0][:24].decode())
    assert joined(r, snap, t - 1, t + 3600) == data
    assert [ln for t, ln in r.lines()] == [ln.decode() + "\n" for ln in lines]
    # A segment smaller than a line's bound clips at the segment.
    r = ring(1024, 2)
    r.write("\u20ac" * 400)
    assert os.stat(r.path(r.cur))[6] == r.size <= r.seg_bytes == 512


def test_hold_keeps_one_more_segment_while_an_upload_reads():
    r = ring(2048, 4)
    r.hold()
    for i in range(300):
        r.write("held %d" % i)
    assert len(r.segments()) == 5
    r.release()
    for i in range(60):
        r.write("free %d" % i)
    assert len(r.segments()) == 4


def test_snapshot_reads_exactly_what_was_there_when_taken():
    r = ring(65536)
    for i in range(30):
        r.write("before %d" % i)
    before = raw(r)
    snap = snapshot(r)
    for i in range(10):
        r.write("after %d" % i)
    assert joined(r, snap) == before
    assert sum(s for _, s in snap) == len(before)


def test_window_selects_stamped_lines_and_marks_scan_points():
    r = ring(1 << 20)
    fill(r, T0, 200)
    with open(r.path(r.cur), "a") as f:
        f.write("no stamp here\n")
    fill(r, T0 + 200, 5)
    snap = snapshot(r)
    got = joined(r, snap, T0 + 10, T0 + 19)
    lines = got.split(b"\n")[:-1]
    assert len(lines) == 10
    assert lines[0].startswith(stamp(T0 + 10).encode()) and lines[0].endswith(b"entry 10")
    assert lines[-1].endswith(b"entry 19")
    # Scanning 190 lines outside the window hands back empty pieces to yield on.
    pieces = [bytes(p) for p in lu.chunks(r, snap, win(T0 + 10, T0 + 19), 100)]
    assert pieces.count(b"") >= 2
    # Lines go out in full buffers: a piece is only shorter at the end.
    full = [p for p in pieces if p]
    assert all(len(p) == 100 for p in full[:-1]) and b"".join(full) == got
    assert joined(r, snap, None, T0 + 2).count(b"\n") == 3
    assert joined(r, snap, T0 + 203, None).count(b"\n") == 2


def test_a_vanished_segment_fails_the_read():
    r = ring(2048, 4)
    for i in range(100):
        r.write("x %d" % i)
    snap = snapshot(r)
    os.remove(r.path(snap[0][0]))
    support.raises(OSError, joined, r, snap)


# ---- remoteLocation -----------------------------------------------------------------

F = "CS-1-DiagnosticsLog-20200101T000000Z.log"


def test_location_parsing_with_credentials_port_and_escapes():
    u = upload.parse("HTTPS://us%40er:p%3Ass@logs.example:8443/up/load?x=1#frag", F)
    assert u == ("https", "logs.example", 8443, "us@er", "p:ss", "/up/load?x=1", "/up/load?x=1",
                 "logs.example:8443")
    u = upload.parse("ftp://[::1]/logs/", F)
    assert u == ("ftp", "::1", 21, None, "", "/logs/", "logs/" + F, "[::1]")
    u = upload.parse("ftp://u:p@[::1]:2121/a%20b/x.log", F)
    assert u[1:5] == ("::1", 2121, "u", "p") and u[6:] == ("a b/x.log", "[::1]:2121")
    u = upload.parse("http://h", F)
    assert u[2:] == (80, None, "", "/", "/" + F, "h")
    assert upload.parse("http://a:b:c@h:81/", F)[3:5] == ("a", "b:c")


def test_bad_locations_are_BadMessage_and_other_schemes_NotSupportedOperation():
    for url in ("not a url", "logs.example/up", "http://", "http://:80/x", "http://h:99999/",
                "http://h:8x/", "http://h/a b", "http://[::1/x", "http://[::1]x/", "http://u:%zz@h/", "://h/x",
                "ftp://h/x%0D%0ADELE%20y", "ftp://u%0A:p@h/", "http://h/x%4", "http://h/x%", "https",
                "http:/h/x"):
        e = support.raises(upload.Fail, upload.parse, url, F)
        assert e.args == ("BadMessage", "bad URL"), url
    for url in ("sftp://h/x", "file:///tmp/x", "tftp://h/x", "ftps://h/x"):
        e = support.raises(upload.Fail, upload.parse, url, F)
        assert e.args == ("NotSupportedOperation", url[:url.find(":")]), url
    # The reason is logged: text before a "://" that is no scheme never goes in it.
    e = support.raises(upload.Fail, upload.parse, "https//u:S3cret@h/x?next=http://a", F)
    assert e.args == ("BadMessage", "bad URL")


def test_a_folder_location_gets_the_file_name():
    assert upload.parse("http://h/logs/", F)[6] == "/logs/" + F
    assert upload.parse("http://h/logs/?k=v", F)[6] == "/logs/" + F + "?k=v"
    assert upload.parse("http://h/x.log", F)[6] == "/x.log"
    assert upload.parse("http://h/logs/?k=v", F)[5] == "/logs/?k=v"    # what a POST goes to
