"""Wire codec for sample notifications: pure bytes in, events out (h11 style, no I/O, no clock).

``Encoder(info).encode(emg_counts, accel_counts, first_index, lead_off)`` builds one notification
(the virtual wearable uses it); ``Decoder(info)`` takes notifications with ``feed(data)`` and
yields events from ``events()``:

- ``Frame``: samples converted once to physical units (µV, g), with absolute sample indices;
- ``Gap``: samples missing between two frames (from the sample index, never from arrival time);
- ``Reset``: the index went backwards without being a duplicate (wearable rebooted);
- ``BadFrame``: a notification that could not be used (short, truncated by the MTU, wrong
  version, bad CRC, inconsistent counts).

Remote faults (anything the wearable or the air sends) are counted and skipped and never raise;
misuse by our own code (wrong shapes, out-of-range arguments) raises ``ValueError``. Samples are
never glued across a ``Gap`` or ``Reset``: the pipeline decides what they mean.

Wire layout: ``PROTOCOL.md`` §2, constants in ``firmware_bridge.protocol``.
Never imports ``bedside``, ``detector`` or ``bleak``.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from firmware_bridge.protocol import (
    CRC_SIZE,
    EMG_SAMPLE_SIZE,
    HEADER,
    HEADER_SIZE,
    INDEX_MODULO,
    LEAD_OFF_MASK,
    MAX_ACCEL_SAMPLES,
    MAX_EMG_SAMPLES,
    OVERHEAD_SIZE,
    PROTOCOL_VERSION,
    SEQ_MODULO,
    DeviceInfo,
    accel_span,
    crc16,
    notification_size,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer]

logger = logging.getLogger(__name__)

_INT16_MIN, _INT16_MAX = -32768, 32767
_HALF_INDEX = INDEX_MODULO // 2  # a jump of 2**31 or more reads as backwards (§2.1 wrap rule)


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One decoded notification.

    ``emg``: (n_channels, n) float64 in µV; ``accel``: (3, m) float64 in g (rows X, Y, Z), m may
    be 0. ``first_emg_index``/``first_accel_index`` are absolute sample indices of the first
    column (accelerometer sample k belongs to EMG index k·emg_rate/accel_rate). ``lead_off``: bit
    c set = EMG channel c electrode off, bit 6 = reference electrode off (PROTOCOL.md §2.1).
    Arrays are read-only; equality compares values exactly.
    """

    seq: int
    first_emg_index: int
    emg: FloatArray
    first_accel_index: int
    accel: FloatArray
    lead_off: int

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return (
            self.seq == other.seq
            and self.first_emg_index == other.first_emg_index
            and self.first_accel_index == other.first_accel_index
            and self.lead_off == other.lead_off
            and self.emg.shape == other.emg.shape
            and self.accel.shape == other.accel.shape
            and bool(np.array_equal(self.emg, other.emg))
            and bool(np.array_equal(self.accel, other.accel))
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking arrays: not hashable

    def lead_off_channel(self, channel: int) -> bool:
        """True if EMG channel ``channel``'s electrode was reported off in this frame."""
        return bool(self.lead_off >> channel & 1)


@dataclass(frozen=True, slots=True)
class Gap:
    """Samples missing before the next frame: EMG ``[at_index, at_index + emg_samples_missing)``."""

    emg_samples_missing: int
    accel_samples_missing: int
    at_index: int


@dataclass(frozen=True, slots=True)
class Reset:
    """The wearable's index went backwards (reboot): output indices continue from ``at_index``.

    ``device_index`` is the index the wearable sent. How much time passed is not known from the
    indices; the link layer's receive times can tell.
    """

    at_index: int
    device_index: int


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A notification of ``size`` bytes that was skipped; ``reason`` is one of BAD_REASONS."""

    reason: str
    size: int


Event = Frame | Gap | Reset | BadFrame

# BadFrame reasons, in the order the decoder checks them (PROTOCOL.md §2.5).
BAD_REASONS = (
    "short",  # fewer than 12 bytes: not even a header and a CRC
    "version",  # byte 0 is not PROTOCOL_VERSION
    "empty",  # zero EMG samples
    "truncated",  # shorter than the header says: cut at MTU - 3, or lost bytes
    "oversize",  # longer than the header says
    "crc",  # CRC-16 mismatch
    "accel_count",  # accelerometer count does not match the index alignment rule
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecoderStatistics:
    """Counters since the decoder was made (house-style §2: an immutable snapshot)."""

    notifications: int = 0  # everything fed
    frames: int = 0
    emg_samples: int = 0  # per channel
    accel_samples: int = 0
    gaps: int = 0
    emg_samples_missing: int = 0
    accel_samples_missing: int = 0
    duplicates: int = 0
    resets: int = 0
    bad_frames: int = 0
    bad_by_reason: Mapping[str, int] = field(default_factory=dict)


def emg_to_counts(info: DeviceInfo, emg_uv: FloatArray) -> npt.NDArray[np.int16]:
    """Quantise EMG as the wearable's ADC would: (n_channels, n) µV -> int16 counts.

    Rounds to the nearest count (``emg_uv_per_lsb``) and clips to int16, as a saturating ADC
    does. For the virtual wearable, which plays simulated or recorded µV.
    """
    x = np.asarray(emg_uv, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != info.n_emg_channels:
        raise ValueError(f"emg_uv must have shape ({info.n_emg_channels}, n), got {x.shape}")
    return _quantise(x, float(info.emg_uv_per_lsb))


def accel_to_counts(info: DeviceInfo, accel_g: FloatArray) -> npt.NDArray[np.int16]:
    """Quantise acceleration: (3, m) g -> int16 counts of ``accel_g_per_lsb``, clipped."""
    x = np.asarray(accel_g, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != 3:
        raise ValueError(f"accel_g must have shape (3, m), got {x.shape}")
    return _quantise(x, float(info.accel_g_per_lsb))


def _quantise(x: FloatArray, per_lsb: float) -> npt.NDArray[np.int16]:
    counts = np.rint(np.nan_to_num(x / per_lsb, nan=0.0))
    return np.clip(counts, _INT16_MIN, _INT16_MAX).astype(np.int16)


class Encoder:
    """Builds sample notifications (PROTOCOL.md §2) for one wearable; keeps the ``seq`` counter."""

    def __init__(self, info: DeviceInfo, *, first_seq: int = 0) -> None:
        if not 0 <= first_seq < SEQ_MODULO:
            raise ValueError(f"first_seq must be 0..65535, got {first_seq}")
        self._info = info
        self._seq = first_seq

    @property
    def info(self) -> DeviceInfo:
        """The device info this encoder writes for."""
        return self._info

    @property
    def next_seq(self) -> int:
        """The ``seq`` the next ``encode`` call will use (u16, wraps 65535 -> 0)."""
        return self._seq

    def encode(
        self,
        emg_counts: IntArray,
        accel_counts: IntArray,
        first_index: int,
        lead_off: int = 0,
        *,
        seq: int | None = None,
    ) -> bytes:
        """One notification carrying EMG ``[first_index, first_index + n)``.

        ``emg_counts``: (n_channels, n) integers within int16, 1 <= n <= 255.
        ``accel_counts``: (3, m) integers within int16; m must be the number of accelerometer
        samples belonging to that EMG range (``protocol.accel_span``), possibly 0.
        ``first_index``: absolute EMG sample index >= 0, sent modulo 2**32.
        ``lead_off``: status bits 0..6 (PROTOCOL.md §2.1).
        ``seq``: override the sequence number (fault injection); otherwise the running counter.
        The counter advances by one either way. Raises ValueError on misuse; does not check the
        MTU (``protocol.max_emg_samples`` sizes batches; a longer value is cut by the link).
        """
        info = self._info
        emg = np.asarray(emg_counts)
        accel = np.asarray(accel_counts)
        n_ch = info.n_emg_channels
        if emg.ndim != 2 or emg.shape[0] != n_ch or not 1 <= emg.shape[1] <= MAX_EMG_SAMPLES:
            raise ValueError(
                f"emg_counts must have shape ({n_ch}, n) with 1 <= n <= {MAX_EMG_SAMPLES}, "
                f"got {emg.shape}"
            )
        if accel.ndim != 2 or accel.shape[0] != 3 or accel.shape[1] > MAX_ACCEL_SAMPLES:
            raise ValueError(f"accel_counts must have shape (3, m), m <= 255, got {accel.shape}")
        for name, arr in (("emg_counts", emg), ("accel_counts", accel)):
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"{name} must hold integers (ADC counts), got {arr.dtype}")
            if arr.size and (arr.min() < _INT16_MIN or arr.max() > _INT16_MAX):
                raise ValueError(f"{name} must lie within int16 [-32768, 32767]")
        if first_index < 0:
            raise ValueError(f"first_index must be >= 0, got {first_index}")
        if not 0 <= lead_off <= LEAD_OFF_MASK:
            raise ValueError(f"lead_off must be a 7-bit mask (0..127), got {lead_off}")
        if seq is not None and not 0 <= seq < SEQ_MODULO:
            raise ValueError(f"seq must be 0..65535, got {seq}")
        wire_index = first_index % INDEX_MODULO
        n = emg.shape[1]
        _, m = accel_span(info, wire_index, n)
        if accel.shape[1] != m:
            raise ValueError(
                f"EMG [{first_index}, +{n}) needs {m} accelerometer samples (ratio "
                f"{info.accel_ratio}), got {accel.shape[1]}"
            )
        used_seq = self._seq if seq is None else seq
        self._seq = (self._seq + 1) % SEQ_MODULO
        body = b"".join(
            (
                HEADER.pack(PROTOCOL_VERSION, lead_off, used_seq, wire_index, n, m),
                emg.T.astype("<i2").tobytes(),  # §2.2 sample-major: s0c0 s0c1 s1c0 ...
                accel.T.astype("<i2").tobytes(),  # §2.3 X Y Z per sample
            )
        )
        return body + crc16(body).to_bytes(CRC_SIZE, "little")


class Decoder:
    """Turns notifications of one wearable into ``Frame``/``Gap``/``Reset``/``BadFrame`` events.

    Each ``feed(data)`` is one notification (BLE delivers them whole); ``events()`` yields what
    is pending. Duplicates (same ``seq`` and index as one of the last ``duplicate_window``
    accepted frames, e.g. BlueZ's doubled callbacks) are dropped and counted. A forward index
    jump is a ``Gap``; a backward one (or a forward one of ``max_gap_samples`` or more) is a
    ``Reset``: output indices then continue after the last frame, kept congruent to the
    device index modulo the accelerometer ratio so accelerometer alignment holds.
    """

    def __init__(
        self,
        info: DeviceInfo,
        *,
        duplicate_window: int = 64,
        max_gap_samples: int | None = None,
    ) -> None:
        if duplicate_window < 1:
            raise ValueError(f"duplicate_window must be >= 1, got {duplicate_window}")
        self._info = info
        self._n_ch = info.n_emg_channels
        self._ratio = info.accel_ratio
        # f32 on the wire; float64 here converts each count exactly once (house-style §2).
        self._uv = float(info.emg_uv_per_lsb)
        self._g = float(info.accel_g_per_lsb)
        # Default: one day of samples, more is not a plausible reconnect; capped below the
        # 2**31 wrap rule (§2.1), which a day reaches from 24,856 Hz (the protocol allows 65,535).
        default = min(86_400 * info.emg_rate_hz, _HALF_INDEX - 1)
        limit = default if max_gap_samples is None else max_gap_samples
        if not 1 <= limit < _HALF_INDEX:
            raise ValueError(f"max_gap_samples must be 1..2**31-1, got {limit}")
        self._max_gap = limit
        self._pending: collections.deque[Event] = collections.deque()
        self._recent: collections.deque[tuple[int, int]] = collections.deque(
            maxlen=duplicate_window
        )
        self._next_out: int | None = None  # expected output index of the next EMG sample
        self._next_wire = 0  # expected wire index (u32) of the next EMG sample
        self._counts: dict[str, int] = collections.Counter()
        self._bad: dict[str, int] = collections.Counter()

    @property
    def info(self) -> DeviceInfo:
        """The device info this decoder reads with."""
        return self._info

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Decode one notification; never raises on its content."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"feed() takes bytes, got {type(data).__name__}")
        raw = bytes(data)
        self._counts["notifications"] += 1
        size = len(raw)
        if size < OVERHEAD_SIZE:
            self._reject("short", size)
            return
        version, status, seq, wire, n, m = HEADER.unpack_from(raw)
        if version != PROTOCOL_VERSION:
            self._reject("version", size)
            return
        if n == 0:
            self._reject("empty", size)
            return
        expected = notification_size(self._n_ch, n, m)
        if size < expected:
            self._reject("truncated", size)
            return
        if size > expected:
            self._reject("oversize", size)
            return
        if crc16(memoryview(raw)[:-CRC_SIZE]) != int.from_bytes(raw[-CRC_SIZE:], "little"):
            self._reject("crc", size)
            return
        if accel_span(self._info, wire, n)[1] != m:
            self._reject("accel_count", size)
            return
        out_first = self._place(seq, wire, n)
        if out_first is None:
            return
        emg_end = HEADER_SIZE + EMG_SAMPLE_SIZE * self._n_ch * n
        emg = np.frombuffer(raw, dtype="<i2", count=self._n_ch * n, offset=HEADER_SIZE)
        acc = np.frombuffer(raw, dtype="<i2", count=3 * m, offset=emg_end)
        emg_uv = emg.reshape(n, self._n_ch).T * self._uv  # float64, a fresh array
        acc_g = acc.reshape(m, 3).T * self._g
        emg_uv.flags.writeable = False
        acc_g.flags.writeable = False
        self._counts["frames"] += 1
        self._counts["emg_samples"] += n
        self._counts["accel_samples"] += m
        self._pending.append(
            Frame(
                seq=seq,
                first_emg_index=out_first,
                emg=emg_uv,
                first_accel_index=-(-out_first // self._ratio),
                accel=acc_g,
                lead_off=status & LEAD_OFF_MASK,
            )
        )

    def events(self) -> Iterator[Event]:
        """Yield pending events in order, oldest first, removing them."""
        while self._pending:
            yield self._pending.popleft()

    def statistics(self) -> DecoderStatistics:
        """A snapshot of the counters."""
        c = self._counts
        return DecoderStatistics(
            notifications=c["notifications"],
            frames=c["frames"],
            emg_samples=c["emg_samples"],
            accel_samples=c["accel_samples"],
            gaps=c["gaps"],
            emg_samples_missing=c["emg_samples_missing"],
            accel_samples_missing=c["accel_samples_missing"],
            duplicates=c["duplicates"],
            resets=c["resets"],
            bad_frames=sum(self._bad.values()),
            bad_by_reason=dict(self._bad),
        )

    def _reject(self, reason: str, size: int) -> None:
        self._bad[reason] += 1
        logger.debug("bad notification (%s, %d bytes)", reason, size)
        self._pending.append(BadFrame(reason, size))

    def _place(self, seq: int, wire: int, n: int) -> int | None:
        """Output index of this frame's first EMG sample, emitting Gap/Reset; None = duplicate."""
        key = (seq, wire)
        expected = self._next_out
        if expected is None:
            out_first = wire
        else:
            delta = (wire - self._next_wire) % INDEX_MODULO
            if delta < self._max_gap:
                out_first = expected + delta
                if (wire - out_first) % self._ratio:
                    # Across the 2**32 wrap the wire alignment shifts by 2**32 mod R (§2.1):
                    # a Reset keeps output index ≡ wire index (mod R).
                    out_first = self._reset(expected, wire)
                elif delta:
                    self._gap(expected, out_first)
            elif key in self._recent:
                self._counts["duplicates"] += 1
                logger.debug("duplicate notification seq=%d index=%d", seq, wire)
                return None
            else:
                out_first = self._reset(expected, wire)
        self._recent.append(key)
        self._next_out = out_first + n
        self._next_wire = (wire + n) % INDEX_MODULO
        return out_first

    def _gap(self, at: int, resume: int) -> None:
        r = self._ratio
        emg_missing = resume - at
        accel_missing = -(-resume // r) - -(-at // r)
        self._counts["gaps"] += 1
        self._counts["emg_samples_missing"] += emg_missing
        self._counts["accel_samples_missing"] += accel_missing
        logger.debug("gap of %d EMG samples at index %d", emg_missing, at)
        self._pending.append(Gap(emg_missing, accel_missing, at))

    def _reset(self, at: int, wire: int) -> int:
        self._counts["resets"] += 1
        logger.debug("index reset to device index %d at output index %d", wire, at)
        self._pending.append(Reset(at, wire))
        return at + (wire - at) % self._ratio
