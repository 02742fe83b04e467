"""The sensor side: the ADS1292R's data-ready line clocks every EMG sample. Hardware: imports
``machine`` and ``time``.

Per data-ready edge (a soft interrupt on the ESP32 port): read the PCNT edge counter, skip the
conversions that went by unread (``blocks.new_conversions``), read the 9-byte frame, take the
accelerometer sample when one is due (§2.3), convert and hand the sample to the
``BlockAssembler``. While nobody is connected the front end and the accelerometer are powered
down; on resume the index jumps by the time spent idle (§2.1: the index counts samples since
boot, so the Pi sees the reconnect as a gap).
"""

import time

from machine import Counter, Pin

from firmware.ads1292r import Ads1292r
from firmware.blocks import BlockAssembler, new_conversions
from firmware.frontend import DcBlocker, lead_off_status
from firmware.lis3dh import Lis3dh


class Sampler:
    """Drives ``afe`` and ``accel`` and fills ``assembler`` at ``emg_rate_hz``."""

    def __init__(
        self,
        afe: Ads1292r,
        accel: Lis3dh,
        drdy: Pin,
        assembler: BlockAssembler,
        emg_rate_hz: int,
    ) -> None:
        self.afe = afe
        self.accel = accel
        self.drdy = drdy
        self.assembler = assembler
        self.emg_rate_hz = emg_rate_hz
        self.n_channels = assembler.n_channels
        self.blocker = DcBlocker(self.n_channels)
        self.counts = [0] * self.n_channels
        # PCNT: counts data-ready edges in hardware, so a missed interrupt is known exactly.
        self.counter = Counter(0, drdy, edge=Counter.FALLING)
        self.last_count = 0
        self.running = False
        self.idle_since_ms = time.ticks_ms()

    def _on_data_ready(self, _pin: Pin) -> None:
        count = self.counter.value()
        new = new_conversions(count, self.last_count)
        if new == 0:
            return  # the handler queued twice for one edge
        frame = self.afe.read_frame()
        after = self.counter.value()
        if after != count:  # a newer conversion landed while reading: the frame is that one
            new += new_conversions(after, count)
            count = after
        self.last_count = count
        assembler = self.assembler
        if new > 1:
            assembler.skip(new - 1)
        if assembler.accel_due():
            x, y, z = self.accel.read()
            assembler.add_accel(x, y, z)
        self.blocker.counts(frame, self.counts)
        assembler.add_sample(self.counts, lead_off_status(frame, self.n_channels))

    def start(self) -> None:
        """Power up and sample; the index first jumps over the time spent idle."""
        idle_ms = time.ticks_diff(time.ticks_ms(), self.idle_since_ms)
        self.assembler.skip(idle_ms * self.emg_rate_hz // 1000)
        self.afe.configure(self.emg_rate_hz, self.n_channels)
        self.blocker = DcBlocker(self.n_channels)
        self.last_count = self.counter.value()
        self.drdy.irq(trigger=Pin.IRQ_FALLING, handler=self._on_data_ready)
        self.afe.start()
        self.running = True

    def stop(self) -> None:
        """Power down the front end and accelerometer (low-power idle)."""
        self.drdy.irq(handler=None)
        self.afe.stop()
        self.afe.power_down()
        self.accel.sleep()
        self.assembler.flush()
        self.running = False
        self.idle_since_ms = time.ticks_ms()
