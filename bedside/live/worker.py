"""One wearable's worker: every packet is recorded, decoded and run through a detector.

::

    PacketSource.packets() ─► LegWorker ─► SessionWriter (every notification, power-cut safe)
                                       └─► Decoder ─► PacketFeed ─► StreamFeed ─► EventRecord

The feed (``bedside.stream``) is the one session replay runs too, so a replay of the recording
gives the events this worker gave. Detection never waits on anything: O(block) work per packet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bedside.config.settings import Settings
from bedside.live.recorder import PausableRecording
from bedside.stream.build import detector_factory, for_device
from bedside.stream.calibration_store import calibration_path, load_calibration
from bedside.stream.feed import StreamFeed
from bedside.stream.records import EventRecord
from bedside.stream.session_feed import PacketFeed
from detector.calibration import Calibration
from detector.pipeline import Pipeline
from detector.rules import BLIND_CONFIRM_S
from detector.types import PipelineStatistics
from firmware_bridge.codec import Decoder
from firmware_bridge.errors import InputError
from firmware_bridge.protocol import DeviceInfo, leg_name
from firmware_bridge.source import LinkEvent, PacketSource

log = logging.getLogger(__name__)

RecordCallback = Callable[[EventRecord], None]
# usable EMG this long without accelerometer data before the daemon says so: longer than the
# gaps a reconnect or a bad packet leaves, short next to a night
ACCEL_WARN_S = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LegStatistics:
    label: str
    leg: str
    packets: int
    frames: int
    gaps: int
    missing_emg_samples: int
    resets: int
    bad_frames: int
    stream_s: float
    events: int
    cramps: int
    seconds_bad_quality: float
    recorded_notifications: int
    seconds_without_accel: float = 0.0  # usable EMG with no valid accelerometer data ("blind")
    # with a calibration: the night's own rest floor / the calibrated rest (0: none, or not yet)
    floor_vs_calibration: float = 0.0
    # recording (issue #16 item 4): paused on a write error, e.g. a full disk, and tried again
    recording_paused: bool = False
    disk_full: bool = False  # the state directory's filesystem is full (recording paused)
    recording_pauses: int = 0
    unrecorded_notifications: int = 0  # received and detected on, but not recorded


class LegWorker:
    """One wearable: every packet is recorded, decoded and run through a fresh detector.

    The detector is built when the first packet arrives (the link has read the device info by
    then). Stream time 0 is the first whole accelerometer-aligned sample received; ``t_*`` of
    events count from there, and ``session_start`` is its wall time.
    """

    def __init__(
        self,
        *,
        label: str,
        settings: Settings,
        session_id: str,
        on_record: RecordCallback,
        recording_dir: Path | None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.leg = label
        self._settings = settings
        self._session_id = session_id
        self._on_record = on_record
        self._recording_dir = recording_dir
        self._wall = wall
        self._monotonic = monotonic
        self.recorder: PausableRecording | None = None
        self.decoder: Decoder | None = None
        self.pipeline: Pipeline | None = None
        self.session_start: datetime | None = None
        self.stream: PacketFeed | None = None
        self._packets = 0
        self.last_progress_mono = monotonic()
        self._final_stream_s = 0.0
        self._final_pipeline: PipelineStatistics | None = None
        self._blind_seen = 0.0  # the pipeline's seconds_without_accel at the last check
        self._blind_run = 0.0  # … of them since the accelerometer last worked
        self._accel_warned = False
        self._floor_warned = False  # the calibration mismatch was said

    # -- wiring --------------------------------------------------------------------------------
    def on_link_event(self, event: LinkEvent) -> None:
        """BleClient's ``on_event``: every link event goes into the recording."""
        if self.recorder is not None:
            try:
                self.recorder.link_event(event.kind, **dict(event.fields))
            except (TypeError, ValueError) as exc:  # fields that are not JSON; a full disk
                log.warning("%s: link event %s not recorded: %s", self.label, event.kind, exc)

    def open_recording(self) -> None:
        """Start the session file; if it cannot be written (a full disk) recording pauses and
        is tried again while detection goes on (:class:`PausableRecording`)."""
        if self._recording_dir is None:
            return
        self.recorder = PausableRecording(
            self._recording_dir, self.label, wall=self._wall, monotonic=self._monotonic
        )
        self.recorder.open()

    @property
    def recording_path(self) -> Path | None:
        """The session file being written (a resumed recording may have started a new one)."""
        return self.recorder.path if self.recorder is not None else None

    async def run(self, link: PacketSource) -> None:
        """Consume the source's packets until it closes (the BLE client raises ``LinkError`` on
        give-up)."""
        try:
            async for packet in link.packets():
                self._packets += 1
                self.last_progress_mono = self._monotonic()
                if self.recorder is not None:
                    self.recorder.notification(packet.data, packet.t_mono)
                if self.decoder is None and not self._start(link):
                    continue
                assert self.decoder is not None and self.stream is not None
                assert self.pipeline is not None
                self.decoder.feed(packet.data)
                for item in self.decoder.events():
                    self.stream.handle(item)  # the rules session replay uses too
                stats = self.pipeline.statistics()  # once per packet, for both checks
                self._check_accelerometer(stats)
                self._check_calibration(stats)
        finally:
            self.finish()

    def finish(self) -> None:
        if self.pipeline is not None and self.stream is not None:
            self.stream.finish()
            self._final_stream_s = self.stream_s()
            self._final_pipeline = self.pipeline.statistics()
            self.pipeline = None
        if self.recorder is not None:
            self.recorder.close()  # stays, closed: its path and counts outlive the night

    def _start(self, link: PacketSource) -> bool:
        info = link.device_info
        if info is None:
            log.warning("%s: data before device info; kept in the recording only", self.label)
            return False
        self.leg = leg_name(info, self.label)
        calibration = self._calibration(info)
        if self.recorder is not None:  # what a session replay needs to decode and name events
            extra = {} if calibration is None else {"calibration": calibration.as_dict()}
            self.recorder.link_event(
                "device_info", data=info.to_bytes(), session_id=self._session_id,
                label=self.label, **extra
            )
        self.decoder = Decoder(info)
        detector = for_device(detector_factory(self._settings.detector, calibration), info)
        assert isinstance(detector, Pipeline)  # the default detector: status() and calibration
        self.pipeline = detector
        feed = StreamFeed(
            detector,
            session_id=self._session_id,
            leg=self.leg,
            session_start=self._session_start,
            emit=self._on_record,
        )
        self.stream = PacketFeed(info, feed, on_origin=self._origin, label=self.label)
        log.info(
            "%s: %s leg, %d EMG channel(s) at %d Hz, accelerometer at %d Hz, firmware %s",
            self.label, self.leg, info.n_emg_channels, info.emg_rate_hz, info.accel_rate_hz,
            ".".join(map(str, info.firmware_version)),
        )
        return True

    def _calibration(self, info: DeviceInfo) -> Calibration | None:
        """This leg's calibration (``crampwatch calibrate``), if there is a usable one: a
        broken or mismatched file is said once and left out, never fatal."""
        path = calibration_path(self._settings.daemon.state_dir, self.leg)
        if not path.exists():
            return None
        try:
            calibration = load_calibration(path)
        except InputError as exc:
            log.warning("%s: calibration not used: %s", self.label, exc)
            return None
        if len(calibration.rest_uv) != info.n_emg_channels:
            log.warning("%s: calibration not used: %s has %d EMG channels, the wearable %d",
                        self.label, path, len(calibration.rest_uv), info.n_emg_channels)
            return None
        log.info("%s: calibration from %s: rest %s µV", self.label, path,
                 ", ".join(f"{v:.2f}" for v in calibration.rest_uv))
        return calibration

    def _check_calibration(self, stats: PipelineStatistics) -> None:
        """Say once when the night's own rest floor is far from the calibrated rest (the
        electrode moved or its contact changed since the calibration)."""
        if self.pipeline is None or self.pipeline.calibration is None or self._floor_warned:
            return
        ratio = stats.floor_vs_calibration
        limit = self._settings.detector.calibration_mismatch
        if ratio and not 1.0 / limit <= ratio <= limit:
            self._floor_warned = True
            log.warning("%s: tonight's rest EMG is %.2f× the calibrated rest: the wearable "
                        "may sit elsewhere than when calibrated; the detector follows tonight's "
                        "level, but consider calibrating again", self.label, ratio)

    def _check_accelerometer(self, stats: PipelineStatistics) -> None:
        """Say once when the EMG has been usable for ``ACCEL_WARN_S`` without valid
        accelerometer data (a failed IMU reads zeros or nothing), and again when it is back.
        Detection goes on "blind", but the sleeper should know it is weaker."""
        if self.pipeline is None:
            return
        blind = stats.seconds_without_accel
        if blind > self._blind_seen:
            self._blind_run += blind - self._blind_seen
            self._blind_seen = blind
            if self._blind_run >= ACCEL_WARN_S and not self._accel_warned:
                self._accel_warned = True
                log.warning(
                    "%s: no valid accelerometer data for %.0f s of usable EMG (IMU failed or "
                    "reading zeros?): posture and movement are unknown, so a cramp needs %.0f s "
                    "to alarm and a long leg movement may alarm; check the wearable",
                    self.label, self._blind_run, BLIND_CONFIRM_S,
                )
        elif self.pipeline.status().posture != "unknown":
            if self._accel_warned:
                log.info("%s: accelerometer data back after %.0f s without",
                         self.label, self._blind_run)
            self._accel_warned = False
            self._blind_run = 0.0

    def _origin(self, n_emg: int) -> None:
        """Stream time 0 is in the frame being handled: its wall clock starts the session."""
        assert self.stream is not None and self.decoder is not None
        received = self._wall() - n_emg / self.decoder.info.emg_rate_hz
        self.session_start = datetime.fromtimestamp(received, UTC)
        if self.recorder is not None:
            self.recorder.link_event(
                "stream_origin",
                device_emg_index=self.stream.base_emg_index,
                session_start=self.session_start.isoformat(),
            )

    def _session_start(self) -> datetime:
        """Stream time 0's wall clock; before the first frame (never, for events) now."""
        return self.session_start or datetime.fromtimestamp(self._wall(), UTC)

    def stream_s(self) -> float:
        if self.decoder is None or self.pipeline is None:
            return self._final_stream_s
        return self.pipeline.statistics().emg_samples / self.decoder.info.emg_rate_hz

    def statistics(self) -> LegStatistics:
        p = self.pipeline.statistics() if self.pipeline is not None else self._final_pipeline
        d = self.stream.statistics() if self.stream is not None else None
        r = self.recorder.statistics() if self.recorder is not None else None
        return LegStatistics(
            label=self.label,
            leg=self.leg,
            packets=self._packets,
            frames=d.frames if d is not None else 0,
            gaps=d.gaps if d is not None else 0,
            missing_emg_samples=d.missing_emg_samples if d is not None else 0,
            resets=d.resets if d is not None else 0,
            bad_frames=d.bad_frames if d is not None else 0,
            stream_s=round(self.stream_s(), 3),
            events=self.stream.feed.events if self.stream is not None else 0,
            cramps=p.cramps if p is not None else 0,
            seconds_bad_quality=p.seconds_bad_quality if p is not None else 0.0,
            recorded_notifications=r.notifications if r is not None else 0,
            recording_paused=r is not None and r.paused,
            disk_full=r is not None and r.disk_full,
            recording_pauses=r.pauses if r is not None else 0,
            unrecorded_notifications=r.skipped_notifications if r is not None else 0,
            seconds_without_accel=p.seconds_without_accel if p is not None else 0.0,
            floor_vs_calibration=p.floor_vs_calibration if p is not None else 0.0,
        )


