"""Fault alerts: pure logic driven by numbers (stream time, monotonic s, a local wall clock)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bedside.config.prompt import FaultAlertSettings, PromptSettings
from bedside.config.settings import load_settings
from bedside.prompt.faults import CLEAR_S, FaultAlert, FaultMonitor, LegHealth, fault_texts
from detector.types import Quality
from firmware_bridge.errors import ConfigError
from tests.bedside.test_prompt_reminder import TZ

NIGHT = datetime(2026, 11, 26, 23, 0, tzinfo=TZ)  # inside the default 22:00–07:00 window


def settings(**faults: object) -> PromptSettings:
    return dataclasses.replace(PromptSettings(), faults=FaultAlertSettings(**faults))  # type: ignore[arg-type]


class Night:
    """Drives a monitor one second at a time: stream time, monotonic and wall move together."""

    def __init__(self, monitor: FaultMonitor, start: datetime = NIGHT, t: float = 0.0) -> None:
        self.monitor = monitor
        self.t = self.t0 = t  # monotonic and stream s; the wall clock is start + (t - t0)
        self.start = start
        self.spoken: list[FaultAlert] = []

    def run(
        self,
        seconds: float,
        *,
        quality: Quality = Quality.GOOD,
        streaming: bool = True,
        battery: int | None = 80,
        disk_mb: float | None = 10_000.0,
        speaker: str = "free",
        legs: tuple[str, ...] = ("left",),
    ) -> list[FaultAlert]:
        said: list[FaultAlert] = []
        for _ in range(int(seconds)):
            self.t += 1.0
            health = [LegHealth(leg, streaming, quality, self.t, battery) for leg in legs]
            said += self.monitor.observe(
                health, disk_free_mb=disk_mb, now=self.t,
                wall=self.start + timedelta(seconds=self.t - self.t0), speaker=speaker,  # type: ignore[arg-type]
            )  # fmt: skip
        self.spoken += said
        return said


def test_lead_off_is_said_once_after_it_lasted_and_a_turn_in_bed_is_not() -> None:
    night = Night(FaultMonitor(settings()))
    assert night.run(20, quality=Quality.LEAD_OFF) == []  # a turn: 3–45 s
    assert night.run(CLEAR_S + 1) == []
    said = night.run(59, quality=Quality.LEAD_OFF)
    assert said == []  # not yet 60 s
    (alert,) = night.run(2, quality=Quality.LEAD_OFF)
    assert (alert.kind, alert.leg, alert.key, alert.outcome) == (
        "lead_off", "left", "fault.lead_off.left", "spoken",
    )  # fmt: skip
    assert night.run(3600, quality=Quality.LEAD_OFF) == []  # once per episode
    assert len(night.monitor.alerts) == 1


def test_flickering_contact_is_one_episode_and_is_said() -> None:
    night = Night(FaultMonitor(settings()))
    for _ in range(40):  # 5 s bad, 3 s good: never good for CLEAR_S
        night.run(5, quality=Quality.NOISY)
        night.run(3)
    (alert,) = night.spoken
    assert alert.kind == "poor_contact" and alert.key == "fault.poor_contact.left"
    # hum counts as poor contact too (a lifted electrode picks up mains first)
    other = Night(FaultMonitor(settings()))
    assert [a.kind for a in other.run(301, quality=Quality.HUM)] == ["poor_contact"]


def test_mostly_good_signal_with_rare_bad_frames_is_not_said() -> None:
    night = Night(FaultMonitor(settings()))
    for _ in range(60):  # 1 s bad in every 25 s: bad for 4 % of the episode
        night.run(1, quality=Quality.LEAD_OFF)
        night.run(24)
    assert night.spoken == []


def test_cooldown_per_kind_records_but_does_not_say_a_repeat() -> None:
    cooldowns = (600.0, 3600.0, 43200.0, 3600.0, 43200.0, 43200.0)
    night = Night(FaultMonitor(settings(cooldown_s=cooldowns)))
    night.run(61, quality=Quality.LEAD_OFF)
    night.run(CLEAR_S + 1)
    assert night.run(61, quality=Quality.LEAD_OFF) == []  # a new episode within 600 s
    assert [a.outcome for a in night.monitor.alerts] == ["spoken", "cooldown"]
    night.run(600)
    assert [a.outcome for a in night.run(61, quality=Quality.LEAD_OFF)] == ["spoken"]


def test_quiet_hours_silence_and_no_speaker_are_recorded_not_said() -> None:
    quiet = dataclasses.replace(settings(), quiet_hours_start="22:30", quiet_hours_end="06:00")
    night = Night(FaultMonitor(quiet))
    assert night.run(61, quality=Quality.LEAD_OFF) == []
    assert [a.outcome for a in night.monitor.alerts] == ["quiet_hours"]
    for speaker, outcome in (("silenced", "silenced"), ("none", "no_speaker")):
        other = Night(FaultMonitor(settings()))
        assert other.run(61, quality=Quality.LEAD_OFF, speaker=speaker) == []
        assert [a.outcome for a in other.monitor.alerts] == [outcome]
    off = Night(FaultMonitor(settings(enabled=False)))
    off.run(61, quality=Quality.LEAD_OFF)
    assert [a.outcome for a in off.monitor.alerts] == ["off"]


def test_an_alert_waits_while_a_cramp_prompt_is_being_said() -> None:
    night = Night(FaultMonitor(settings()))
    assert night.run(120, quality=Quality.LEAD_OFF, speaker="busy") == []
    assert night.monitor.alerts == []
    assert [a.kind for a in night.run(1, quality=Quality.LEAD_OFF)] == ["lead_off"]


def test_battery_low_once_with_hysteresis() -> None:
    night = Night(FaultMonitor(settings()))
    assert night.run(10, battery=16) == []
    assert [a.key for a in night.run(1, battery=15)] == ["fault.battery_low.left"]
    for level in (16, 15, 17, 14, 19, 15):  # wobbling around the threshold: one episode
        assert night.run(1, battery=level) == []
    assert len(night.monitor.alerts) == 1
    assert night.run(5, battery=None) == []  # not known for a moment: not a recovery


def test_link_lost_only_after_streaming_tonight_and_after_n_seconds() -> None:
    night = Night(FaultMonitor(settings(link_lost_after_s=600.0)))
    assert night.run(3600, streaming=False, quality=Quality.NO_SIGNAL) == []  # never streamed
    night.run(10)
    assert night.run(599, streaming=False, quality=Quality.NO_SIGNAL) == []
    assert [a.key for a in night.run(2, streaming=False)] == ["fault.link_lost.left"]
    night.run(10)  # back: the episode ends
    night.run(3600 - 12)
    assert [a.outcome for a in night.run(601, streaming=False)] == ["spoken"]  # after cooldown


def test_no_signal_faults_while_the_link_is_down() -> None:
    night = Night(FaultMonitor(settings()))
    night.run(10)
    assert night.run(590, streaming=False, quality=Quality.LEAD_OFF) == []


def test_disk_full_is_the_bedside_units_own_alert() -> None:
    night = Night(FaultMonitor(settings(disk_free_min_mb=200.0)))
    (alert,) = night.run(2, disk_mb=150.0)
    assert (alert.kind, alert.leg, alert.key) == ("disk_full", None, "fault.disk_full")
    assert night.run(5, disk_mb=None) == []  # unknown (statvfs failed): nothing new


def test_each_leg_has_its_own_alert_and_phrase() -> None:
    night = Night(FaultMonitor(settings()))
    said = night.run(61, quality=Quality.LEAD_OFF, legs=("left", "right", "wearable"))
    assert [a.key for a in said] == [
        "fault.lead_off.left", "fault.lead_off.right", "fault.lead_off",
    ]  # fmt: skip
    texts = fault_texts(PromptSettings().texts)
    assert "left calf sensor" in texts["fault.lead_off.left"]
    assert "right calf sensor" in texts["fault.lead_off.right"]
    assert "{sensor}" not in "".join(texts.values())


def test_nothing_outside_the_window_and_the_window_starts_afresh() -> None:
    morning = NIGHT.replace(hour=7, minute=30)
    night = Night(FaultMonitor(settings()), start=morning)
    assert night.run(600, quality=Quality.LEAD_OFF, battery=5) == []  # off the leg, charging
    # the next evening: an episode begun before the window counts from the window's start
    evening = Night(night.monitor, start=NIGHT.replace(hour=21, minute=59), t=night.t)
    assert evening.run(60, quality=Quality.LEAD_OFF) == []  # 21:59:01 … 22:00:00
    assert evening.run(59, quality=Quality.LEAD_OFF) == []  # 59 s inside the window
    assert [a.kind for a in evening.run(1, quality=Quality.LEAD_OFF)] == ["lead_off"]


def test_stream_time_makes_a_fast_replay_alert_as_the_night_did() -> None:
    """Observed every 90 s of signal (a replay at 90× real time): the same alert, by stream s."""
    monitor = FaultMonitor(settings())
    said = []
    for i, t in enumerate((0.0, 30.0, 90.0)):
        health = [LegHealth("left", True, Quality.LEAD_OFF, t, 80)]
        said += monitor.observe(health, disk_free_mb=None, now=float(i), wall=NIGHT)
    assert [a.kind for a in said] == ["lead_off"]
    # a good observation in between is not bad time: 21 s of 61 bad here
    split = FaultMonitor(settings())
    for i, (t, q) in enumerate(((0.0, Quality.LEAD_OFF), (1.0, Quality.GOOD),
                                (40.0, Quality.LEAD_OFF), (61.0, Quality.LEAD_OFF))):  # fmt: skip
        health = [LegHealth("left", True, q, t, 80)]
        assert split.observe(health, disk_free_mb=None, now=float(i), wall=NIGHT) == []


def test_alerts_of_a_night_for_the_summary() -> None:
    night = Night(FaultMonitor(settings()))
    night.run(61, quality=Quality.LEAD_OFF)
    (alert,) = night.monitor.alerts_of_night("2026-11-26")
    assert alert.as_json() == {
        "kind": "lead_off", "leg": "left", "since": (NIGHT + timedelta(seconds=1)).isoformat(),
        "time": (NIGHT + timedelta(seconds=61)).isoformat(), "outcome": "spoken",
    }  # fmt: skip
    assert night.monitor.alerts_of_night("2026-11-25") == []


def test_fault_settings_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[prompt.faults]\ncooldown_s = [60.0]\n")
    with pytest.raises(ConfigError, match="cooldown_s': expected 6 values"):
        load_settings(path)
    path.write_text('[prompt.faults]\nactive_from = "25:00"\n')
    with pytest.raises(ConfigError, match="active_from"):
        load_settings(path)
    path.write_text("[prompt.faults]\nbattery_low_pct = 95\n")
    with pytest.raises(ConfigError, match="above the maximum"):
        load_settings(path)


def test_last_nights_link_does_not_make_tonight_a_lost_link() -> None:
    night = Night(FaultMonitor(settings()), start=NIGHT.replace(hour=6, minute=50))
    night.run(60)
    night.run(120, streaming=False)  # taken off at 06:51, before link_lost_after_s
    noon = Night(night.monitor, start=NIGHT.replace(hour=12), t=night.t + 5 * 3600)  # ticking on
    assert noon.run(5, streaming=False) == []
    # the next evening the wearable is still on its charger: not a fault
    evening = Night(night.monitor, start=NIGHT.replace(hour=22, minute=0), t=noon.t + 10 * 3600)
    assert evening.run(1200, streaming=False) == []


def test_a_refused_device_and_a_failed_write_are_said_once() -> None:
    """Issue 16: an unsupported wearable (the link refused it) and a write that failed for lack
    of space (even while statvfs still shows room) reach the bedside speaker, once each."""
    monitor = FaultMonitor(settings())
    wall = NIGHT
    refused = [LegHealth("left", False, None, 0.0, None, unsupported=True)]
    said = monitor.observe(refused, disk_free_mb=10_000.0, now=1.0, wall=wall, disk_full=True)
    assert sorted(a.key for a in said) == ["fault.disk_full", "fault.unsupported_device.left"]
    again = monitor.observe(refused, disk_free_mb=10_000.0, now=2.0,
                            wall=wall + timedelta(seconds=1), disk_full=True)
    assert again == []  # one episode each
    assert "cannot read" in fault_texts(PromptSettings().texts)["fault.unsupported_device.left"]
