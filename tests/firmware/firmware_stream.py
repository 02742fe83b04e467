"""The firmware's sampling path on CPython: counts in, PROTOCOL.md notifications out.

``FirmwareStream`` plays what the data-ready interrupt would deliver (int16 counts per EMG
sample, an accelerometer sample every R-th) into the firmware's own ``BlockAssembler``,
``BlockRing`` and ``Packer``, and sends like the firmware's sender task: a full notification when
one is ready. ``FirmwarePayloads`` wraps it as the virtual wearable's ``PayloadSource``, so the
firmware's bytes go over bumble and bleak. No tests here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import numpy.typing as npt

from firmware.blocks import BlockAssembler, max_accel_per_block
from firmware.packer import Packer
from firmware.ring import BlockRing
from firmware_bridge.codec import accel_to_counts, emg_to_counts
from firmware_bridge.protocol import DeviceInfo

IntArray = npt.NDArray[np.int16]
FloatArray = npt.NDArray[np.float64]


class FirmwareStream:
    """The firmware's assembler, ring and packer for device ``info`` (rates, channels, blocks)."""

    def __init__(self, info: DeviceInfo, *, ring_blocks: int = 50, batch_blocks: int = 0) -> None:
        self.info = info
        ratio = info.accel_ratio
        block = info.block_emg_samples
        self.ring = BlockRing(
            ring_blocks, info.n_emg_channels, block, max_accel_per_block(block, ratio)
        )
        self.assembler = BlockAssembler(self.ring, block, ratio)
        blocks = batch_blocks or info.max_blocks_per_notification
        self.packer = Packer(self.ring, ratio, min(255, block * blocks))
        self.accel_taken = 0  # accelerometer samples fed so far

    def sample(self, emg: IntArray, accel: IntArray, accel_first: int) -> None:
        """Feed EMG counts (C, n) and accelerometer counts (3, m) whose first column is accel
        sample ``accel_first``; accel sample k goes with EMG index k·R (PROTOCOL.md §2.3)."""
        a = self.assembler
        counts = [0] * emg.shape[0]
        for j in range(emg.shape[1]):
            if a.accel_due():
                column = accel[:, self.accel_taken - accel_first]
                a.add_accel(int(column[0]), int(column[1]), int(column[2]))
                self.accel_taken += 1
            for c in range(emg.shape[0]):
                counts[c] = int(emg[c, j])
            a.add_sample(counts, 0)

    def send_ready(self, payload: int) -> Iterator[bytes]:
        """Notifications the sender task sends now (each full, or ended by a hole)."""
        while self.packer.ready(payload):
            data = self.packer.pack(payload)
            assert data is not None
            yield bytes(data)
            self.packer.commit()

    def drain(self, payload: int) -> Iterator[bytes]:
        """At the end: flush the last short block and send everything left."""
        self.assembler.flush()
        while (data := self.packer.pack(payload)) is not None:
            yield bytes(data)
            self.packer.commit()


class FirmwarePayloads:
    """A virtual-wearable ``PayloadSource`` whose bytes come from the firmware's packer.

    ``chunks`` are float ``(emg µV (C, n), accel g (3, m))`` as the simulator or an EDF gives
    them, quantised as the wearable's ADCs would (``emg_to_counts``/``accel_to_counts``).
    """

    def __init__(self, chunks: Iterable[tuple[FloatArray, FloatArray]], info: DeviceInfo) -> None:
        self._chunks = iter(chunks)
        self._info = info
        self.stream = FirmwareStream(info)
        self._emg: IntArray = np.zeros((info.n_emg_channels, 0), np.int16)
        self._accel: IntArray = np.zeros((3, 0), np.int16)
        self._accel_first = 0  # accel sample index of self._accel[:, 0]
        self._exhausted = False

    def _feed_block(self) -> bool:
        """Feed one sampling block, as the interrupt fills it; False at the end of the data."""
        block = self._info.block_emg_samples
        while self._emg.shape[1] < block and not self._exhausted:
            try:
                emg_uv, accel_g = next(self._chunks)
            except StopIteration:
                self._exhausted = True
                break
            self._emg = np.concatenate([self._emg, emg_to_counts(self._info, emg_uv)], 1)
            self._accel = np.concatenate([self._accel, accel_to_counts(self._info, accel_g)], 1)
        if not self._emg.shape[1]:
            return False
        self.stream.sample(self._emg[:, :block], self._accel, self._accel_first)
        self._emg = self._emg[:, block:]
        used = self.stream.accel_taken - self._accel_first
        self._accel, self._accel_first = self._accel[:, used:], self.stream.accel_taken
        return True

    def __call__(self, max_size: int) -> tuple[bytes, float] | None:
        packer = self.stream.packer
        while not packer.ready(max_size):
            if not self._feed_block():
                self.stream.assembler.flush()
                break
        data = packer.pack(max_size)
        if data is None:
            return None
        packer.commit()
        n = data[8]  # PROTOCOL.md §2: EMG samples per channel at offset 8
        return bytes(data), n / self._info.emg_rate_hz
