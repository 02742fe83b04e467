"""The bedtime routine: its timeline, guided by the reminder, logged step by step, and the CLI."""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bedside.config.prompt import ROUTINE_STEPS, PromptSettings, RoutineSettings
from bedside.config.settings import load_settings
from bedside.prompt.reminder import AdherenceLog, BedtimeReminder
from bedside.prompt.routine import COUNT_GAP_S, routine_plan
from bedside.prompt.speech import phrase_texts
from firmware_bridge.errors import ConfigError
from tests.bedside.test_prompt_reminder import TZ, Hooks, Wall

CRAMPWATCH = str(Path(sys.executable).with_name("crampwatch"))


def with_steps(*steps: str, **kw: int) -> PromptSettings:
    return dataclasses.replace(PromptSettings(), routine=RoutineSettings(steps=steps, **kw))


def test_default_is_the_calf_stretch_alone_both_legs_three_counted_holds() -> None:
    plan = routine_plan(PromptSettings())
    keys = [c.key for c in plan]
    assert keys[0] == "bedtime" and keys[-1] == "routine.done"
    assert {c.step for c in plan} == {"", "calf"}
    assert keys.index("routine.calf.left") < keys.index("routine.other_leg")
    assert keys.index("routine.other_leg") < keys.index("routine.calf.right")
    assert keys.count("routine.hold") == keys.count("routine.relax") == 2 * 3  # Hallegraeff 2012
    # each hold counted out one word a second, 1 … 10
    first = keys.index("count.1")
    counts = plan[first : first + 10]
    assert [c.key for c in counts] == [f"count.{n}" for n in range(1, 11)]
    assert all(b.at_s - a.at_s == pytest.approx(COUNT_GAP_S) for a, b in itertools.pairwise(counts))
    # time only moves forward, and the step is complete at the last count of the right leg
    assert all(a.at_s <= b.at_s for a, b in itertools.pairwise(plan))
    (done,) = [c for c in plan if c.completes_step]
    assert done.step == "calf" and done.leg == "right" and done.key == "count.10"
    # every line can be rendered
    assert set(keys) <= set(phrase_texts(PromptSettings()))


def test_the_whole_routine_in_the_configured_order_with_the_sleep_tip_last() -> None:
    settings = with_steps(*ROUTINE_STEPS, pigeon_hold_s=20, clamshell_repetitions=8)
    plan = routine_plan(settings)
    order = list(dict.fromkeys(c.step for c in plan if c.step))
    assert order == list(ROUTINE_STEPS)
    assert [c.step for c in plan if c.completes_step] == list(ROUTINE_STEPS)
    assert plan[-2].key == "routine.sleep_position"
    pigeon_counts = [c for c in plan if c.step == "pigeon" and c.key.startswith("count.")]
    assert len(pigeon_counts) == 2 * 20  # one hold of 20 s per side
    clams = [c for c in plan if c.step == "clamshell" and c.leg == "left"]
    counts = [c for c in clams if c.key.startswith("count.")]
    assert [c.key for c in counts] == [f"count.{n}" for n in range(1, 9)]
    assert counts[1].at_s - counts[0].at_s == pytest.approx(settings.routine.clamshell_pace_s)
    assert not any(c.key in ("routine.hold", "routine.relax") for c in clams)
    assert set(c.key for c in plan) <= set(phrase_texts(settings))
    # a different order is honoured
    assert [c.step for c in routine_plan(with_steps("hamstring", "calf")) if c.completes_step] == [
        "hamstring",
        "calf",
    ]


def run_routine(
    tmp_path: Path, settings: PromptSettings, hooks: Hooks, step_s: float = 0.5
) -> tuple[BedtimeReminder, AdherenceLog]:
    wall = Wall(datetime(2026, 11, 26, 21, 30, tzinfo=TZ))
    log = AdherenceLog(tmp_path / "adherence.jsonl")
    reminder = BedtimeReminder(settings, log, speak=hooks.speak, wall_clock=wall)
    assert reminder.tick()
    while reminder.guiding:
        wall.now += timedelta(seconds=step_s)
        reminder.tick()
    return reminder, log


