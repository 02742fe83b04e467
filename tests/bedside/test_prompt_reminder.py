"""Bedtime stretching reminder: once per night at the set time, "done", adherence summary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bedside.config.prompt import PromptSettings
from bedside.prompt.reminder import AdherenceLog, BedtimeReminder
from bedside.stream.night import night_of

TZ = timezone(timedelta(hours=1))  # a fixed local offset: no DST surprises in tests


class Wall:
    """A hand-moved local wall clock."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class Hooks:
    def __init__(self) -> None:
        self.spoken: list[str] = []
        self.published: list[Mapping[str, Any]] = []

    def speak(self, key: str) -> bool:
        self.spoken.append(key)
        return True

    def publish(self, payload: Mapping[str, Any]) -> None:
        self.published.append(payload)


def make(
    tmp_path: Path, start: datetime, **kw: Any
) -> tuple[BedtimeReminder, Wall, Hooks, AdherenceLog]:
    wall, hooks = Wall(start), Hooks()
    log = AdherenceLog(tmp_path / "adherence.jsonl")
    reminder = BedtimeReminder(
        PromptSettings(**kw), log, speak=hooks.speak, publish=hooks.publish, wall_clock=wall
    )
    return reminder, wall, hooks, log


def test_night_of_runs_noon_to_noon() -> None:
    assert night_of(datetime(2026, 11, 26, 21, 0, tzinfo=TZ)) == date(2026, 11, 26)
    assert night_of(datetime(2026, 11, 27, 3, 0, tzinfo=TZ)) == date(2026, 11, 26)
    assert night_of(datetime(2026, 11, 27, 12, 0, tzinfo=TZ)) == date(2026, 11, 27)


def test_reminds_once_at_the_set_time_and_survives_a_restart(tmp_path: Path) -> None:
    reminder, wall, hooks, log = make(
        tmp_path, datetime(2026, 11, 26, 21, 0, tzinfo=TZ), reminder_time="21:30"
    )
    fired = []
    for _ in range(4 * 60):  # 21:00 → 01:00 in one-minute steps
        if reminder.tick():
            fired.append(wall.now)
        wall.now += timedelta(minutes=1)
    assert fired == [datetime(2026, 11, 26, 21, 30, tzinfo=TZ)]
    assert hooks.spoken[0] == "bedtime" and hooks.spoken.count("bedtime") == 1
    (payload,) = hooks.published
    assert payload["event"] == "bedtime_reminder" and payload["night"] == "2026-11-26"
    assert payload["text"] == PromptSettings().texts.bedtime
    # a restart the same night does not remind again (the log remembers)
    again, wall2, hooks2, _ = make(
        tmp_path, datetime(2026, 11, 26, 21, 45, tzinfo=TZ), reminder_time="21:30"
    )
    assert not again.tick() and hooks2.spoken == []
    # the next night it does
    wall2.now = datetime(2026, 11, 27, 21, 31, tzinfo=TZ)
    assert again.tick()
    assert [r["event"] for r in log.records()] == ["reminded", "reminded"]


def test_after_midnight_reminder_and_late_start(tmp_path: Path) -> None:
    reminder, wall, hooks, _ = make(
        tmp_path, datetime(2026, 11, 26, 23, 50, tzinfo=TZ), reminder_time="00:15"
    )
    assert reminder.due_at(wall.now) == datetime(2026, 11, 27, 0, 15, tzinfo=TZ)
    assert not reminder.tick()
    wall.now = datetime(2026, 11, 27, 0, 16, tzinfo=TZ)
    assert reminder.tick() and hooks.published[0]["night"] == "2026-11-26"
    # started at 03:00, more than 3 h after 21:30: no reminder in the middle of the night
    late, _, late_hooks, _ = make(
        tmp_path / "late", datetime(2026, 11, 27, 3, 0, tzinfo=TZ), reminder_time="21:30"
    )
    assert not late.tick() and late_hooks.published == []


def test_reminder_off_and_not_spoken(tmp_path: Path) -> None:
    off, _, hooks, _ = make(tmp_path, datetime(2026, 11, 26, 21, 30, tzinfo=TZ), reminder_time="")
    assert off.due_at(datetime(2026, 11, 26, 21, 30, tzinfo=TZ)) is None
    assert not off.tick() and hooks.published == []
    mute, _, hooks2, _ = make(
        tmp_path / "m", datetime(2026, 11, 26, 21, 30, tzinfo=TZ), reminder_speak=False
    )
    assert mute.tick() and hooks2.spoken == [] and len(hooks2.published) == 1


