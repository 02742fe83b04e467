"""The bedside daemon: wearable link(s) → recording → codec → detector → events → MQTT, prompt.

::

    BleClient.packets() ─► LegWorker ─► SessionWriter (every notification, power-cut safe)
                                    └─► Decoder ─► PacketFeed ─► EventRecord ─► EventSink
    EventSink: MqttPublisher (outbox first) ─► events.jsonl history (fsynced) ─► PromptEngine

The end-of-night report is injected (``close_night``): the daemon never imports the offline
tools.

Detection never waits on MQTT, audio or disk: the notify callback only queues bytes, the worker
does O(block) work per packet, the publisher stores an event in sqlite (one commit, events are
rare) and hands it to paho's thread, and the prompt engine plays in its own task. The worker
runs wherever its packets come from: the real wearable through BlueZ, or the virtual wearable
through bleak's ``backend=`` hook (``bedside/live/virtual.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from bedside.config.settings import Settings, adherence_file
from bedside.live.ha_discovery import POSTURE_STATE
from bedside.live.leg_status import LegStatus, LegTracker
from bedside.live.mqtt import Command, MqttPublisher, sw_version
from bedside.live.outbox import Outbox
from bedside.live.retention import prune_recordings
from bedside.live.sdnotify import Notifier, Watchdog, watchdog_interval_s
from bedside.live.sink import EventSink, RecordCallback
from bedside.live.worker import LegWorker
from bedside.prompt.engine import PromptEngine
from bedside.prompt.faults import FaultMonitor, LegHealth
from bedside.prompt.reminder import AdherenceLog, BedtimeReminder
from bedside.stream.night import NightSummary, local_night, restore_night
from detector.settings import DetectorSettings
from detector.types import EventKind
from firmware_bridge.ble_client import BleClient, LinkState
from firmware_bridge.errors import LinkError
from firmware_bridge.source import LinkEvent

log = logging.getLogger(__name__)

RECORDING_FLUSH_S = 2.0  # a power cut loses at most this much of an idle recording
RETENTION_CHECK_S = 600.0  # an 8-h night grows ~150 MB: checking every 10 min keeps margins
FAULT_CHECK_S = 1.0  # fault alerts need seconds, not milliseconds (bedside/prompt/faults.py)

class NightReport(Protocol):
    """Draws the end-of-night report (``bedside.offline.report.write_night_report`` fits):
    ``(state_dir, summary JSON, recording or None, detector settings, adherence log path)`` →
    the report's path, or None; never raises."""

    def __call__(self, state_dir: Path, summary: dict[str, Any], session_path: Path | None, *,
                 settings: DetectorSettings | None = None, adherence: Path | None = None,
                 leg: str | None = None) -> Path | None: ...


