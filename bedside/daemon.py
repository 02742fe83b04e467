"""The bedside daemon: wearable link(s) → recording → codec → detector → events → MQTT, prompt.

::

    BleClient.packets() ─► LegWorker ─► SessionWriter (every notification, power-cut safe)
                                    └─► Decoder ─► Pipeline ─► event record ─► EventSink
    EventSink: events.jsonl history (fsynced) ─► MqttPublisher (outbox first) ─► PromptEngine

Detection never waits on MQTT, audio or disk: the notify callback only queues bytes, the worker
does O(block) work per packet, the publisher stores an event in sqlite (one commit, events are
rare) and hands it to paho's thread, and the prompt engine plays in its own task. The worker
runs wherever its packets come from: the real wearable through BlueZ, or the virtual wearable
through bleak's ``backend=`` hook (``bedside/virtual.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bedside.calibration_store import calibration_path, load_calibration
from bedside.events import dumps, event_record, read_events
from bedside.mqtt import Command, MqttPublisher
from bedside.outbox import Outbox
from bedside.prompt.engine import PromptEngine
from bedside.prompt.reminder import AdherenceLog, BedtimeReminder
from bedside.prompt.reminder import night_of as reminder_night_of
from bedside.report import write_night_report
from bedside.retention import prune_recordings
from bedside.sdnotify import Notifier, Watchdog, watchdog_interval_s
from bedside.session_replay import StreamDetector
from bedside.settings import Settings, adherence_file
from detector.calibration import Calibration
from detector.pipeline import Pipeline
from detector.types import DetectorEvent, PipelineStatistics, Quality
from firmware_bridge.ble_client import BleClient, LinkEvent, LinkState
from firmware_bridge.codec import Decoder
from firmware_bridge.errors import InputError, LinkError, RecordingError
from firmware_bridge.protocol import DeviceInfo, Leg, Site
from firmware_bridge.recording import SessionWriter

log = logging.getLogger(__name__)

EventCallback = Callable[[dict[str, Any]], None]
RECORDING_FLUSH_S = 2.0  # a power cut loses at most this much of an idle recording
RETENTION_CHECK_S = 600.0  # an 8-h night grows ~150 MB: checking every 10 min keeps margins
# usable EMG this long without accelerometer data before the daemon says so: longer than the
# gaps a reconnect or a bad packet leaves, short next to a night
ACCEL_WARN_S = 30.0

# Site codes whose channel is a shin (tibialis anterior) channel: the detector uses it only to
# recognise leg movements, never to alarm (detector.pipeline.Pipeline docstring).
_SITE_LABELS = {
    Site.TIBIALIS_ANTERIOR: "EMG shin",
    Site.GASTROCNEMIUS_MEDIAL: "EMG calf medial",
    Site.GASTROCNEMIUS_LATERAL: "EMG calf lateral",
    Site.SOLEUS: "EMG soleus",
}

# ble_client states → the four link states Home Assistant knows (ha_discovery.LINK_STATES).
_HA_LINK_STATE = {
    LinkState.STREAMING: "connected",
    LinkState.SCANNING: "connecting",
    LinkState.CONNECTING: "connecting",
    LinkState.BACKOFF: "disconnected",
    LinkState.IDLE: "disconnected",
    LinkState.CLOSED: "disconnected",
    LinkState.POWER_CYCLING: "adapter_error",
    LinkState.FAILED: "adapter_error",
}


def leg_name(info: DeviceInfo, fallback: str) -> str:
    return {Leg.LEFT: "left", Leg.RIGHT: "right"}.get(info.leg, fallback)


def emg_labels(info: DeviceInfo) -> tuple[str, ...]:
    return tuple(_SITE_LABELS.get(site, "EMG calf") for site in info.emg_sites)


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
        on_record: EventCallback,
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
        self.recorder: SessionWriter | None = None
        self.recording_path: Path | None = None
        self.decoder: Decoder | None = None
        self.pipeline: Pipeline | None = None
        self.session_start: datetime | None = None
        self.stream: StreamDetector | None = None
        self._packets = self._events = 0
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
            except (RecordingError, TypeError, ValueError) as exc:
                log.warning("%s: link event %s not recorded: %s", self.label, event.kind, exc)

    def open_recording(self) -> None:
        if self._recording_dir is None:
            return
        self._recording_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        now = datetime.fromtimestamp(self._wall(), UTC)
        path = self._recording_dir / f"{now:%Y%m%dT%H%M%SZ}-{self.label}.cwsession"
        self.recorder = SessionWriter(path, session_start=now, monotonic=self._monotonic)
        self.recording_path = path
        log.info("%s: recording to %s", self.label, path)

    async def run(self, link: BleClient) -> None:
        """Consume the link's packets until it closes (or raises ``LinkError`` on give-up)."""
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
        if self.pipeline is not None:
            self._emit(self.pipeline.finish())
            self._final_stream_s = self.stream_s()
            self._final_pipeline = self.pipeline.statistics()
            self.pipeline = None
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None

    def _start(self, link: BleClient) -> bool:
        info = link.statistics().device_info
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
        self.pipeline = Pipeline(
            self._settings.detector,
            emg_rate_hz=float(info.emg_rate_hz),
            accel_rate_hz=float(info.accel_rate_hz),
            n_emg_channels=info.n_emg_channels,
            emg_labels=emg_labels(info),
            calibration=calibration,
        )
        self.stream = StreamDetector(
            info, self.pipeline, emit=self._emit, on_origin=self._origin, label=self.label
        )
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
                    self.label, self._blind_run, self._settings.detector.blind_confirm_s,
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

    def _emit(self, events: list[DetectorEvent]) -> None:
        for event in events:
            self._events += 1
            start = self.session_start or datetime.fromtimestamp(self._wall(), UTC)
            record = event_record(
                event, session_id=self._session_id, leg=self.leg, session_start=start
            )
            self._on_record(record)

    def stream_s(self) -> float:
        if self.decoder is None or self.pipeline is None:
            return self._final_stream_s
        return self.pipeline.statistics().emg_samples / self.decoder.info.emg_rate_hz

    def statistics(self) -> LegStatistics:
        p = self.pipeline.statistics() if self.pipeline is not None else self._final_pipeline
        d = self.stream.statistics() if self.stream is not None else None
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
            events=self._events,
            cramps=p.cramps if p is not None else 0,
            seconds_bad_quality=p.seconds_bad_quality if p is not None else 0.0,
            recorded_notifications=(
                self.recorder.statistics().notifications if self.recorder is not None else 0
            ),
            seconds_without_accel=p.seconds_without_accel if p is not None else 0.0,
            floor_vs_calibration=p.floor_vs_calibration if p is not None else 0.0,
        )


