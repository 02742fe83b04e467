"""Session recordings: round trip, power cuts at every byte, resync over damage, durability."""

from __future__ import annotations

import os
import stat
import tempfile
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.codec import Decoder, Encoder, Frame
from firmware_bridge.errors import RecordingError
from firmware_bridge.protocol import DeviceInfo, Site, accel_span
from firmware_bridge.recording import (
    FILE_HEADER_SIZE,
    RECORD_SYNC,
    Notification,
    Record,
    SessionWriter,
    read_session,
)
from firmware_bridge.source import LinkEvent

START = datetime(2026, 11, 26, 22, 30, 0, 123456, tzinfo=UTC)
END_RECORD_SIZE = 8 + 16 + 4


class FakeClock:
    """Monotonic and wall clocks that move only when told."""

    def __init__(self) -> None:
        self.mono = 100.0
        self.wall = 1_795_000_000.0

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


def write_small_session(path: Path, clock: FakeClock, rng: np.random.Generator) -> list[Record]:
    """A session with every link event kind and notifications of several sizes."""
    with SessionWriter(
        path, session_start=START, monotonic=clock.monotonic, wall=clock.time
    ) as writer:
        writer.link_event("connected", address="C0:FF:EE:00:00:01", name="crampwatch-L")
        writer.link_event("mtu", att_mtu=247)
        writer.link_event("device_info", data=b"\x01\x02\xe8\x03", leg="left")
        for i, size in enumerate((20, 0, 184, 1, 244)):
            clock.advance(0.04)
            writer.notification(rng.bytes(size), clock.mono - 0.01 * i)
        writer.link_event("battery", percent=87)
        writer.link_event("rssi", dbm=-71, extra=None, ok=True, ratio=0.5, seq=[1, 2])
        clock.advance(1.0)
        writer.link_event("disconnected", reason="timeout")
    with read_session(path) as reader:
        return list(reader)


def record_ends(path: Path, records: list[Record]) -> list[int]:
    """File offset just after each record (the next record's offset)."""
    size = path.stat().st_size
    return [r.offset for r in records[1:]] + [size - END_RECORD_SIZE]


