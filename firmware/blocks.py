"""Per-sample assembly of sampling blocks (PROTOCOL.md §2.2, §2.3) for the sensor interrupt.

The sample clock is the front end's data-ready line, never a software loop; this module only
counts what that clock delivered. ``BlockAssembler.add_sample`` is called once per data-ready with
int16 counts; it keeps the EMG index (u32, counted since boot, §2.1), stores the accelerometer
sample that belongs to every R-th EMG index (§2.3) and pushes each full block into the
``BlockRing``. A data-ready that was missed (the interpreter busy for more than one period) is
found from a hardware edge counter on the data-ready line (``new_conversions``) and skipped in
the index, so the Pi sees a gap instead of a silent shift. Pure: imports only our ``wire``
and ``ring``.
"""

import struct

from firmware import wire
from firmware.ring import BlockRing

INT16_MIN = -32768
INT16_MAX = 32767


def clip16(value: int) -> int:
    """Saturate to int16, as an ADC does at its rails."""
    return INT16_MIN if value < INT16_MIN else INT16_MAX if value > INT16_MAX else value


def new_conversions(count: int, last_count: int) -> int:
    """Conversions since the last read, from the data-ready edge counter (16-bit hardware).

    1 on time; 0 when the handler ran twice for one edge (a queued soft interrupt); more when
    the interpreter was busy and data-ready pulses went by unread (valid below 65536).
    """
    return (count - last_count) & 0xFFFF


def max_accel_per_block(block_samples: int, ratio: int) -> int:
    """Most accelerometer samples one block of ``block_samples`` EMG samples can hold (§2.3)."""
    return -(-block_samples // ratio)


class BlockAssembler:
    """Fills blocks of ``block_samples`` and pushes them into ``ring`` (writer side)."""

    def __init__(self, ring: BlockRing, block_samples: int, ratio: int) -> None:
        self.ring = ring
        self.block_samples = block_samples
        self.ratio = ratio
        self.n_channels = ring.n_channels
        self.emg = bytearray(2 * ring.n_channels * block_samples)
        self.accel = bytearray(6 * max_accel_per_block(block_samples, ratio))
        self.index = 0  # u32 EMG index of the next sample (§2.1: since boot)
        self.first = 0  # index of the current block's first sample
        self.count = 0
        self.accel_count = 0
        self.status = 0
        self.samples = 0  # EMG samples taken (per channel)
        self.skipped = 0  # samples lost to missed data-ready interrupts

    def accel_due(self) -> bool:
        """True when the next EMG sample has an accelerometer sample (index ≡ 0 mod R, §2.3)."""
        return self.index % self.ratio == 0

    def add_accel(self, x: int, y: int, z: int) -> None:
        """The accelerometer sample (counts) taken with the next EMG sample; only when due."""
        struct.pack_into("<hhh", self.accel, 6 * self.accel_count, clip16(x), clip16(y), clip16(z))
        self.accel_count += 1

    def add_sample(self, counts: list[int], status: int) -> None:
        """One EMG sample: ``counts`` one int16 count per channel, ``status`` lead-off bits."""
        if self.count == 0:
            self.first = self.index
            self.status = 0
        base = 2 * self.n_channels * self.count
        for c in range(self.n_channels):
            struct.pack_into("<h", self.emg, base + 2 * c, clip16(counts[c]))
        self.status |= status
        self.count += 1
        self.samples += 1
        self.index = (self.index + 1) & wire.INDEX_MASK
        # A block ends at the 2**32 wrap: §2.3 counts accel samples on the index as sent, so
        # a notification spanning the wrap would be ambiguous; the Pi counts a reset there.
        if self.count == self.block_samples or self.index == 0:
            self.flush()

    def skip(self, samples: int) -> None:
        """``samples`` were not taken: close the current block and jump the index over them."""
        if samples <= 0:
            return
        self.flush()
        self.skipped += samples
        self.index = (self.index + samples) & wire.INDEX_MASK

    def flush(self) -> None:
        """Push the current (possibly short) block; a full ring drops it (counted there)."""
        if self.count:
            self.ring.push(
                self.emg, self.count, self.accel, self.accel_count, self.first, self.status
            )
        self.count = 0
        self.accel_count = 0
