"""compat: the clock and time formats both runtimes share."""
import compat


def test_iso_formats_utc_with_milliseconds():
    assert compat.iso(0) == "1970-01-01T00:00:00.000Z"
    assert compat.iso(1795600800) == "2026-11-25T10:00:00.000Z"


def test_parse_iso_roundtrip_and_offsets():
    assert compat.parse_iso("2026-11-25T10:00:00.000Z") == 1795600800
    assert compat.parse_iso("2026-11-25T10:00:00Z") == 1795600800
    assert compat.parse_iso("2026-11-25T11:30:00+01:30") == 1795600800
    assert compat.parse_iso("2024-02-29T00:00:00Z") == 1709164800


def test_parse_iso_rejects_malformed():
    for s in ("", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-25 10:00:00",
              "2026-11-25T10:00:00", "2026-11-25T10:00:00.Z", "yesterday", "2026-11-25T25:00:00Z"):
        assert compat.parse_iso(s) is None, s


def test_set_time_steers_now():
    compat.set_time(2000000000)
    assert abs(compat.now() - 2000000000) <= 1
    compat.set_time(1795600800)
    assert abs(compat.now() - 1795600800) <= 1


def test_ticks_wrap():
    assert compat.ticks_diff(compat.ticks_add(5, 10), 5) == 10
    big = (1 << 30) - 3
    assert compat.ticks_diff(compat.ticks_add(big, 10), big) == 10
