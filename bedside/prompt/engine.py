"""The prompt sequencer: which phrase to say when, from cramp events and a clock.

Two layers, after trio's "functions that don't block should be sync-colored":

* :class:`PromptSequencer` is pure logic. It takes typed events (``EventRecord``) and the time
  (``now`` on a monotonic clock in s, ``wall`` an aware local ``datetime`` for quiet hours) and
  returns :class:`Utterance` s; it never sleeps and never does I/O, so tests drive it with numbers.
* :class:`PromptEngine` is the async edge: it feeds the sequencer from ``on_event``/``tick``, queues
  what is due, and one worker task plays the queue through a :class:`~bedside.prompt.player.Player`.
  ``on_event`` only queues: detection never waits for audio.

One sequence per cramp::

    IDLE --cramp_started--> ACTIVE (opening; hold lines every hold_interval_s;
                                    after escalation_after_s the escalation lines; quiet after
                                    max_sequence_s)
    ACTIVE --cramp_ended (last leg)--> ENDING --dip_grace_s--> IDLE (closing line)
    ACTIVE, every leg's last cramp_update "easing": true --> hold and escalation lines pause
           (the detector saw the level fall; its cramp_ended comes end_hold_s later) until an
           update "easing": false (a lull) or the end
    ENDING --cramp_started--> ACTIVE (same sequence: a dip does not restart it)
    IDLE --cramp_started within cooldown_s of the last sequence--> SHORT (repeat_short only)
    ACTIVE --cramp_started after max_sequence_s--> a new sequence (the old end was lost)

A sequence is *muted* (tracked, not spoken) during quiet hours, after a "silence" command, or
beyond ``max_sequences_per_hour``; each reason is counted in :class:`PromptStatistics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, Literal

from bedside.config.prompt import PromptSettings, in_window, parse_hhmm
from bedside.prompt.output import Player, PlayerTimeoutError, PlayerUnavailableError
from bedside.prompt.player import build_player
from bedside.prompt.speech import Clip, render_phrases, with_gain
from bedside.stream.records import EventRecord
from detector.types import EventKind
from firmware_bridge.errors import PromptError

log = logging.getLogger(__name__)

Scope = Literal["cramp", "night"]
SEEN_IDS = 1024  # event ids remembered for de-duplication (outbox redelivery, replays)


class Phase(enum.Enum):
    IDLE = "idle"
    ACTIVE = "active"
    SHORT = "short"
    ENDING = "ending"


@dataclass(frozen=True, slots=True)
class Utterance:
    """Say phrase ``key`` (due at ``due`` s on the sequencer's clock) at ``gain_pct`` % loudness."""

    key: str
    due: float
    gain_pct: float
    sequence: int


@dataclass(frozen=True, slots=True)
class PromptStatistics:
    """Counters since start-up; ``last_start_latency_s`` is event → player start of the opening."""

    events: int = 0
    duplicates: int = 0
    bad_events: int = 0
    sequences: int = 0
    short_reminders: int = 0
    dips_merged: int = 0
    utterances: int = 0
    spoken: int = 0
    suppressed_quiet_hours: int = 0
    suppressed_rate_limit: int = 0
    suppressed_silence: int = 0
    silences: int = 0
    lost_ends: int = 0
    easing_pauses: int = 0  # hold lines paused as the detector said the level fell
    stale_commands: int = 0
    dropped_stale: int = 0
    dropped_silenced: int = 0
    failures: int = 0
    timeouts: int = 0
    unavailable: int = 0
    last_start_latency_s: float | None = None

    def line(self) -> str:
        """One log line with the non-zero counters, e.g. ``sequences=2 spoken=9 timeouts=1``."""
        parts = [
            f"{f.name}={getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if f.name != "last_start_latency_s" and getattr(self, f.name)
        ]
        if self.last_start_latency_s is not None:
            parts.append(f"start_latency={1000 * self.last_start_latency_s:.0f}ms")
        return " ".join(parts) or "idle"


def next_occurrence(wall: datetime, at: dtime) -> datetime:
    """The first local ``at`` strictly after ``wall`` (same tzinfo)."""
    candidate = wall.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return candidate if candidate > wall else candidate + timedelta(days=1)


class PromptSequencer:
    """Pure prompt logic; see the module docstring for the states. Never raises on bad events."""

    def __init__(self, settings: PromptSettings, *, ignore_quiet_hours: bool = False) -> None:
        self.s = settings
        self.n_hold = len(settings.texts.hold)
        self.n_escalation = len(settings.texts.escalation)
        self._quiet = (
            (None, None)
            if ignore_quiet_hours
            else (
                parse_hhmm(settings.quiet_hours_start, "quiet_hours_start"),
                parse_hhmm(settings.quiet_hours_end, "quiet_hours_end"),
            )
        )
        self._night_end = parse_hhmm(settings.silence_night_until, "silence_night_until")
        self.phase = Phase.IDLE
        self.sequence = 0
        self.muted = False
        self._start = 0.0
        self._legs: set[str] = set()
        self._easing: set[str] = set()  # legs whose last cramp_update said "easing": true
        self._next_hold = 0.0
        self._hold_index = 0
        self._escalation_index = 0
        self._ending_until = 0.0
        self._short_before_end = False
        self._last_end: float | None = None
        self._starts: deque[float] = deque()
        self._seen: deque[str] = deque(maxlen=SEEN_IDS)
        self._silenced_until: datetime | None = None
        self.counts: dict[str, int] = dict.fromkeys(
            ("events", "duplicates", "bad_events", "sequences", "short_reminders", "dips_merged",
             "utterances", "suppressed_quiet_hours", "suppressed_rate_limit",
             "suppressed_silence", "silences", "lost_ends", "easing_pauses"),
            0,
        )  # fmt: skip

    # ---- inputs ----
    def on_event(self, event: EventRecord, now: float, wall: datetime) -> list[Utterance]:
        """Feed one event; returns the utterances due right now (possibly none). Only
        ``cramp_started``, ``cramp_update`` (its easing hint) and ``cramp_ended`` matter: a
        ``cramp_recorded`` (a cramp recognised after it ended) is never spoken about."""
        kind = event.kind
        if event.event_id in self._seen:
            self.counts["duplicates"] += 1
            return []
        self._seen.append(event.event_id)
        self.counts["events"] += 1
        leg = event.leg
        if kind is EventKind.CRAMP_STARTED:
            return self._started(leg, now, wall)
        if kind is EventKind.CRAMP_UPDATE:
            easing = event.easing
            if easing is True and leg in self._legs and leg not in self._easing:
                self._easing.add(leg)
                self.counts["easing_pauses"] += 1
            elif easing is False:
                self._easing.discard(leg)
            return []
        if kind is EventKind.CRAMP_ENDED:
            self._legs.discard(leg)
            self._easing.discard(leg)
            if not self._legs and self.phase in (Phase.ACTIVE, Phase.SHORT):
                self._short_before_end = self.phase is Phase.SHORT
                self.phase = Phase.ENDING
                self._ending_until = now + self.s.dip_grace_s
            return self.poll(now, wall)
        return []  # cramp_recorded and others: nothing to say

    def silence(self, scope: Scope, now: float, wall: datetime) -> None:
        """Mute the current sequence (``"cramp"``) or everything until silence_night_until."""
        self.counts["silences"] += 1
        if scope == "night" and self._night_end is not None:
            self._silenced_until = next_occurrence(wall, self._night_end)
        if self.phase is not Phase.IDLE:
            self.muted = True

    def silenced_until(self) -> datetime | None:
        return self._silenced_until

    # ---- time ----
    def poll(self, now: float, wall: datetime) -> list[Utterance]:
        """Utterances that have become due by ``now``; call it a few times per second."""
        if self.phase is Phase.ENDING and now >= self._ending_until:
            self.phase = Phase.IDLE
            if not self.muted:  # the cooldown follows the last sequence the person heard
                self._last_end = now
            if self.s.closing_line and not self._short_before_end:
                return self._say("closing", now, wall)
            return []
        if self.phase is not Phase.ACTIVE:
            return []
        if self._legs and self._legs <= self._easing:  # easing: stop urging the hold
            return []
        elapsed = now - self._start
        if elapsed >= self.s.max_sequence_s:
            return []
        esc_at = self._start + self.s.escalation_after_s
        if self._escalation_index < self.n_escalation:
            due = esc_at + self._escalation_index * self.s.escalation_interval_s
            if now >= due:
                while (
                    self._escalation_index + 1 < self.n_escalation
                    and now >= due + self.s.escalation_interval_s
                ):  # late poll: skip to the latest suggestion rather than reading out a backlog
                    self._escalation_index += 1
                    due += self.s.escalation_interval_s
                key = f"escalation.{self._escalation_index}"
                self._escalation_index += 1
                return self._say(key, now, wall)
        # no hold line in the last half interval before the escalation: they would overlap
        before_escalation = self.n_escalation == 0 or now < esc_at - self.s.hold_interval_s / 2
        if self.n_hold and before_escalation and now >= self._next_hold:
            key = f"hold.{self._hold_index % self.n_hold}"
            self._hold_index += 1
            while self._next_hold <= now:
                self._next_hold += self.s.hold_interval_s
            return self._say(key, now, wall)
        return []

    # ---- internals ----
    def _started(self, leg: str, now: float, wall: datetime) -> list[Utterance]:
        if self.phase in (Phase.ACTIVE, Phase.SHORT):
            if now - self._start < self.s.max_sequence_s:
                self._legs.add(leg)
                return []  # the other leg, or a repeated start: same cramp
            # past max_sequence_s: the old cramp's end was lost (link drop, restart of the
            # detector); never let one missing cramp_ended mute every later cramp
            self.counts["lost_ends"] += 1
            self._legs.clear()
            self.phase = Phase.IDLE
        self._legs.add(leg)
        if self.phase is Phase.ENDING:
            self.counts["dips_merged"] += 1
            self.phase = Phase.SHORT if self._short_before_end else Phase.ACTIVE
            return self.poll(now, wall)
        # a new cramp
        self.sequence += 1
        self._start = now
        self._hold_index = 0
        self._escalation_index = 0
        self._next_hold = now + self.s.hold_interval_s
        self._easing.clear()
        self._short_before_end = False
        self.muted = False
        short = self._last_end is not None and 0.0 <= now - self._last_end < self.s.cooldown_s
        self.phase = Phase.SHORT if short else Phase.ACTIVE
        while self._starts and now - self._starts[0] >= 3600.0:
            self._starts.popleft()
        if self._silenced_until is not None and wall < self._silenced_until:
            self.muted = True
            self.counts["suppressed_silence"] += 1
        elif in_window(wall.time(), *self._quiet):
            self.muted = True
            self.counts["suppressed_quiet_hours"] += 1
        elif len(self._starts) >= self.s.max_sequences_per_hour:
            self.muted = True
            self.counts["suppressed_rate_limit"] += 1
        else:
            self._starts.append(now)
            self.counts["short_reminders" if short else "sequences"] += 1
        return self._say("repeat_short" if short else "opening", now, wall)

    def _say(self, key: str, now: float, wall: datetime) -> list[Utterance]:
        if self.muted:
            return []
        if self._silenced_until is not None and wall < self._silenced_until:
            self.muted = True  # silenced for the night while the sequence was running
            return []
        if in_window(wall.time(), *self._quiet):
            return []  # quiet hours began during the sequence
        self.counts["utterances"] += 1
        return [Utterance(key, now, self.gain_pct(now - self._start), self.sequence)]

    def gain_pct(self, elapsed_s: float) -> float:
        """Volume ramp: start → full loudness over volume_ramp_s seconds of the sequence."""
        s = self.s
        if s.volume_ramp_s <= 0:
            return s.volume_full_pct
        frac = min(1.0, max(0.0, elapsed_s / s.volume_ramp_s))
        return s.volume_start_pct + (s.volume_full_pct - s.volume_start_pct) * frac


def local_now() -> datetime:
    """The wall clock as an aware local ``datetime``."""
    return datetime.now().astimezone()


class PromptEngine:
    """Async prompt engine: ``await on_event(event)``, ``silence(scope)``, ``tick()``/``run()``.

    ``clips`` come from :func:`bedside.prompt.speech.render_phrases`; ``clock`` is monotonic
    seconds, ``wall_clock`` an aware local ``datetime`` (both injectable, so tests never sleep).
    Use as ``async with PromptEngine(...) as engine:`` or call :meth:`aclose` at the end.
    """

    def __init__(
        self,
        settings: PromptSettings,
        player: Player,
        *,
        clips: Mapping[str, Clip],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = local_now,
    ) -> None:
        self.settings = settings
        self.player = player
        self.clips = dict(clips)
        self.sequencer = PromptSequencer(settings)
        self._clock = clock
        self._wall = wall_clock
        self._queue: asyncio.Queue[tuple[Utterance, int, float]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._generation = 0  # bumped by silence(): queued lines of older generations are dropped
        self._counts: dict[str, int] = dict.fromkeys(
            ("spoken", "stale_commands", "dropped_stale", "dropped_silenced", "failures",
             "timeouts", "unavailable"),
            0,
        )  # fmt: skip
        self._latency: float | None = None
        self._logged: set[str] = set()
        self._stop_tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> PromptEngine:
        self._ensure_worker()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- public API ----
    async def on_event(self, event: EventRecord) -> None:
        """Feed one event; returns at once, playback runs elsewhere."""
        now = self._clock()
        self._enqueue(self.sequencer.on_event(event, now, self._wall()), received=now)

    async def tick(self) -> None:
        """Queue whatever became due (hold lines, escalation, closing); call it every ~0.25 s."""
        now = self._clock()
        self._enqueue(self.sequencer.poll(now, self._wall()), received=now)

    async def run(
        self,
        *,
        interval_s: float = 0.25,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        """Tick forever (cancel to stop); ``sleep`` is injectable."""
        self._ensure_worker()
        while True:
            await self.tick()
            await sleep(interval_s)

    def silence(self, scope: Scope = "cramp", *, issued_at: datetime | None = None) -> bool:
        """Stop talking now: for the rest of this cramp, or (``"night"``) until the morning.

        ``issued_at`` (aware) is the command's own time stamp: one older than
        ``command_max_age_s`` is refused as stale and ``False`` returned. Called by the MQTT
        ``cmd/silence`` button and the CLI; safe to call with nothing playing.
        """
        wall = self._wall()
        if issued_at is not None:
            age = (wall - issued_at).total_seconds()
            if age > self.settings.command_max_age_s or age < -self.settings.command_max_age_s:
                self._counts["stale_commands"] += 1
                log.warning("prompt: ignoring a stale silence command (%.0f s old)", age)
                return False
        self.sequencer.silence(scope, self._clock(), wall)
        self._generation += 1
        while not self._queue.empty():
            self._queue.get_nowait()
            self._counts["dropped_silenced"] += 1
            self._queue.task_done()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return True  # no loop, so nothing can be playing
        task = loop.create_task(self.player.stop())
        self._stop_tasks.add(task)
        task.add_done_callback(self._stop_tasks.discard)
        log.info("prompt: silenced (%s)", scope)
        return True

    def say(self, key: str, *, force: bool = False, gain_pct: float | None = None) -> bool:
        """Queue one phrase outside any cramp sequence (bedtime routine, fault alert, MQTT test
        button), at ``gain_pct`` % (default: full loudness).

        Skipped (``False``) if the key is unknown, while a cramp sequence is running, or
        (unless ``force``, for an explicit test press) during a silence for the night.
        """
        if key not in self.clips or self.speaker_state() == "busy":
            return False
        if not force and self.speaker_state() == "silenced":
            return False
        now = self._clock()
        gain = self.settings.volume_full_pct if gain_pct is None else gain_pct
        self._enqueue([Utterance(key, now, gain, 0)], received=now)
        return True

    def speaker_state(self) -> Literal["free", "busy", "silenced"]:
        """``busy`` while a cramp sequence runs, ``silenced`` during a silence for the night."""
        if self.sequencer.phase is not Phase.IDLE:
            return "busy"
        until = self.sequencer.silenced_until()
        if until is not None and self._wall() < until:
            return "silenced"
        return "free"

    async def drain(self) -> None:
        """Wait until every queued line has been played or dropped."""
        self._ensure_worker()
        await self._queue.join()

    def statistics(self) -> PromptStatistics:
        c = self.sequencer.counts
        return PromptStatistics(
            **c,
            **self._counts,
            last_start_latency_s=self._latency,
        )

    async def aclose(self) -> None:
        """Stop the worker and whatever is playing."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        await self.player.stop()
        for task in list(self._stop_tasks):
            with contextlib.suppress(Exception):
                await task
        close = getattr(self.player, "close", None)  # GpioSignal releases its pins
        if callable(close):
            close()

    # ---- worker ----
    def _enqueue(self, utterances: list[Utterance], *, received: float) -> None:
        if not utterances:
            return
        self._ensure_worker()
        for u in utterances:
            self._queue.put_nowait((u, self._generation, received))

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._play_loop())

    def _log_once(self, kind: str, message: str) -> None:
        # one clear line per kind of problem; repeats go to DEBUG so a missing sound card
        # does not flood the journal every 14 s
        if kind in self._logged:
            log.debug("prompt: %s", message)
        else:
            self._logged.add(kind)
            log.warning("prompt: %s (further such errors are counted, logged at DEBUG)", message)

    async def _play_loop(self) -> None:
        while True:
            utterance, generation, received = await self._queue.get()
            try:
                await self._play_one(utterance, generation, received)
            finally:
                self._queue.task_done()

    async def _play_one(self, u: Utterance, generation: int, received: float) -> None:
        if generation != self._generation:
            self._counts["dropped_silenced"] += 1
            return
        if self._clock() - u.due > self.settings.stale_after_s:
            self._counts["dropped_stale"] += 1
            log.info("prompt: dropped %s: %.1f s late", u.key, self._clock() - u.due)
            return
        clip = self.clips.get(u.key)
        if clip is None:
            self._counts["failures"] += 1
            self._log_once("missing", f"no rendered phrase {u.key!r}")
            return
        try:
            clip = await asyncio.to_thread(with_gain, clip, u.gain_pct)
        except (PromptError, OSError) as exc:
            self._log_once("gain", f"cannot scale {u.key}: {exc}")  # play it unscaled
        if generation != self._generation:  # silenced while the gain was applied
            self._counts["dropped_silenced"] += 1
            return
        timeout = clip.duration_s + self.settings.player_timeout_margin_s
        if u.key in ("opening", "repeat_short"):
            self._latency = self._clock() - received
        try:
            await self.player.play(clip, timeout_s=timeout)
        except PlayerTimeoutError as exc:
            self._counts["timeouts"] += 1
            log.warning("prompt: %s", exc)
        except PlayerUnavailableError as exc:
            self._counts["unavailable"] += 1
            self._log_once("unavailable", str(exc))
        except PromptError as exc:
            self._counts["failures"] += 1
            self._log_once("failure", f"{self.player.name} failed on {u.key}: {exc}")
        except OSError as exc:
            self._counts["failures"] += 1
            self._log_once("oserror", f"{self.player.name} failed on {u.key}: {exc}")
        else:
            self._counts["spoken"] += 1


def rehearsal(settings: PromptSettings, *, cramp_s: float | None = None) -> list[Utterance]:
    """The lines a cramp of ``cramp_s`` seconds would get (default: long enough for every line).

    Runs the sequencer on a virtual clock at local noon, outside quiet hours; used by
    ``crampwatch prompt test`` and the tests.
    """
    if cramp_s is None:
        cramp_s = min(
            settings.max_sequence_s,
            settings.escalation_after_s
            + len(settings.texts.escalation) * settings.escalation_interval_s,
        )
    seq = PromptSequencer(settings, ignore_quiet_hours=True)
    wall0 = local_now().replace(hour=12, minute=0, second=0, microsecond=0)
    out = seq.on_event(_rehearsal_event(EventKind.CRAMP_STARTED, 0.0, wall0), 0.0, wall0)
    t = 0.0
    step = 0.25
    while t < cramp_s:
        t += step
        out += seq.poll(t, wall0 + timedelta(seconds=t))
    out += seq.on_event(_rehearsal_event(EventKind.CRAMP_ENDED, t, wall0), t,
                        wall0 + timedelta(seconds=t))
    end = t + settings.dip_grace_s + step
    while t < end:
        t += step
        out += seq.poll(t, wall0 + timedelta(seconds=t))
    return out


async def build_engine(
    settings: PromptSettings,
    *,
    wav_dir: Path | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], datetime] = local_now,
) -> PromptEngine:
    """Render the phrases (in a worker thread) and build the engine the settings ask for.

    The daemon's and the demo's entry point. Speech that cannot be rendered (espeak-ng missing,
    cache unwritable) degrades to the chime, then to no prompt, with one WARNING line each:
    a bedside unit without a voice must still detect and publish. A wrong voice or chime file
    is a ``ConfigError`` (exit 78). ``wav_dir`` writes the prompts as WAVs instead of playing.
    """
    attempts = [settings]
    if settings.backend == "espeak":
        attempts.append(dataclasses.replace(settings, backend="chime"))
    attempts.append(dataclasses.replace(settings, backend="none"))
    for attempt in attempts:
        try:
            clips = await asyncio.to_thread(render_phrases, attempt)
        except PromptError as exc:
            log.warning("prompt: %s; falling back from %s", exc, attempt.backend)
            continue
        # the opening lines at the ramp's start loudness, so the first cramp does not wait on it
        for key in ("opening", "repeat_short"):
            if key in clips:
                await asyncio.to_thread(with_gain, clips[key], attempt.volume_start_pct)
        player = build_player(attempt, wav_dir=wav_dir)
        return PromptEngine(attempt, player, clips=clips, clock=clock, wall_clock=wall_clock)
    raise AssertionError("backend none needs no rendering")  # pragma: no cover


def _rehearsal_event(kind: EventKind, t: float, wall0: datetime) -> EventRecord:
    """A cramp's start or end for :func:`rehearsal`'s virtual night (left leg, cramp 1)."""
    time = (wall0 + timedelta(seconds=t)).isoformat()
    if kind is EventKind.CRAMP_ENDED:
        return EventRecord(kind=kind, event_id="rehearsal:left:1:ended", leg="left", t_onset=0.0,
                           time=time, intensity=None, t_end=t, duration_s=t)
    return EventRecord(kind=kind, event_id="rehearsal:left:1:started", leg="left", t_onset=0.0,
                       time=time, intensity=None, t_detect=t)