@dataclass(frozen=True, slots=True)
class WearableSpec:
    """One wearable to keep connected: its label (left/right/…), link settings, bleak backend;
    its BLE address when known (Home Assistant lists it on the device); its leg in MQTT topics
    and entity ids ("": the one wearable of a single-wearable set-up, topics without a leg)."""

    label: str
    client_factory: Callable[[Callable[[LinkEvent], None]], BleClient]
    address: str = ""
    mqtt_leg: str = ""


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
        printer: RecordCallback | None = None,
        close_night: NightReport | None = None,
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
        self._night_report = close_night
        self.summary = NightSummary(night=local_night(started))
        history = state_dir / "events.jsonl"
        self.sink = EventSink(
            history_path=history,
            publisher=publisher,
            prompt=prompt,
            printer=printer,
            summary=self.summary,
        )
        if publisher is not None:  # a run killed between the outbox and the history
            self.sink.recover(publisher.unacknowledged_events())
        for record in restore_night(history, self.summary.night):
            self.summary.add(record)
        if self.summary.events:
            log.info("restored tonight's %d cramp(s) from the event history", self.summary.cramps)
        recordings = state_dir / "sessions" if settings.daemon.record_sessions else None
        self.workers: list[LegWorker] = []
        self.links: list[BleClient] = []
        self._trackers: list[LegTracker] = []
        for spec in wearables:
            worker = LegWorker(
                label=spec.label, settings=settings, session_id=self.session_id,
                on_record=self.sink, recording_dir=recordings, wall=wall, monotonic=monotonic,
            )
            self.workers.append(worker)
            self._trackers.append(LegTracker(spec.mqtt_leg, monotonic()))
            self.links.append(
                spec.client_factory(functools.partial(self._on_link_event, worker, spec.mqtt_leg))
            )
        self.started = datetime.fromtimestamp(wall(), UTC)
        # (code, leg) -> detail: what is wrong now, published as the "problem" state
        self._problems: dict[tuple[str, str], str] = {}
        self._disk_full_said = False  # the disk_full problem is _check_disk's own
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
        self.faults = FaultMonitor(settings.prompt)
        self.link_failure: LinkError | None = None
        self.worker_tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    @property
    def disk_full(self) -> bool:
        """The state directory's filesystem is full: recording paused or events held in memory
        (for the MQTT problem state and the bedside fault alert). The outbox, in the same
        directory by default, says its own in ``Outbox.statistics().disk_full``."""
        return self.sink.disk_full or any(w.statistics().disk_full for w in self.workers)

    def _adherence_path(self) -> Path:
        return adherence_file(self.settings, self.state_dir)

    def night_json(self, summary: NightSummary) -> dict[str, Any]:
        """The nightly summary, with whether the bedtime stretch was done that night."""
        done = any(
            r.get("event") == "done" and r.get("night") == summary.night
            for r in self.reminder.adherence.records()
        )
        alerts = [a.as_json() for a in self.faults.alerts_of_night(summary.night)]
        return {**summary.as_json(), "bedtime_stretch_done": done, "fault_alerts": alerts}

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
        night = local_night(datetime.fromtimestamp(self._wall(), UTC))
        if night == self.summary.night:
            return
        log.info("night %s over: %s", self.summary.night, self.summary.as_json())
        task = asyncio.get_running_loop().create_task(self._close_night(self.summary))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        self.summary = self.sink.summary = NightSummary(night=night)

    async def _close_night(self, summary: NightSummary) -> None:
        """Draw the night's report (in a thread: it replays the recording), one per leg with
        two wearables, and publish the nightly summary with the reports' paths."""
        reports: dict[str, Path | None] = {}
        if self._night_report is not None:
            several = len(self.workers) > 1
            for worker in self.workers:
                reports[worker.leg] = await asyncio.to_thread(
                    functools.partial(
                        self._night_report,
                        self.state_dir,
                        summary.as_json(),
                        worker.recording_path,
                        settings=self.settings.detector,
                        adherence=self._adherence_path(),
                        leg=worker.leg if several else None,
                    )
                )
        if self.publisher is not None:
            paths = {leg: str(p) for leg, p in reports.items() if p is not None}
            first = next(iter(paths.values()), None)
            self.publisher.publish_summary(
                {**self.night_json(summary), "report": first, "reports": paths}
            )

    # -- per-leg status, problems, MQTT states ---------------------------------------------
    def leg_statuses(self) -> list[LegStatus]:
        """Every wearable now (one per worker, in order): link, battery, signal, posture."""
        now_mono, now_wall = self._monotonic(), self._wall()
        return [
            tracker.status(worker, link.statistics(), now_mono=now_mono, now_wall=now_wall)
            for tracker, worker, link in zip(self._trackers, self.workers, self.links, strict=True)
        ]

    def report_problem(self, code: str, detail: str, *, leg: str = "") -> None:
        """Something the user must fix (e.g. ``unsupported_device``, ``disk_full``): logged once
        and published as the diagnostic "problem" state until ``clear_problem``."""
        if self._problems.get((code, leg)) == detail:
            return
        log.warning("problem%s: %s: %s", f" ({leg} leg)" if leg else "", code, detail)
        self._problems[(code, leg)] = detail
        self._publish_problems()

    def clear_problem(self, code: str, *, leg: str = "") -> None:
        if self._problems.pop((code, leg), None) is not None:
            log.info("problem%s cleared: %s", f" ({leg} leg)" if leg else "", code)
            self._publish_problems()

    def problems(self) -> dict[tuple[str, str], str]:
        return dict(self._problems)

    def _on_link_event(self, worker: LegWorker, leg: str, event: LinkEvent) -> None:
        """BleClient's ``on_event``: recorded by the worker; a refused device is a problem."""
        worker.on_link_event(event)
        if event.kind == "unsupported_device":
            fields = dict(event.fields)
            self.report_problem(
                "unsupported_device", str(fields.get("reason", "device info not supported")),
                leg=leg,
            )

    def _publish_problems(self) -> None:
        if self.publisher is None:
            return
        listed = [
            {"code": code, "leg": leg, "detail": detail}
            for (code, leg), detail in self._problems.items()
        ]
        self.publisher.publish_state(
            "problem", {"problem": listed[0]["code"] if listed else "none", "problems": listed}
        )

    def _check_disk(self) -> None:
        """Say at once when a write failed for lack of space, and when room is back (only the
        problem this check raised: another room may report its own ``disk_full``)."""
        if self.disk_full:
            self._disk_full_said = True
            self.report_problem(
                "disk_full", f"no space left in {self.state_dir}: recording paused, events held "
                "in memory (still published and prompted)")
        elif self._disk_full_said:
            self._disk_full_said = False
            self.clear_problem("disk_full")

    def _publish_states(self) -> None:
        statuses = self.leg_statuses()
        for status in statuses:
            if status.streaming:  # it connected and streams: whatever refused it is past
                self.clear_problem("unsupported_device", leg=status.leg)
        if self.publisher is None:
            return
        publish = self.publisher.publish_state
        publish("count_tonight", self.summary.cramps)
        for st in statuses:
            publish("link_state", st.link_state, st.leg)
            publish("wearable_available", "online" if st.streaming else "offline", st.leg)
            if st.battery_percent is not None:
                publish("battery", st.battery_percent, st.leg)
            publish("link", {
                # to the minute: while data flows it would change (and be re-sent) every tick
                "last_data": (
                    st.last_data.replace(second=0, microsecond=0).isoformat()
                    if st.last_data else None
                ),
                "packet_loss_pct": st.packet_loss_pct,
                "rssi_at_scan_dbm": st.rssi_at_scan_dbm,
            }, st.leg)
            if st.quality is not None:
                good = st.good_fraction
                publish("signal_quality", None if good is None else round(100 * good), st.leg)
                # "unknown" (published as no_data) while the accelerometer sends nothing valid
                # (a dead IMU): detection goes on with longer confirmation, the dashboard says why
                publish("posture", POSTURE_STATE.get(st.posture or "unknown", "no_data"), st.leg)
        prompt = self.prompt.statistics() if self.prompt is not None else None
        publish("diagnostics", {
            "version": sw_version(),
            "started": self.started.isoformat(),
            "outbox_pending": self.publisher.statistics().outbox_pending,
            "prompt_failures": (
                prompt.failures + prompt.timeouts + prompt.unavailable if prompt else 0
            ),
        })

    def _check_faults(self) -> None:
        """Feed the fault monitor each leg's state; say the alerts it returns, softly."""
        legs = []
        for tracker, worker, link in zip(self._trackers, self.workers, self.links, strict=True):
            ls = link.statistics()
            status = worker.pipeline.status() if worker.pipeline is not None else None
            # keyed as _on_link_event reported it: the leg's MQTT name ("" for one wearable)
            refused = ("unsupported_device", tracker.leg) in self._problems
            legs.append(LegHealth(
                worker.label, ls.state is LinkState.STREAMING,
                status.quality if status is not None else None,
                status.t if status is not None else 0.0, ls.battery_percent, refused,
            ))  # fmt: skip
        try:
            free_mb: float | None = shutil.disk_usage(self.state_dir).free / 1e6
        except OSError:
            free_mb = None
        wall = datetime.fromtimestamp(self._wall()).astimezone()
        speaker = self.prompt.speaker_state() if self.prompt is not None else "none"
        before = len(self.faults.alerts)
        spoken = self.faults.observe(
            legs, disk_free_mb=free_mb, now=self._monotonic(), wall=wall, speaker=speaker,
            disk_full=self.disk_full,
        )
        for alert in self.faults.alerts[before:]:
            log.warning("fault: %s (%s) since %s: %s", alert.kind, alert.leg or "bedside unit",
                        alert.since, alert.outcome)  # fmt: skip
        for alert in spoken:
            if self.prompt is not None:
                self.prompt.say(alert.key, gain_pct=self.settings.prompt.faults.volume_pct)

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
            (e for e in reversed(self.summary.events) if e.kind is EventKind.CRAMP_STARTED), None
        )
        record = {
            "label": label,
            "event_id": last.event_id if last else None,
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
            self.sink.close()
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
        next_faults = next_watchdog + FAULT_CHECK_S
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
            self._check_disk()  # cheap: flags the sink and the workers keep
            if now >= next_states:
                self._roll_night()
                self._publish_states()
                next_states = now + self.settings.daemon.status_interval_s
            if now >= next_flush:
                # Appends fsync themselves every 2 s; this covers a link that went quiet.
                for worker in self.workers:
                    if worker.recorder is not None:
                        worker.recorder.flush()
                self.sink.write_held()  # history lines a full disk held back, once there is room
                next_flush = now + RECORDING_FLUSH_S
            if now >= next_faults:
                self._check_faults()
                next_faults = now + FAULT_CHECK_S
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
                "events %d, bad quality %.0f s, no accelerometer %.0f s, not recorded %d%s",
                s.label, s.stream_s, s.packets, s.frames, s.gaps, s.missing_emg_samples,
                s.bad_frames, s.events, s.seconds_bad_quality, s.seconds_without_accel,
                s.unrecorded_notifications, " (disk full)" if s.disk_full else "",
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