def night_of(moment: datetime) -> str:
    """The night a moment belongs to (noon to noon, local time), named by its evening's date:
    the same rule as the bedtime reminder's, so reports, summaries and adherence line up."""
    return reminder_night_of(moment.astimezone()).isoformat()


def restore_night(history: Path, night: str) -> list[dict[str, Any]]:
    """Tonight's events from the event history, so a restart (crash, SIGHUP, update) keeps the
    night's count; unreadable lines are skipped with one warning."""
    if not history.exists():
        return []
    restored: list[dict[str, Any]] = []
    for record in read_events(history).events:  # bad lines are counted and logged there
        try:
            when = datetime.fromisoformat(str(record["time"]))
        except (KeyError, ValueError):
            continue
        if night_of(when) == night:
            restored.append(record)
    return restored


@dataclass
class NightSummary:
    """What the daemon tells at the end of a night (and publishes as the nightly summary)."""

    night: str
    cramps: int = 0
    total_cramp_s: float = 0.0
    durations_s: list[float] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, record: dict[str, Any]) -> None:
        self.events.append(record)
        if record.get("event") == "cramp_started":
            self.cramps += 1
        elif record.get("event") == "cramp_ended":
            duration = float(record.get("duration_s") or 0.0)
            self.durations_s.append(duration)
            self.total_cramp_s += duration

    def as_json(self) -> dict[str, Any]:
        return {
            "night": self.night,
            "cramps": self.cramps,
            "total_cramp_s": round(self.total_cramp_s, 1),
            "longest_cramp_s": round(max(self.durations_s, default=0.0), 1),
        }


