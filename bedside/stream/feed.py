"""The one feed loop: sample blocks and gaps → a detector → typed :class:`EventRecord` values.

Every path that runs the detector goes through :class:`StreamFeed`: the live worker (per
notification), session replay (the same decoded frames, in minute blocks), EDF replay, export,
tune, report, label and calibrate. Block output equals batch output for the detector
(house-style §2), so holding contiguous blocks and feeding them together changes no event; it
only saves calls. Gaps release what is held first, so samples are never glued across a gap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np

from bedside.stream.records import EventRecord, event_record
from detector.types import CrampDetector, DetectorEvent, FloatArray


class StreamFeed:
    """Feeds one stream to ``detector`` and hands each event, as an :class:`EventRecord`, to
    ``emit`` as soon as it appears.

    ``session_start()`` gives the wall clock of stream time 0 when an event is made (the live
    worker learns it at the first frame). ``batch_samples`` > 0 holds contiguous EMG blocks until
    about that many samples are held (0: every block at once, as live).
    """

    def __init__(
        self,
        detector: CrampDetector,
        *,
        session_id: str,
        leg: str,
        session_start: Callable[[], datetime],
        emit: Callable[[EventRecord], None],
        batch_samples: int = 0,
    ) -> None:
        self.detector = detector
        self.session_id = session_id
        self.leg = leg
        self._start = session_start
        self._emit = emit
        self._batch = batch_samples
        self._held_emg: list[FloatArray] = []
        self._held_accel: list[FloatArray] = []
        self._held = 0
        self.events = 0  # records emitted

    def process(self, emg: FloatArray, accel: FloatArray) -> None:
        """``emg`` (n_ch, n) µV and ``accel`` (3, m) g, contiguous with what came before."""
        if self._batch <= 0:
            self._send(self.detector.process(emg, accel))
            return
        self._held_emg.append(emg)
        self._held_accel.append(accel)
        self._held += emg.shape[1]
        if self._held >= self._batch:
            self.release()

    def gap(self, emg_samples: int, accel_samples: int) -> None:
        """Samples of each stream that were never received (a link drop, an EDF+D gap)."""
        self.release()
        self._send(self.detector.gap(emg_samples, accel_samples))

    def finish(self) -> None:
        """End of stream: the detector closes what is open (a cramp still running)."""
        self.release()
        self._send(self.detector.finish())

    def release(self) -> None:
        """Feed the blocks held for a batch."""
        if not self._held_emg:
            return
        emg = np.concatenate(self._held_emg, axis=1)
        accel = np.concatenate(self._held_accel, axis=1)
        self._held_emg, self._held_accel, self._held = [], [], 0
        self._send(self.detector.process(emg, accel))

    def _send(self, found: list[DetectorEvent]) -> None:
        for event in found:
            self.events += 1
            self._emit(
                event_record(
                    event, session_id=self.session_id, leg=self.leg,
                    session_start=self._start(),
                )
            )
