"""The wearable's stream state and its control writes (PROTOCOL.md §3, §4). Pure: imports our
``wire`` only.
"""

from firmware import wire

# Rates this firmware can run: the ADS1292R's data rates (CONFIG1) and accelerometer rates that
# divide them and that the LIS3DH's 100 Hz output keeps fresh.
EMG_RATES_HZ = (250, 500, 1000, 2000)
MAX_ACCEL_RATE_HZ = 100


class StreamControl:
    """START/STOP, SET_RATES (only while stopped) and SET_BATCH; builds the device info.

    ``apply`` returns True when the write was accepted. MicroPython's ``bluetooth`` module cannot
    answer a write with an ATT error (§4's 0x80-0x82), so a refused write is only ignored and
    counted in ``refused``; the Pi reads the device info again after SET_RATES.
    """

    def __init__(
        self, emg_rate_hz: int, accel_rate_hz: int, block_samples: int, max_blocks: int
    ) -> None:
        self.emg_rate_hz = emg_rate_hz
        self.accel_rate_hz = accel_rate_hz
        self.block_samples = block_samples
        self.max_blocks = max_blocks
        self.batch_blocks = max_blocks
        self.streaming = False
        self.rates_changed = False
        self.refused = 0

    @property
    def ratio(self) -> int:
        return self.emg_rate_hz // self.accel_rate_hz

    @property
    def batch_samples(self) -> int:
        return min(wire.MAX_SAMPLES, self.block_samples * self.batch_blocks)

    def device_info(
        self,
        emg_uv_per_lsb: float,
        accel_g_per_lsb: float,
        leg: int,
        firmware_version: tuple[int, int, int],
        sites: tuple[int, ...],
    ) -> bytes:
        """The §3 value for the current rates and batching."""
        return wire.device_info(
            self.emg_rate_hz,
            self.accel_rate_hz,
            emg_uv_per_lsb,
            accel_g_per_lsb,
            leg,
            firmware_version,
            self.block_samples,
            self.max_blocks,
            sites,
        )

    def apply(self, data: bytes | bytearray) -> bool:
        """One control write; False (and counted) when malformed, unsupported or busy."""
        command = wire.parse_control(data)
        ok = command is not None
        if command is not None:
            op, a, b = command
            if op == wire.OP_START:
                self.streaming = True
            elif op == wire.OP_STOP:
                self.streaming = False
            elif op == wire.OP_SET_BATCH:
                ok = 1 <= a <= self.max_blocks
                if ok:
                    self.batch_blocks = a
            else:  # SET_RATES
                ok = (
                    not self.streaming
                    and a in EMG_RATES_HZ
                    and 1 <= b <= MAX_ACCEL_RATE_HZ
                    and a % b == 0
                )
                if ok:
                    self.emg_rate_hz, self.accel_rate_hz = a, b
                    self.rates_changed = True
        if not ok:
            self.refused += 1
        return ok