def test_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    clock = FakeClock()
    path = tmp_path / "night.cws"
    records = write_small_session(path, clock, np.random.default_rng(1))
    payloads = np.random.default_rng(1)
    assert [type(r).__name__ for r in records] == ["LinkEvent"] * 3 + ["Notification"] * 5 + [
        "LinkEvent"
    ] * 3
    link = [r for r in records if isinstance(r, LinkEvent)]
    assert [e.kind for e in link] == [
        "connected", "mtu", "device_info", "battery", "rssi", "disconnected",
    ]  # fmt: skip
    assert link[0].fields == {"address": "C0:FF:EE:00:00:01", "name": "crampwatch-L"}
    assert link[2].fields == {"data": b"\x01\x02\xe8\x03", "leg": "left"}
    assert link[4].fields == {"dbm": -71, "extra": None, "ok": True, "ratio": 0.5, "seq": [1, 2]}
    notes = [r for r in records if isinstance(r, Notification)]
    assert [n.data for n in notes] == [payloads.bytes(s) for s in (20, 0, 184, 1, 244)]
    # t_mono as given; t_wall = wall clock at write minus the queueing delay.
    for i, n in enumerate(notes):
        mono_at_write = 100.0 + 0.04 * (i + 1)
        assert n.t_mono == pytest.approx(mono_at_write - 0.01 * i)
        assert n.t_wall == pytest.approx(1_795_000_000.0 + 0.04 * (i + 1) - 0.01 * i, abs=1e-6)
    assert link[-1].t_mono == pytest.approx(100.0 + 0.2 + 1.0)

    reader = read_session(path)
    assert reader.info.session_start == START
    assert reader.info.format_version == 1
    list(reader)
    report = reader.report()
    assert report.clean_end
    assert (report.records, report.notifications, report.link_events) == (11, 5, 6)
    assert (report.corrupt_records, report.skipped_bytes, report.truncated_tail_bytes) == (0, 0, 0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_session_start_keeps_the_instant_of_any_timezone(tmp_path: Path) -> None:
    local = START.astimezone(timezone(timedelta(hours=-5)))
    SessionWriter(tmp_path / "s", session_start=local).close()
    assert read_session(tmp_path / "s").info.session_start == START


def test_cut_at_every_byte_reads_up_to_the_cut(tmp_path: Path) -> None:
    path = tmp_path / "full.cws"
    records = write_small_session(path, FakeClock(), np.random.default_rng(2))
    ends = record_ends(path, records)
    data = path.read_bytes()
    cut = tmp_path / "cut.cws"
    for k in range(len(data) + 1):
        cut.write_bytes(data[:k])
        if k < FILE_HEADER_SIZE:
            with pytest.raises(RecordingError, match=r"cut inside|not a crampwatch"):
                read_session(cut)
            continue
        reader = read_session(cut)
        got = list(reader)
        complete = [r for r, end in zip(records, ends, strict=True) if end <= k]
        assert got == complete, k
        last_end = max([FILE_HEADER_SIZE] + [e for e in ends if e <= k])
        report = reader.report()
        if k == len(data):
            assert report.clean_end and report.truncated_tail_bytes == 0
        elif k >= len(data) - END_RECORD_SIZE:
            assert report.truncated_tail_bytes == k - (len(data) - END_RECORD_SIZE)
        else:
            assert report.truncated_tail_bytes == k - last_end, k
            assert not report.clean_end
        assert (report.corrupt_records, report.skipped_bytes) == (0, 0)


def test_random_cuts_of_a_bigger_file(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "big.cws"
    clock = FakeClock()
    with SessionWriter(path, session_start=START, monotonic=clock.monotonic) as w:
        for i in range(3000):
            clock.advance(0.04)
            w.notification(rng.bytes(int(rng.integers(12, 245))), clock.mono)
            if i % 500 == 0:
                w.link_event("rssi", dbm=int(rng.integers(-90, -40)))
    records = list(read_session(path))
    ends = record_ends(path, records)
    data = path.read_bytes()
    assert len(data) > 400_000
    cut = tmp_path / "cut.cws"
    for k in rng.integers(FILE_HEADER_SIZE, len(data) - END_RECORD_SIZE, size=60):
        cut.write_bytes(data[:k])
        reader = read_session(cut)
        n = sum(1 for _ in reader)
        expected = sum(1 for e in ends if e <= k)
        assert n == expected
        last_end = max([FILE_HEADER_SIZE] + [e for e in ends if e <= k])
        assert reader.report().truncated_tail_bytes == k - last_end


@pytest.mark.parametrize(
    "damage",
    ["flip_payload", "flip_length", "flip_sync", "huge_length", "fake_sync_inside", "zeros"],
)
def test_corrupt_middle_record_resyncs(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "s.cws"
    records = write_small_session(path, FakeClock(), np.random.default_rng(3))
    ends = record_ends(path, records)
    data = bytearray(path.read_bytes())
    victim = 5  # the 184-byte notification in the middle
    at, end = records[victim].offset, ends[victim]
    if damage == "flip_payload":
        data[at + 40] ^= 0x10
    elif damage == "flip_length":
        data[at + 4] ^= 0x01
    elif damage == "flip_sync":
        data[at] ^= 0xFF
    elif damage == "huge_length":
        data[at + 4 : at + 8] = (60000).to_bytes(4, "little")
    elif damage == "fake_sync_inside":
        data[at + 30 : at + 38] = RECORD_SYNC + bytes([1, 0, 5, 0, 0, 0])
    else:
        data[at:end] = bytes(end - at)
    path.write_bytes(bytes(data))
    reader = read_session(path)
    got = list(reader)
    assert got == records[:victim] + records[victim + 1 :]
    report = reader.report()
    assert report.corrupt_records == 1
    assert report.skipped_bytes == end - at
    assert report.truncated_tail_bytes == 0 and report.clean_end


def test_garbage_between_records_and_zero_tail(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "s.cws"
    records = write_small_session(path, FakeClock(), np.random.default_rng(4))
    ends = record_ends(path, records)
    data = path.read_bytes()
    junk = RECORD_SYNC + rng.bytes(50) + RECORD_SYNC + b"\x01\x00\xff"
    spliced = data[: ends[3]] + junk + data[ends[3] : -END_RECORD_SIZE] + bytes(4096)
    path.write_bytes(spliced)
    reader = read_session(path)
    assert list(reader) == records
    report = reader.report()
    assert (report.corrupt_records, report.skipped_bytes) == (1, len(junk))
    assert report.truncated_tail_bytes == 4096 and not report.clean_end


def session_header() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s"
        SessionWriter(path, session_start=START).close()
        return path.read_bytes()[:FILE_HEADER_SIZE]


HEADER = session_header()


@settings(max_examples=150, deadline=None)
@given(tail=st.binary(max_size=2000))
def test_any_bytes_after_the_header_never_raise(tail: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.cws"
        path.write_bytes(HEADER + tail)
        reader = read_session(path)
        got = list(reader)
    report = reader.report()
    assert report.records == len(got)
    assert report.skipped_bytes + report.truncated_tail_bytes <= len(tail)


def test_readable_while_the_writer_is_open(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "live.cws"
    writer = SessionWriter(path, session_start=START, monotonic=clock.monotonic)
    writer.notification(b"\x01" * 30, clock.mono)
    reader = read_session(path)
    assert [r.data for r in reader if isinstance(r, Notification)] == [b"\x01" * 30]
    assert not reader.report().clean_end and reader.report().truncated_tail_bytes == 0
    writer.close()
    writer.close()  # idempotent


def test_fsync_at_least_every_interval_and_on_link_events(tmp_path: Path) -> None:
    clock = FakeClock()
    writer = SessionWriter(
        tmp_path / "s", session_start=START, monotonic=clock.monotonic, flush_interval_s=2.0
    )
    base = writer.statistics().fsyncs  # the header is synced at creation
    assert base == 1
    for _ in range(100):  # 4 s of notifications at 25/s
        clock.advance(0.04)
        writer.notification(b"x" * 20, clock.mono)
    assert writer.statistics().fsyncs - base == 2  # at 2.0 s and at 4.0 s
    writer.link_event("disconnected")
    assert writer.statistics().fsyncs - base == 3
    writer.flush()  # nothing new since the last fsync
    assert writer.statistics().fsyncs - base == 3
    writer.close()
    stats = writer.statistics()
    assert (stats.records, stats.notifications, stats.link_events) == (102, 100, 1)
    assert stats.bytes_written == (tmp_path / "s").stat().st_size


def test_never_overwrites_and_rejects_misuse(tmp_path: Path) -> None:
    path = tmp_path / "s"
    writer = SessionWriter(path, session_start=START)
    with pytest.raises(RecordingError, match="cannot create"):
        SessionWriter(path, session_start=START)
    with pytest.raises(ValueError, match="JSON"):
        writer.link_event("rssi", dbm=object())
    with pytest.raises(ValueError, match="JSON"):
        writer.link_event("rssi", dbm=float("nan"))
    with pytest.raises(ValueError, match="kind"):
        writer.link_event("Bad Kind")
    with pytest.raises(ValueError, match="finite"):
        writer.notification(b"", float("inf"))
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.notification(b"", 0.0)
    with pytest.raises(ValueError, match="timezone-aware"):
        SessionWriter(tmp_path / "t", session_start=datetime(2026, 1, 1))
    assert list(read_session(path)) == []


@pytest.mark.parametrize("where", ["magic", "crc", "version", "empty", "missing"])
def test_unusable_header_is_one_recording_error(tmp_path: Path, where: str) -> None:
    path = tmp_path / "s"
    SessionWriter(path, session_start=START).close()
    data = bytearray(path.read_bytes())
    if where == "magic":
        data[1] = ord("X")
    elif where == "crc":
        data[15] ^= 1
    elif where == "version":
        data[8] = 9
        data[20:24] = zlib.crc32(data[:20]).to_bytes(4, "little")
    elif where == "empty":
        data = bytearray()
    path.write_bytes(bytes(data))
    if where == "missing":
        path.unlink()
    with pytest.raises(RecordingError) as info:
        read_session(path)
    assert info.value.path == str(path)


def test_recorded_notifications_replay_through_the_codec(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    info = DeviceInfo(
        emg_rate_hz=1000,
        accel_rate_hz=50,
        emg_sites=(Site.GASTROCNEMIUS_MEDIAL, Site.SOLEUS),
        emg_uv_per_lsb=0.5,
        accel_g_per_lsb=1 / 8192,
    )
    enc, live = Encoder(info), Decoder(info)
    clock = FakeClock()
    path = tmp_path / "s"
    with SessionWriter(path, session_start=START, monotonic=clock.monotonic) as w:
        w.link_event("device_info", data=info.to_bytes())
        for i in range(200):
            _, m = accel_span(info, 40 * i, 40)
            emg = rng.integers(-32768, 32768, size=(2, 40))
            packet = enc.encode(emg, rng.integers(-32768, 32768, size=(3, m)), 40 * i)
            clock.advance(0.04)
            w.notification(packet, clock.mono)
            live.feed(packet)
    records = list(read_session(path))
    assert isinstance(records[0], LinkEvent)
    replay = Decoder(DeviceInfo.from_bytes(records[0].fields["data"]))
    for r in records[1:]:
        assert isinstance(r, Notification)
        replay.feed(r.data)
    live_frames = list(live.events())
    assert list(replay.events()) == live_frames
    assert len(live_frames) == 200 and all(isinstance(f, Frame) for f in live_frames)
    assert replay.statistics() == live.statistics()


def test_file_is_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        SessionWriter(tmp_path / "s", session_start=START).close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "s").stat().st_mode) == 0o600


def test_link_event_fields_may_be_named_kind(tmp_path: Path) -> None:
    with SessionWriter(tmp_path / "s", session_start=START) as writer:
        writer.link_event("disconnected", kind="remote", reason=19)
    (event,) = list(read_session(tmp_path / "s"))
    assert isinstance(event, LinkEvent)
    assert (event.kind, event.fields) == ("disconnected", {"kind": "remote", "reason": 19})