def test_done_is_logged_once_per_night_and_stale_commands_refused(tmp_path: Path) -> None:
    reminder, wall, hooks, log = make(tmp_path, datetime(2026, 11, 26, 21, 40, tzinfo=TZ))
    assert not reminder.confirm_done(issued_at=wall.now - timedelta(hours=2))
    assert reminder.counts["stale_commands"] == 1
    assert reminder.confirm_done(issued_at=wall.now - timedelta(seconds=3))
    assert reminder.confirm_done()  # a second press the same night: fine, logged once
    assert [r["event"] for r in log.records()] == ["done"]
    assert hooks.spoken == ["bedtime_thanks"]
    assert hooks.published[-1]["event"] == "bedtime_stretch_done"
    assert reminder.counts["confirmations"] == 1


def test_summary_relates_stretching_to_cramps(tmp_path: Path) -> None:
    log = AdherenceLog(tmp_path / "a.jsonl")
    start = datetime(2026, 11, 20, 21, 30, tzinfo=TZ)
    stretched_nights = {0, 2, 4, 5}  # nights 20, 22, 24, 25 Nov
    for day in range(6):
        log.append("reminded", start + timedelta(days=day))
        if day in stretched_nights:
            log.append("done", start + timedelta(days=day, minutes=12))
    cramps = {"2026-11-20": 0, "2026-11-21": 3, "2026-11-22": 1, "2026-11-23": 2, "2026-11-25": 0}
    summary = log.summary(until=date(2026, 11, 25), nights=7, cramp_counts=cramps)
    assert summary.per_night[0].night == "2026-11-19"
    assert summary.nights == 7 and summary.reminded == 6 and summary.stretched == 4
    assert summary.adherence == pytest.approx(4 / 7)
    assert summary.streak == 2  # 24 and 25 Nov
    assert summary.mean_cramps_stretched == pytest.approx((0 + 1 + 0) / 3)
    assert summary.mean_cramps_other == pytest.approx((3 + 2) / 2)
    as_json = json.loads(json.dumps(summary.as_dict()))
    assert as_json["per_night"][-1] == {
        "night": "2026-11-25",
        "reminded_at": "2026-11-25T21:30:00+01:00",
        "done_at": "2026-11-25T21:42:00+01:00",
        "cramps": 0,
        "steps": [],
        "stretched": True,
    }
    with pytest.raises(ValueError, match="nights must be"):
        log.summary(until=date(2026, 11, 25), nights=0)


def test_bad_log_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"night": "2026-11-25", "event": "done", "time": "2026-11-25T22:00:00+01:00"}\n'
        "not json\n"
        '{"night": "yesterday", "event": "done", "time": "x"}\n'
        '{"night": "2026-11-25", "event": "sneezed", "time": "x"}\n'
        "[1, 2]\n"
        "\n"
        '{"night": "2026-11-26", "event": "done", "time": "2026-11-26T22:00:00+01:00"}'
    )
    log = AdherenceLog(path)
    assert [r["night"] for r in log.records()] == ["2026-11-25", "2026-11-26"]
    assert log.bad_lines == 4
    assert log.night(date(2026, 11, 26)).stretched
    assert not log.night(date(2026, 11, 24)).stretched
    assert AdherenceLog(tmp_path / "absent.jsonl").records() == []


def test_failing_hooks_and_unwritable_log_do_not_stop_the_reminder(tmp_path: Path) -> None:
    def broken_publish(payload: Mapping[str, Any]) -> None:
        raise ConnectionError("broker away")

    blocked = tmp_path / "file"
    blocked.write_text("")
    reminder = BedtimeReminder(
        PromptSettings(),
        AdherenceLog(blocked / "adherence.jsonl"),  # a file as directory: unwritable
        speak=None,
        publish=broken_publish,
        wall_clock=lambda: datetime(2026, 11, 26, 21, 30, tzinfo=TZ),
    )
    assert reminder.tick()
    assert reminder.confirm_done()
    assert reminder.counts["hook_errors"] == 4  # two log writes, two publishes


async def test_run_uses_the_injected_sleep(tmp_path: Path) -> None:
    reminder, wall, hooks, _ = make(tmp_path, datetime(2026, 11, 26, 21, 29, tzinfo=TZ))
    calls = 0

    async def fake_sleep(seconds: float) -> None:
        nonlocal calls
        calls += 1
        wall.now += timedelta(seconds=seconds)
        if calls == 10:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        await reminder.run(interval_s=15.0, sleep=fake_sleep)
    assert hooks.spoken[0] == "bedtime" and hooks.spoken.count("bedtime") == 1
