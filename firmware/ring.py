"""A ring of sampling blocks between the sensor interrupt (one writer) and the BLE sender (one
reader), written for MicroPython: preallocated slots, no allocation per block.

The writer only moves ``head``, the reader only ``tail``, so the two never need a lock. When the
ring is full the *new* block is dropped and counted (PROTOCOL.md §2.1: "drop whole blocks and keep
counting"); its samples' indices are never sent, so the next notification's ``first_index`` shows
the Pi exactly what is missing. Pure: no imports.
"""


class BlockRing:
    """``n_slots`` blocks of at most ``block_samples`` EMG samples (``n_channels`` int16 each,
    little-endian, sample-major) and at most ``max_accel`` accelerometer samples (6 bytes each).

    Slot fields: ``first[i]`` EMG index of the first sample (u32), ``count[i]`` EMG samples,
    ``accel_count[i]`` accelerometer samples, ``status[i]`` lead-off bits (PROTOCOL.md §2),
    ``emg[i]``/``accel[i]`` the bytes.
    """

    def __init__(self, n_slots: int, n_channels: int, block_samples: int, max_accel: int) -> None:
        if n_slots < 2 or n_channels < 1 or block_samples < 1 or max_accel < 0:
            raise ValueError("ring: need n_slots >= 2, n_channels >= 1, block_samples >= 1")
        self.n_slots = n_slots
        self.n_channels = n_channels
        self.emg = [bytearray(2 * n_channels * block_samples) for _ in range(n_slots)]
        self.accel = [bytearray(6 * max_accel) for _ in range(n_slots)]
        self.first = [0] * n_slots
        self.count = [0] * n_slots
        self.accel_count = [0] * n_slots
        self.status = [0] * n_slots
        self.head = 0  # blocks ever pushed (writer)
        self.tail = 0  # blocks ever released (reader)
        self.dropped_blocks = 0
        self.dropped_samples = 0

    def push(
        self,
        emg: bytearray | memoryview,
        count: int,
        accel: bytearray | memoryview,
        accel_count: int,
        first: int,
        status: int,
    ) -> bool:
        """Copy one block in (writer side); False, and counted, when the ring is full."""
        if self.head - self.tail >= self.n_slots:
            self.dropped_blocks += 1
            self.dropped_samples += count
            return False
        i = self.head % self.n_slots
        emg_bytes = 2 * self.n_channels * count
        self.emg[i][:emg_bytes] = emg[:emg_bytes]
        accel_bytes = 6 * accel_count
        self.accel[i][:accel_bytes] = accel[:accel_bytes]
        self.first[i] = first
        self.count[i] = count
        self.accel_count[i] = accel_count
        self.status[i] = status
        self.head += 1  # publish last: the reader never sees a half-written slot
        return True

    def filled(self) -> int:
        """Blocks waiting for the reader."""
        return self.head - self.tail

    def slot(self, k: int) -> int:
        """Slot number of the ``k``-th waiting block (0 = oldest)."""
        return (self.tail + k) % self.n_slots

    def release(self, blocks: int) -> None:
        """The reader is done with the ``blocks`` oldest blocks."""
        self.tail += min(blocks, self.head - self.tail)

