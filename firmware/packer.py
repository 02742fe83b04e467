"""Turns the blocks waiting in a ``BlockRing`` into PROTOCOL.md §2 notifications.

Two phases, because the radio may refuse a notification (NimBLE's buffers full): ``pack(payload)``
builds the next notification into a preallocated buffer without consuming anything, ``commit()``
consumes it and advances ``seq`` once it was handed to the stack. A notification never spans a
hole in the indices (a dropped block), so the Pi sees the hole as a gap of exactly those samples,
nor the 2**32 index wrap (§2.1).
Pure: imports only our ``wire``.
"""

from firmware import wire
from firmware.ring import BlockRing


class Packer:
    """Notifications of ``n_channels`` EMG channels with accelerometer ratio ``ratio`` (§2.3).

    ``batch_samples`` is the EMG samples per channel aimed for in one notification (blocks ×
    block size, §4 SET_BATCH); fewer go out when the payload (ATT_MTU − 3, §5) is smaller or a
    hole follows.
    """

    def __init__(self, ring: BlockRing, ratio: int, batch_samples: int) -> None:
        if ratio < 1 or not 1 <= batch_samples <= wire.MAX_SAMPLES:
            raise ValueError("packer: need ratio >= 1 and 1 <= batch_samples <= 255")
        self.ring = ring
        self.ratio = ratio
        self.batch_samples = batch_samples
        self.seq = 0
        self.offset = 0  # EMG samples of the oldest waiting block already sent
        self.buffer = bytearray(wire.notification_size(ring.n_channels, 255, 255))
        self.sent = 0
        self._pending_blocks = 0  # blocks the packed notification finishes (for commit)
        self._pending_offset = 0
        self._pending = False

    def next_index(self) -> int:
        """EMG index (u32) of the next sample to send; only valid when ``waiting() > 0``."""
        ring = self.ring
        return (ring.first[ring.slot(0)] + self.offset) & wire.INDEX_MASK

    def waiting(self) -> tuple[int, bool]:
        """(contiguous EMG samples waiting from ``next_index()``, whether a hole ends them)."""
        ring = self.ring
        filled = ring.filled()
        if not filled:
            return 0, False
        i = ring.slot(0)
        total = ring.count[i] - self.offset
        end = (ring.first[i] + ring.count[i]) & wire.INDEX_MASK
        for k in range(1, filled):
            j = ring.slot(k)
            if ring.first[j] != end or end == 0:  # a dropped block, or the 2**32 wrap (§2.1)
                return total, True
            total += ring.count[j]
            end = (end + ring.count[j]) & wire.INDEX_MASK
        return total, False

    def want(self, payload: int) -> int:
        """EMG samples the next notification carries when full (>= 1; §5 sizing)."""
        if not self.ring.filled():
            return 0
        n = wire.fit_samples(
            self.ring.n_channels, self.ratio, self.next_index(), payload, self.batch_samples
        )
        return n if n > 0 else 1  # nothing fits: send one sample; the Pi counts it `truncated`

    def ready(self, payload: int) -> bool:
        """True when a full notification is waiting, or a shorter one that a hole ends."""
        available, hole = self.waiting()
        return available > 0 and (hole or available >= self.want(payload))

    def pack(self, payload: int, status: int = -1) -> memoryview | None:
        """Build the next notification (up to ``want(payload)`` samples); None if nothing waits.

        ``status`` overrides the lead-off bits; by default the OR of the blocks' bits is sent.
        Call ``commit()`` after the radio took it; otherwise the same samples are packed again.
        """
        available, _ = self.waiting()
        if not available:
            return None
        n = min(self.want(payload), available)
        ring = self.ring
        ratio = self.ratio
        step = wire.EMG_SAMPLE_SIZE * ring.n_channels
        first_index = self.next_index()
        m = wire.accel_count(first_index, n, ratio)
        buf = self.buffer
        view = memoryview(buf)
        emg_pos = wire.HEADER_SIZE
        accel_pos = wire.HEADER_SIZE + step * n
        offset = self.offset
        left = n
        blocks = 0
        bits = 0
        while left:
            i = ring.slot(blocks)
            take = min(ring.count[i] - offset, left)
            view[emg_pos : emg_pos + step * take] = memoryview(ring.emg[i])[
                step * offset : step * (offset + take)
            ]
            emg_pos += step * take
            # §2.3: the block's accel sample j belongs to EMG offset lead + j·ratio in the block.
            lead = (-ring.first[i]) % ratio
            j0 = max(0, -(-(offset - lead) // ratio))
            j1 = min(ring.accel_count[i], -(-(offset + take - lead) // ratio))
            if j1 > j0:
                size = wire.ACCEL_SAMPLE_SIZE * (j1 - j0)
                view[accel_pos : accel_pos + size] = memoryview(ring.accel[i])[
                    wire.ACCEL_SAMPLE_SIZE * j0 : wire.ACCEL_SAMPLE_SIZE * j1
                ]
                accel_pos += size
            bits |= ring.status[i]
            left -= take
            offset += take
            if offset == ring.count[i]:
                blocks += 1
                offset = 0
        if accel_pos != wire.HEADER_SIZE + step * n + wire.ACCEL_SAMPLE_SIZE * m:
            raise ValueError("packer: the ring's blocks lack accelerometer samples (§2.3)")
        wire.pack_header(buf, bits if status < 0 else status, self.seq, first_index, n, m)
        length = wire.seal(buf, accel_pos)
        self._pending_blocks = blocks
        self._pending_offset = offset
        self._pending = True
        return view[:length]

    def commit(self) -> None:
        """The last packed notification went out: consume its samples, advance ``seq``."""
        if not self._pending:
            raise ValueError("packer: commit() without pack()")
        self.ring.release(self._pending_blocks)
        self.offset = self._pending_offset
        self.seq = (self.seq + 1) & wire.SEQ_MASK
        self.sent += 1
        self._pending = False

    def discard(self) -> int:
        """Drop everything waiting (nobody is streaming); returns the EMG samples dropped."""
        ring = self.ring
        dropped = 0
        while ring.filled():
            dropped += ring.count[ring.slot(0)] - self.offset
            self.offset = 0
            ring.release(1)
        self._pending = False
        return dropped
