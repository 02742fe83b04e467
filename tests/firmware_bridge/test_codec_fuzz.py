"""Fuzzing the decoder: it never raises on remote input and its output stays consistent.

Besides hypothesis on ``st.binary()``, a seeded loop feeds ≥ 100,000 random and mutated
notifications (bit flips, cuts, extensions, header fields rewritten with a *valid* CRC so the
sequencing logic is reached, replays, reboots) and checks after every event that output indices
only move forward exactly as the Gap/Reset events say.
"""

from __future__ import annotations

import logging
import random
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import protocol
from firmware_bridge.codec import BadFrame, Decoder, Encoder, Event, Frame, Gap, Reset
from firmware_bridge.protocol import DeviceInfo, Site

logger = logging.getLogger(__name__)

INFO = DeviceInfo(
    emg_rate_hz=1000,
    accel_rate_hz=50,
    emg_sites=(Site.GASTROCNEMIUS_MEDIAL, Site.SOLEUS),
    emg_uv_per_lsb=0.5,
    accel_g_per_lsb=1 / 8192,
)
FUZZ_NOTIFICATIONS = 100_000


class OutputChecker:
    """Checks the decoder's promise: indices move forward, exactly as Gap/Reset say."""

    def __init__(self, ratio: int) -> None:
        self.ratio = ratio
        self.next_index: int | None = None
        self.pending: Event | None = None
        self.counts = {"frames": 0, "gaps": 0, "resets": 0, "bad": 0}

    def check(self, event: Event) -> None:
        if isinstance(event, BadFrame):
            self.counts["bad"] += 1
            assert event.reason in {
                "short", "version", "empty", "truncated", "oversize", "crc", "accel_count",
            }  # fmt: skip
            return
        if isinstance(event, Gap | Reset):
            assert self.pending is None, "two Gap/Reset events in a row"
            assert event.at_index == self.next_index
            if isinstance(event, Gap):
                assert event.emg_samples_missing > 0
            self.pending = event
            self.counts["gaps" if isinstance(event, Gap) else "resets"] += 1
            return
        assert isinstance(event, Frame)
        self.counts["frames"] += 1
        n, m = event.emg.shape[1], event.accel.shape[1]
        assert event.emg.shape == (2, n) and event.accel.shape == (3, m) and 1 <= n <= 255
        start = event.first_emg_index
        assert m == sum(1 for i in range(start, start + n) if i % self.ratio == 0)
        assert event.first_accel_index == -(-start // self.ratio)
        if self.next_index is not None:
            if isinstance(self.pending, Gap):
                assert start == self.next_index + self.pending.emg_samples_missing
            elif isinstance(self.pending, Reset):
                assert 0 <= start - self.next_index < self.ratio
            else:
                assert start == self.next_index
        self.pending = None
        self.next_index = start + n


def with_crc(body: bytes | bytearray) -> bytes:
    return bytes(body) + protocol.crc16(body).to_bytes(2, "little")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=600), max_size=20))
def test_binary_never_raises(datas: list[bytes]) -> None:
    dec = Decoder(INFO)
    checker = OutputChecker(INFO.accel_ratio)
    for data in datas:
        dec.feed(data)
        for event in dec.events():
            checker.check(event)
    stats = dec.statistics()
    assert stats.notifications == len(datas)
    assert stats.frames + stats.bad_frames + stats.duplicates == len(datas)


@settings(max_examples=300, deadline=None)
@given(
    header=st.tuples(
        st.integers(0, 255), st.integers(0, 65535), st.integers(0, 2**32 - 1),
        st.integers(0, 255), st.integers(0, 255),
    ),
    payload=st.binary(max_size=600),
)  # fmt: skip
def test_valid_crc_random_headers_never_raise(
    header: tuple[int, int, int, int, int], payload: bytes
) -> None:
    status, seq, index, n, m = header
    dec = Decoder(INFO)
    dec.feed(with_crc(protocol.HEADER.pack(1, status, seq, index, n, m) + payload))
    events = list(dec.events())
    assert len(events) == 1
    OutputChecker(INFO.accel_ratio).check(events[0])


