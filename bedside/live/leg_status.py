"""One wearable's state right now, as one typed value: what MQTT publishes per leg, and what
local fault alerts (strap or electrode off, battery low, link lost) read.

``LegTracker`` turns the worker's and the BLE client's cumulative counters into it: the good
fraction of the last minute of signal, how long the link has been lost, when data last came.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from bedside.live.worker import LegWorker
from detector.types import Quality
from firmware_bridge.ble_client import LinkState, LinkStatistics

GOOD_WINDOW_S = 60.0  # signal quality = good seconds over the last minute of stream time

# ble_client states → the four link states Home Assistant knows (ha_discovery.LINK_STATES).
HA_LINK_STATE = {
    LinkState.STREAMING: "connected",
    LinkState.SCANNING: "connecting",
    LinkState.CONNECTING: "connecting",
    LinkState.BACKOFF: "disconnected",
    LinkState.IDLE: "disconnected",
    LinkState.CLOSED: "disconnected",
    LinkState.POWER_CYCLING: "adapter_error",
    LinkState.FAILED: "adapter_error",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LegStatus:
    """One wearable now. Times are wall clock (UTC) or seconds; None = not known yet."""

    label: str  # the worker's label (left/right/wearable)
    leg: str  # its MQTT leg: "left"/"right", or "" for one unnamed wearable
    link_state: str  # one of ha_discovery.LINK_STATES
    streaming: bool
    link_lost_s: float  # seconds since the link last streamed (0 while streaming)
    battery_percent: int | None
    rssi_at_scan_dbm: int | None  # of the last advertisement (BlueZ gives none while connected)
    quality: Quality | None  # the detector's signal quality now (LEAD_OFF: strap or electrode off)
    good_fraction: float | None  # 0..1: good signal over the last GOOD_WINDOW_S of stream
    posture: str | None  # the detector's posture ("lying" | "upright" | "unknown")
    last_data: datetime | None  # when the last packet arrived
    packet_loss_pct: float | None  # EMG samples lost in gaps, % of those due, since start

    @property
    def contact_problem(self) -> bool:
        """The strap or an electrode is off (lead-off), or the contact is noisy."""
        return self.streaming and self.quality in (Quality.LEAD_OFF, Quality.NOISY, Quality.HUM)


class GoodFraction:
    """Fraction of the last ``window_s`` of stream time whose signal was good, from the
    cumulative ``(stream_s, bad_s)`` pairs the pipeline counts (fed in time order)."""

    def __init__(self, window_s: float = GOOD_WINDOW_S) -> None:
        self._window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()

    def update(self, stream_s: float, bad_s: float) -> float | None:
        """Add the counters now; the good fraction since the oldest pair still inside the
        window (None until some stream time has passed)."""
        samples = self._samples
        if not samples or stream_s > samples[-1][0]:
            samples.append((stream_s, bad_s))
        # keep one pair at or before the window's start, so the span covers the whole window
        while len(samples) > 1 and samples[1][0] <= stream_s - self._window_s:
            samples.popleft()
        start_s, start_bad = samples[0]
        span = stream_s - start_s
        if span <= 0:
            return None
        return min(1.0, max(0.0, 1.0 - (bad_s - start_bad) / span))


class LegTracker:
    """Builds ``LegStatus`` for one worker and its link, call after call (monotonic seconds)."""

    def __init__(self, leg: str, started_mono: float) -> None:
        self.leg = leg
        self._good = GoodFraction()
        self._lost_since: float | None = started_mono
        self._fraction: float | None = None

    def status(
        self, worker: LegWorker, link: LinkStatistics, *, now_mono: float, now_wall: float
    ) -> LegStatus:
        streaming = link.state is LinkState.STREAMING
        if streaming:
            self._lost_since = None
        elif self._lost_since is None:
            self._lost_since = now_mono
        stats = worker.statistics()
        pipeline = worker.pipeline
        status = pipeline.status() if pipeline is not None else None
        if pipeline is not None:
            self._fraction = self._good.update(stats.stream_s, stats.seconds_bad_quality)
        last_data = None
        if stats.packets:
            age = max(0.0, now_mono - worker.last_progress_mono)
            last_data = datetime.fromtimestamp(now_wall - age, UTC)
        loss = None
        if worker.decoder is not None:
            received = stats.stream_s * worker.decoder.info.emg_rate_hz
            due = received + stats.missing_emg_samples
            loss = round(100.0 * stats.missing_emg_samples / due, 3) if due else None
        return LegStatus(
            label=worker.label,
            leg=self.leg,
            link_state=HA_LINK_STATE.get(link.state, "disconnected"),
            streaming=streaming,
            link_lost_s=0.0 if self._lost_since is None else now_mono - self._lost_since,
            battery_percent=link.battery_percent,
            rssi_at_scan_dbm=link.rssi_dbm,
            quality=status.quality if status is not None else None,
            good_fraction=self._fraction if status is not None else None,
            posture=status.posture if status is not None else None,
            last_data=last_data,
            packet_loss_pct=loss,
        )