def test_the_reminder_guides_the_routine_on_time_and_logs_each_step(tmp_path: Path) -> None:
    settings = with_steps("calf", "hamstring", "sleep_position")
    hooks = Hooks()
    reminder, log = run_routine(tmp_path, settings, hooks)
    assert hooks.spoken == [c.key for c in routine_plan(settings)]
    records = log.records()
    assert [r["event"] for r in records] == ["reminded", "step", "step", "step"]
    assert [r["step"] for r in records[1:]] == ["calf", "hamstring", "sleep_position"]
    # each step is logged when its last line was said, in order and after the reminder
    times = [datetime.fromisoformat(r["time"]) for r in records]
    assert times == sorted(times) and times[1] > times[0]
    night = log.night(datetime(2026, 11, 26).date())
    assert night.steps == ("calf", "hamstring", "sleep_position") and night.done_at is None
    summary = log.summary(until=datetime(2026, 11, 26).date(), nights=1)
    assert summary.as_dict()["per_night"][0]["steps"] == ["calf", "hamstring", "sleep_position"]
    assert reminder.counts["routine_lines"] == len(hooks.spoken)
    assert reminder.counts["routine_lines_missed"] == 0


class BusyDuringHamstring(Hooks):
    """A speaker that refuses the hamstring's lines (a cramp prompt was being said)."""

    def speak(self, key: str) -> bool:
        if key.startswith("routine.hamstring"):
            return False
        return super().speak(key)


def test_a_step_whose_lines_could_not_be_said_is_not_logged(tmp_path: Path) -> None:
    reminder, log = run_routine(tmp_path, with_steps("calf", "hamstring"), BusyDuringHamstring())
    assert [r.get("step") for r in log.records() if r["event"] == "step"] == ["calf"]
    assert reminder.counts["routine_lines_missed"] == 2  # its instruction on both legs


def test_lines_far_behind_the_clock_are_skipped_not_read_out_as_a_backlog(tmp_path: Path) -> None:
    hooks = Hooks()
    reminder, log = run_routine(tmp_path, PromptSettings(), hooks, step_s=60.0)
    assert len(hooks.spoken) < 20  # only lines that fell due within LATE_CUE_S of a tick
    assert reminder.counts["routine_lines_missed"] > 50
    assert [r["event"] for r in log.records()] == ["reminded"]


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crampwatch.toml"
    path.write_text(text)
    return path


def test_routine_configuration_errors_name_the_key(tmp_path: Path) -> None:
    good = load_settings(
        write_config(tmp_path, '[prompt.routine]\nsteps = ["calf", "clamshell"]\n')
    )
    assert good.prompt.routine.steps == ("calf", "clamshell")
    with pytest.raises(ConfigError, match="did you mean 'hamstring'"):
        load_settings(write_config(tmp_path, '[prompt.routine]\nsteps = ["hamstrings"]\n'))
    with pytest.raises(ConfigError, match="at least one step"):
        load_settings(write_config(tmp_path, "[prompt.routine]\nsteps = []\n"))
    with pytest.raises(ConfigError, match="counts to 30"):
        load_settings(write_config(tmp_path, '[prompt.texts]\ncounts = ["one", "two"]\n'))


def test_cli_writes_the_routine_as_wavs_in_speaking_order(tmp_path: Path) -> None:
    out = tmp_path / "wav"
    result = subprocess.run(
        [CRAMPWATCH, "prompt", "routine", "--to-wav", str(out), "--cache", str(tmp_path / "c"),
         "--steps", "calf,sleep_position"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.glob("*.wav"))
    plan = routine_plan(with_steps("calf", "sleep_position"))
    assert [n.split("-", 1)[1].removesuffix(".wav") for n in names] == [c.key for c in plan]
    bad = subprocess.run(
        [CRAMPWATCH, "prompt", "routine", "--to-wav", str(out), "--steps", "calf,pigeonn"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "did you mean 'pigeon'" in bad.stderr and "Traceback" not in bad.stderr
    assert json.dumps(bad.stderr).count("\\n") == 1  # one line