def mutate(rnd: random.Random, good: bytes, recent: list[bytes]) -> bytes:
    """One of several corruptions of a valid notification."""
    kind = rnd.randrange(10)
    raw = bytearray(good)
    if kind == 0:  # flip 1-4 bits
        for _ in range(rnd.randint(1, 4)):
            raw[rnd.randrange(len(raw))] ^= 1 << rnd.randrange(8)
        return bytes(raw)
    if kind == 1:  # cut (MTU truncation or lost tail)
        return bytes(raw[: rnd.randrange(len(raw))])
    if kind == 2:  # trailing junk
        return bytes(raw) + rnd.randbytes(rnd.randint(1, 40))
    if kind == 3:  # pure garbage
        return rnd.randbytes(rnd.randint(0, 300))
    if kind == 4:  # replay an older notification (duplicate or stale)
        return rnd.choice(recent) if recent else bytes(raw)
    body = raw[:-2]
    if kind == 5:  # rewrite the index, valid CRC: gaps, resets, implausible jumps
        protocol.HEADER.pack_into(
            body, 0, 1, body[1], rnd.randrange(65536), rnd.randrange(2**32), body[8], body[9]
        )
    elif kind == 6:  # rewrite n or m, valid CRC: inconsistent lengths
        body[8 + rnd.randrange(2)] = rnd.randrange(256)
    elif kind == 7:  # valid CRC over random bytes after the header
        body[10:] = rnd.randbytes(rnd.randint(0, 300))
    elif kind == 8:  # another version, valid CRC
        body[0] = rnd.randrange(256)
    else:  # small index nudge, valid CRC
        index = int.from_bytes(body[4:8], "little")
        body[4:8] = ((index + rnd.randint(-50, 50)) % 2**32).to_bytes(4, "little")
    return with_crc(body)


def test_100k_random_and_mutated_notifications_zero_crashes() -> None:
    rnd = random.Random(20261127)
    rng = np.random.default_rng(20261127)
    # A pool of valid notifications of a moving stream (encoder use is not what we time).
    enc = Encoder(INFO)
    pool: list[bytes] = []
    index = 2**32 - 5000  # the pool crosses the u32 wrap
    for _ in range(3000):
        n = int(rng.integers(1, 60))
        m = sum(1 for i in range(index % 2**32, index % 2**32 + n) if i % 20 == 0)
        emg = rng.integers(-32768, 32768, size=(2, n))
        pool.append(enc.encode(emg, rng.integers(-32768, 32768, size=(3, m)), index))
        index += n

    dec = Decoder(INFO)
    checker = OutputChecker(INFO.accel_ratio)
    recent: list[bytes] = []
    fed = 0
    t0 = time.perf_counter()
    while fed < FUZZ_NOTIFICATIONS:
        good = pool[fed % len(pool)]
        data = good if rnd.random() < 0.5 else mutate(rnd, good, recent)
        recent = [*recent[-20:], good]
        dec.feed(data)
        fed += 1
        for event in dec.events():
            checker.check(event)
    elapsed = time.perf_counter() - t0
    stats = dec.statistics()
    logger.info("fuzzed %d notifications in %.2f s: %s", fed, elapsed, stats)
    print(f"\nfuzz: {fed} notifications in {elapsed:.2f} s, {stats}")
    assert stats.notifications == fed
    assert stats.frames + stats.bad_frames + stats.duplicates == fed
    assert stats.frames == checker.counts["frames"] and stats.gaps == checker.counts["gaps"]
    assert stats.resets == checker.counts["resets"] and stats.bad_frames == checker.counts["bad"]
    # Every branch was reached.
    assert set(stats.bad_by_reason) == {
        "short", "version", "empty", "truncated", "oversize", "crc", "accel_count",
    }  # fmt: skip
    assert stats.frames > fed // 2 and stats.gaps > 100 and stats.resets > 100
    assert stats.duplicates > 100