class EventSink:
    """Where every event record goes, in this order: history file (fsynced), outbox + MQTT,
    prompt, printer. A failure of one consumer is logged and counted; the others still run."""

    def __init__(
        self,
        *,
        history_path: Path | None,
        publisher: MqttPublisher | None,
        prompt: PromptEngine | None,
        printer: EventCallback | None,
        summary: NightSummary,
    ) -> None:
        self._history = history_path
        self._publisher = publisher
        self._prompt = prompt
        self._printer = printer
        self.summary = summary
        self.failures: dict[str, int] = {"history": 0, "mqtt": 0, "prompt": 0, "printer": 0}
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, record: dict[str, Any]) -> None:
        self.summary.add(record)
        if self._history is not None and record.get("event") != "cramp_update":
            try:
                with self._history.open("a", encoding="utf-8") as fh:
                    fh.write(dumps(record) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                self.failures["history"] += 1
                log.error("event history %s not written: %s", self._history, exc)
        if self._publisher is not None:
            try:
                self._publisher.publish_event(record)
                if record.get("event") == "cramp_started":
                    self._publisher.publish_state("count_tonight", self.summary.cramps)
            except Exception:  # the publisher must never stop detection
                self.failures["mqtt"] += 1
                log.exception("MQTT publisher failed on %s", record.get("event_id"))
        # the prompt needs starts and ends, and the updates that say the level fell or rose
        if self._prompt is not None and (record.get("event") != "cramp_update"
                                         or "easing" in record):
            task = asyncio.get_running_loop().create_task(self._prompt.on_event(record))
            self._tasks.add(task)
            task.add_done_callback(self._prompt_done)
        if self._printer is not None:
            try:
                self._printer(record)
            except Exception:
                self.failures["printer"] += 1
                log.exception("printing an event failed")

    def _prompt_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failures["prompt"] += 1
            log.error("prompt failed: %s", task.exception())


@dataclass(frozen=True, slots=True)
class WearableSpec:
    """One wearable to keep connected: its label (left/right/…), link settings, bleak backend."""

    label: str
    client_factory: Callable[[Callable[[LinkEvent], None]], BleClient]


class Daemon:
    """Wires everything for one night; ``await run(stop)`` until ``stop`` is set.

    ``wearables`` make the BLE clients (real or virtual); ``publisher``/``prompt`` may be None.
    ``status`` receives a one-line status every ``status_every_s`` (terminal or log).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        wearables: list[WearableSpec],
        state_dir: Path,
        publisher: MqttPublisher | None = None,
        prompt: PromptEngine | None = None,
        printer: EventCallback | None = None,
        status: Callable[[str], None] | None = None,
        status_every_s: float = 1.0,
        notifier: Notifier | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.publisher = publisher
        self.prompt = prompt
        self._status = status
        self._status_every_s = status_every_s
        self._notifier = notifier or Notifier()
        self._wall = wall
        self._monotonic = monotonic
        started = datetime.fromtimestamp(wall(), UTC)
        self.session_id = f"{started:%Y%m%dT%H%M%SZ}"
        self.summary = NightSummary(night=night_of(started))
        for record in restore_night(state_dir / "events.jsonl", self.summary.night):
            self.summary.add(record)
        if self.summary.events:
            log.info("restored tonight's %d cramp(s) from the event history", self.summary.cramps)
        self.sink = EventSink(
            history_path=state_dir / "events.jsonl",
            publisher=publisher,
            prompt=prompt,
            printer=printer,
            summary=self.summary,
        )
        recordings = state_dir / "sessions" if settings.daemon.record_sessions else None
        self.workers: list[LegWorker] = []
        self.links: list[BleClient] = []
        for spec in wearables:
            worker = LegWorker(
                label=spec.label, settings=settings, session_id=self.session_id,
                on_record=self.sink, recording_dir=recordings, wall=wall, monotonic=monotonic,
            )
            self.workers.append(worker)
            self.links.append(spec.client_factory(worker.on_link_event))
        self._last_loop_tick = monotonic()
        self.watchdog = Watchdog(
            self._notifier,
            {"event loop": self._check_loop, "pipeline": self._check_pipeline},
        )
        self.reminder = BedtimeReminder(
            settings.prompt,
            AdherenceLog(self._adherence_path()),
            speak=prompt.say if prompt is not None else None,
            publish=(lambda p: publisher.publish_state("bedtime", p)) if publisher else None,
            wall_clock=lambda: datetime.fromtimestamp(self._wall()).astimezone(),
        )
        self.link_failure: LinkError | None = None
        self.worker_tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    def _adherence_path(self) -> Path:
        return adherence_file(self.settings, self.state_dir)

    def night_json(self, summary: NightSummary) -> dict[str, Any]:
        """The nightly summary, with whether the bedtime stretch was done that night."""
        done = any(
            r.get("event") == "done" and r.get("night") == summary.night
            for r in self.reminder.adherence.records()
        )
        return {**summary.as_json(), "bedtime_stretch_done": done}

    # -- health ---------------------------------------------------------------------------
    def _check_loop(self) -> str | None:
        lag = self._monotonic() - self._last_loop_tick
        return f"event loop stalled for {lag:.1f} s" if lag > 10.0 else None

    def _check_pipeline(self) -> str | None:
        """Unhealthy when packets are queued but none was processed for pipeline_stall_s.
        A wearable out of range is not unhealthy: then nothing is queued."""
        now = self._monotonic()
        for worker, link in zip(self.workers, self.links, strict=True):
            waiting = link.statistics().packets - worker.statistics().packets
            stalled = now - worker.last_progress_mono
            if waiting > 0 and stalled > self.settings.daemon.pipeline_stall_s:
                return f"{worker.label}: {waiting} packets waiting, none done for {stalled:.0f} s"
        return None

    # -- status ---------------------------------------------------------------------------
    def status_line(self) -> str:
        parts = []
        for worker, link in zip(self.workers, self.links, strict=True):
            ls = link.statistics()
            if worker.pipeline is not None:
                st = worker.pipeline.status()
                t = timedelta(seconds=round(st.t))
                state = "CRAMP" if st.cramp_active else "quiet"
                parts.append(
                    f"{worker.label}: {ls.state.value} t={t} quality={st.quality.value} "
                    f"envelope={st.envelope_uv:5.1f} µV floor={st.rest_floor_uv:4.1f} µV "
                    f"{st.posture} {state}"
                )
            else:
                parts.append(f"{worker.label}: {ls.state.value}")
        return " | ".join(parts) + f" | cramps={self.summary.cramps}"

    def _roll_night(self) -> None:
        """At noon the night is over: publish its summary and start counting the next one."""
        night = night_of(datetime.fromtimestamp(self._wall(), UTC))
        if night == self.summary.night:
            return
        log.info("night %s over: %s", self.summary.night, self.summary.as_json())
        task = asyncio.get_running_loop().create_task(self._close_night(self.summary))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        self.summary = self.sink.summary = NightSummary(night=night)

    async def _close_night(self, summary: NightSummary) -> None:
        """Draw the night's report (in a thread: it replays the recording) and publish the
        nightly summary with the report's path."""
        report = await asyncio.to_thread(
            write_night_report,
            self.state_dir,
            summary.as_json(),
            self.workers[0].recording_path,
            settings=self.settings.detector,
            adherence=self._adherence_path(),
        )
        if self.publisher is not None:
            self.publisher.publish_summary(
                {**self.night_json(summary), "report": str(report) if report else None}
            )

    def _publish_states(self) -> None:
        if self.publisher is None:
            return
        self.publisher.publish_state("count_tonight", self.summary.cramps)
        worker, link = self.workers[0], self.links[0]
        ls = link.statistics()
        self.publisher.publish_state("link_state", _HA_LINK_STATE.get(ls.state, "disconnected"))
        self.publisher.publish_state(
            "wearable_available", "online" if ls.state is LinkState.STREAMING else "offline"
        )
        if ls.battery_percent is not None:
            self.publisher.publish_state("battery", ls.battery_percent)
        if ls.rssi_dbm is not None:
            self.publisher.publish_state("rssi", ls.rssi_dbm)
        if worker.pipeline is not None:
            status = worker.pipeline.status()
            self.publisher.publish_state(
                "signal_quality", 100 if status.quality is Quality.GOOD else 0
            )
            # "unknown" while the accelerometer sends nothing valid (a dead IMU): detection
            # goes on with longer confirmation, and the dashboard can show why
            self.publisher.publish_state("posture", status.posture)

    def on_command(self, command: Command) -> None:
        """A fresh MQTT button press (stale ones were dropped by the publisher)."""
        log.info("command %s (%s)", command.name, command.value)
        if command.name == "test_prompt" and self.prompt is not None:
            self.prompt.say("opening", force=True)
        elif command.name == "silence" and self.prompt is not None:
            self.prompt.silence("night" if command.value == "night" else "cramp")
        elif command.name == "stretch_done":
            issued = (
                datetime.fromtimestamp(command.sent_at, UTC).astimezone()
                if command.sent_at is not None
                else None
            )
            self.reminder.confirm_done(issued_at=issued)
        elif command.name == "label_last" and self.publisher is not None:
            self.publisher.label_last(command.value or "false_alarm")
            self._append_label(command.value or "false_alarm")

    def _append_label(self, label: str) -> None:
        last = next(
            (e for e in reversed(self.summary.events) if e.get("event") == "cramp_started"), None
        )
        record = {
            "label": label,
            "event_id": last.get("event_id") if last else None,
            "time": datetime.fromtimestamp(self._wall(), UTC).isoformat(),
        }
        with (self.state_dir / "labels.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    # -- main loop ------------------------------------------------------------------------
    def prune_recordings(self) -> None:
        d = self.settings.daemon
        prune_recordings(
            self.state_dir / "sessions",
            max_age_days=d.recording_max_age_days,
            max_total_mb=d.recording_max_total_mb,
            min_free_mb=d.recording_min_free_mb,
            keep=[w.recorder.path for w in self.workers if w.recorder is not None],
        )

    async def run(self, stop: asyncio.Event) -> NightSummary:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.prune_recordings()
        for worker in self.workers:
            worker.open_recording()
        tasks = []
        for worker, link in zip(self.workers, self.links, strict=True):
            await link.start()
            task = asyncio.create_task(self._run_worker(worker, link, stop))
            self.worker_tasks.append(task)
            tasks.append(task)
        if self.prompt is not None:
            tasks.append(asyncio.create_task(self.prompt.run(), name="prompt-ticks"))
        tasks.append(asyncio.create_task(self._housekeeping(stop), name="housekeeping"))
        self._notifier.notify("READY=1")
        self._notifier.notify("STATUS=running")
        try:
            await stop.wait()
        finally:
            self._notifier.notify("STOPPING=1")
            for link in self.links:
                await link.close()  # ends packets(): the workers finish their detectors
            for task in tasks:
                if task.get_name() in {"prompt-ticks", "housekeeping"}:
                    task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._log_statistics()
            self._notifier.close()
        return self.summary

    async def _run_worker(self, worker: LegWorker, link: BleClient, stop: asyncio.Event) -> None:
        try:
            await worker.run(link)
        except LinkError as exc:
            log.error("%s: %s; exiting so that systemd restarts the service", worker.label, exc)
            self.link_failure = exc
            stop.set()

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        interval = watchdog_interval_s()
        next_watchdog = next_status = next_states = self._monotonic()
        next_stats = next_watchdog + self.settings.daemon.stats_interval_s
        next_flush = next_watchdog + RECORDING_FLUSH_S
        next_prune = next_watchdog + RETENTION_CHECK_S
        while not stop.is_set():
            now = self._monotonic()
            self._last_loop_tick = now
            if interval is not None and now >= next_watchdog:
                self.watchdog.tick()
                next_watchdog = now + interval
            if self._status is not None and now >= next_status:
                self._status(self.status_line())
                next_status = now + self._status_every_s
            self.reminder.tick()
            if now >= next_states:
                self._roll_night()
                self._publish_states()
                next_states = now + self.settings.daemon.status_interval_s
            if now >= next_flush:
                # Appends fsync themselves every 2 s; this covers a link that went quiet.
                for worker in self.workers:
                    if worker.recorder is not None:
                        worker.recorder.flush()
                next_flush = now + RECORDING_FLUSH_S
            if now >= next_prune:
                self.prune_recordings()
                next_prune = now + RETENTION_CHECK_S
            if now >= next_stats:
                self._log_statistics()
                next_stats = now + self.settings.daemon.stats_interval_s
            await asyncio.sleep(0.2)

    def _log_statistics(self) -> None:
        for worker in self.workers:
            s = worker.statistics()
            log.info(
                "%s: %.0f s streamed, packets %d, frames %d, gaps %d (%d samples), bad frames %d, "
                "events %d, bad quality %.0f s, no accelerometer %.0f s",
                s.label, s.stream_s, s.packets, s.frames, s.gaps, s.missing_emg_samples,
                s.bad_frames, s.events, s.seconds_bad_quality, s.seconds_without_accel,
            )
        if self.publisher is not None:
            p = self.publisher.statistics()
            log.info(
                "MQTT: connected %s, outbox pending %d, sent %d, acked %d",
                p.connected, p.outbox_pending, p.messages_sent, p.messages_acked,
            )
        if self.prompt is not None:
            log.info("prompt: %s", self.prompt.statistics())


def open_outbox(settings: Settings, state_dir: Path) -> Outbox:
    path = Path(settings.mqtt.outbox_file)
    if not path.is_absolute():
        path = state_dir / path
    return Outbox(
        path,
        max_events=settings.mqtt.outbox_max_events,
        max_age_s=settings.mqtt.outbox_max_age_days * 86400.0,
    )

