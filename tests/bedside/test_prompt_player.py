"""The async engine and the real players: aplay to ALSA's null device, a hung hook, no device."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from bedside.config.prompt import PromptSettings
from bedside.prompt.engine import PromptEngine, build_engine
from bedside.prompt.output import PlayerTimeoutError, PlayerUnavailableError
from bedside.prompt.player import (
    AplayPlayer,
    NullPlayer,
    SubprocessPlayer,
    WavDirPlayer,
    build_player,
)
from bedside.prompt.speech import CHIME_GAP_S, CHIME_S, Clip, read_wav, render_phrases, wav_stats
from bedside.stream.records import EventRecord
from firmware_bridge.errors import PromptError
from tests.bedside.prompt_fixtures import FakeClock, RecordingPlayer, require_tool, wav
from tests.conftest import record

FIRST_WORDS_BUDGET_S = 1.0  # issue 6: first words audible within 1 s of the event


def started(n: int = 1) -> EventRecord:
    return record({"event": "cramp_started", "event_id": f"s:left:{n}:started", "leg": "left"})


def ended(n: int = 1) -> EventRecord:
    return record({"event": "cramp_ended", "event_id": f"s:left:{n}:ended", "leg": "left"})


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    require_tool("espeak-ng", "espeak-ng")
    return render_phrases(PromptSettings(), tmp_path_factory.mktemp("cache"))


def text_clips() -> dict[str, Clip]:
    return render_phrases(PromptSettings(backend="none"))


def pid_alive(pid: int) -> bool:
    """Running (a killed orphan may linger as a zombie where PID 1 does not reap: dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


async def test_engine_plays_the_sequence_with_the_volume_ramp(clips: dict[str, Clip]) -> None:
    clock, player = FakeClock(), RecordingPlayer()
    settings = PromptSettings()
    async with PromptEngine(
        settings, player, clips=clips, clock=clock, wall_clock=clock.wall
    ) as engine:
        await engine.on_event(started())
        await engine.drain()
        for _ in range(int(30 / 0.5)):
            clock.advance(0.5)
            await engine.tick()
            await engine.drain()
        await engine.on_event(ended())
        clock.advance(settings.dip_grace_s + 0.5)
        await engine.tick()
        await engine.drain()
        stats = engine.statistics()
    assert [key for key, _, _ in player.played] == ["opening", "hold.0", "hold.1", "closing"]
    energies = [wav_stats(path).rms for _, path, _ in player.played if path is not None]
    speech = [wav_stats(wav(clips[k])).rms for k, _, _ in player.played]
    ratios = [e / s for e, s in zip(energies, speech, strict=True)]
    assert ratios[0] == pytest.approx(settings.volume_start_pct / 100, abs=0.03)
    assert ratios == sorted(ratios) and ratios[-1] == pytest.approx(1.0)
    for key, _, timeout in player.played:  # timeout = phrase length + margin
        assert timeout == pytest.approx(clips[key].duration_s + settings.player_timeout_margin_s)
    assert stats.spoken == 4 and stats.failures == stats.timeouts == 0
    assert stats.sequences == 1 and stats.last_start_latency_s == 0.0
    assert stats.line() == "events=2 sequences=1 utterances=4 spoken=4 start_latency=0ms"


async def test_first_words_within_a_second_through_aplay(clips: dict[str, Clip]) -> None:
    """Event → aplay (ALSA null device) has consumed the opening, plus the chime before the words.

    ``aplay -D null`` does not pace playback, so its run time is the start-up cost a real
    device adds before the first sample; the words then follow the chime in the WAV.
    """
    require_tool("aplay", "alsa-utils")
    data, rate = read_wav(wav(clips["opening"]))
    lead = int((CHIME_S + CHIME_GAP_S) * rate)
    words_offset_s = (lead + np.flatnonzero(np.abs(data[lead:]) > 0.01)[0]) / rate
    latencies = []
    for n in range(5):
        engine = PromptEngine(PromptSettings(cooldown_s=0), AplayPlayer("null"), clips=clips)
        t0 = time.perf_counter()
        await engine.on_event(started(n))
        await engine.drain()
        latencies.append(time.perf_counter() - t0)
        assert engine.statistics().spoken == 1, engine.statistics()
        await engine.aclose()
    worst = max(latencies) + words_offset_s
    print(f"\nfirst words: player start {1000 * np.median(latencies):.1f} ms median, "
          f"{1000 * max(latencies):.1f} ms worst; words at {words_offset_s:.2f} s in the WAV; "
          f"worst event→words {worst:.2f} s")  # fmt: skip
    assert worst < FIRST_WORDS_BUDGET_S


async def test_on_event_never_waits_for_a_hung_player(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    # the hook backgrounds a grandchild and waits: killing only `sh` would leave it playing
    hook = SubprocessPlayer(("sh", "-c", f'sleep 30 & echo $! > "{pid_file}"; wait'))
    settings = PromptSettings(backend="none", player_timeout_margin_s=0.5)
    engine = PromptEngine(settings, hook, clips=text_clips())
    t0 = time.perf_counter()
    await engine.on_event(started())
    returned_s = time.perf_counter() - t0
    for _ in range(10):  # detection and ticks go on while the hook hangs
        await engine.tick()
        await asyncio.sleep(0.02)
    await asyncio.wait_for(engine.drain(), 5.0)
    elapsed = time.perf_counter() - t0
    stats = engine.statistics()
    await engine.aclose()
    assert returned_s < 0.2  # ≈ 0.1 ms measured; far below the hang
    assert stats.timeouts == 1 and stats.spoken == 0
    assert 0.5 <= elapsed < 3.0
    grandchild = int(pid_file.read_text())
    for _ in range(50):
        if not pid_alive(grandchild):
            break
        await asyncio.sleep(0.02)
    assert not pid_alive(grandchild), "the hook's grandchild survived the kill"


async def test_player_timeout_raises_and_kills(tmp_path: Path) -> None:
    player = SubprocessPlayer(("sleep", "30"))
    clip = Clip("opening", "x", None, 0.0)
    t0 = time.perf_counter()
    with pytest.raises(PlayerTimeoutError, match=r"still running after 0\.3 s: killed"):
        await player.play(clip, timeout_s=0.3)
    assert time.perf_counter() - t0 < 2.0


async def test_no_audio_device_is_one_clear_log_line(
    clips: dict[str, Clip], caplog: pytest.LogCaptureFixture
) -> None:
    require_tool("aplay", "alsa-utils")
    clock = FakeClock()
    engine = PromptEngine(
        PromptSettings(cooldown_s=0),
        AplayPlayer("crampwatch_no_such_device"),
        clips=clips,
        clock=clock,
        wall_clock=clock.wall,
    )
    with caplog.at_level(logging.DEBUG, logger="bedside.prompt"):
        for n in range(3):
            await engine.on_event(started(n))
            await engine.drain()
            await engine.on_event(ended(n))
            clock.advance(60)
            await engine.tick()
            await engine.drain()
    await engine.aclose()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    message = warnings[0].getMessage()
    assert "cannot open ALSA device 'crampwatch_no_such_device'" in message
    assert "\n" not in message
    stats = engine.statistics()
    assert stats.unavailable == 6 and stats.spoken == 0  # 3 openings + 3 closings, counted


async def test_aplay_null_device_plays_and_failures_are_prompt_errors(
    clips: dict[str, Clip], tmp_path: Path
) -> None:
    require_tool("aplay", "alsa-utils")
    await AplayPlayer("null").play(clips["hold.0"], timeout_s=10.0)
    with pytest.raises(PlayerUnavailableError, match="cannot open ALSA device"):
        await AplayPlayer("crampwatch_no_such_device").play(clips["hold.0"], timeout_s=10.0)
    with pytest.raises(PlayerUnavailableError, match="program not found"):
        await SubprocessPlayer((str(tmp_path / "no-player"), "{wav}")).play(
            clips["hold.0"], timeout_s=1.0
        )
    failing = SubprocessPlayer(("sh", "-c", "echo first >&2; echo 'bad sample rate' >&2; exit 3"))
    with pytest.raises(PromptError, match="sh exited with status 3: bad sample rate") as info:
        await failing.play(clips["hold.0"], timeout_s=5.0)
    assert info.value.returncode == 3


async def test_command_hook_gets_placeholders(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    hook = SubprocessPlayer(
        ("sh", "-c", 'printf "%s|%s|%s|%s" "$1" "$2" "$3" "$4" > "$0"', str(out),
         "{key}", "{text}", "{wav}", "{device}"),
        device="hw:1",
    )  # fmt: skip
    await hook.play(
        Clip("hold.0", "Hold it; don't 'quote' me.", tmp_path / "a.wav", 1.0), timeout_s=5
    )
    assert out.read_text() == f"hold.0|Hold it; don't 'quote' me.|{tmp_path / 'a.wav'}|hw:1"


async def test_silence_kills_playback_and_drops_the_queue(
    clips: dict[str, Clip], tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    hook = SubprocessPlayer(("sh", "-c", f'echo $$ > "{pid_file}"; exec sleep 30'))
    clock = FakeClock()
    engine = PromptEngine(PromptSettings(), hook, clips=clips, clock=clock, wall_clock=clock.wall)
    await engine.on_event(started())
    for _ in range(500):  # until the opening is "playing" (sleep 30)
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.01)
    clock.advance(14.0)
    await engine.tick()  # hold.0 queued behind it
    t0 = time.perf_counter()
    assert engine.silence("cramp") is True
    await asyncio.wait_for(engine.drain(), 5.0)
    assert time.perf_counter() - t0 < 2.0
    clock.advance(30.0)
    await engine.tick()
    await engine.drain()
    stats = engine.statistics()
    await engine.aclose()
    assert stats.silences == 1 and stats.dropped_silenced == 1
    assert stats.timeouts == 0 and stats.utterances == 2  # nothing after the silence
    assert not pid_alive(int(pid_file.read_text()))


async def test_a_stop_during_the_spawn_still_stops_the_clip() -> None:
    hook = SubprocessPlayer(("sleep", "30"))
    play = asyncio.create_task(hook.play(Clip("opening", "x", None, 0.0), timeout_s=20.0))
    await asyncio.sleep(0)  # play() has begun spawning, no process handle yet
    await hook.stop()
    t0 = time.perf_counter()
    await asyncio.wait_for(play, 5.0)  # killed as soon as it exists: no error, no 20 s wait
    assert time.perf_counter() - t0 < 2.0


async def test_stale_silence_command_is_rejected(clips: dict[str, Clip]) -> None:
    clock, player = FakeClock(), RecordingPlayer()
    settings = PromptSettings(command_max_age_s=30)
    async with PromptEngine(
        settings, player, clips=clips, clock=clock, wall_clock=clock.wall
    ) as engine:
        await engine.on_event(started())
        await engine.drain()
        assert not engine.silence("night", issued_at=clock.wall() - timedelta(minutes=5))
        assert engine.silence("cramp", issued_at=clock.wall() - timedelta(seconds=2))
        stats = engine.statistics()
    assert stats.stale_commands == 1 and stats.silences == 1


async def test_lines_that_cannot_start_in_time_are_dropped(clips: dict[str, Clip]) -> None:
    clock, player = FakeClock(), RecordingPlayer()
    async with PromptEngine(
        PromptSettings(stale_after_s=5), player, clips=clips, clock=clock, wall_clock=clock.wall
    ) as engine:
        await engine.on_event(started())  # queued, not yet played (no await point yet)
        clock.advance(6.0)
        await engine.drain()
        stats = engine.statistics()
    assert player.played == [] and stats.dropped_stale == 1


async def test_say_is_for_idle_times_only(clips: dict[str, Clip]) -> None:
    clock, player = FakeClock(), RecordingPlayer()
    async with PromptEngine(
        PromptSettings(), player, clips=clips, clock=clock, wall_clock=clock.wall
    ) as engine:
        assert engine.say("bedtime")
        assert not engine.say("no-such-phrase")
        await engine.on_event(started())
        assert not engine.say("bedtime")  # a cramp prompt is running
        await engine.drain()
        await engine.on_event(ended())
        clock.advance(60.0)
        await engine.tick()  # closing; the sequence is over
        engine.silence("night")
        assert not engine.say("bedtime")  # silenced for the night
        assert engine.say("opening", force=True)  # an explicit test press still plays
        await engine.drain()
    assert [k for k, _, _ in player.played] == ["bedtime", "opening", "opening"]


async def test_run_ticks_with_an_injected_sleep(clips: dict[str, Clip]) -> None:
    clock, player = FakeClock(), RecordingPlayer()
    engine = PromptEngine(PromptSettings(), player, clips=clips, clock=clock, wall_clock=clock.wall)
    ticks = 0

    async def fake_sleep(seconds: float) -> None:
        nonlocal ticks
        ticks += 1
        clock.advance(seconds)
        await asyncio.sleep(0)
        if ticks == 4 * 15:  # 15 virtual seconds
            raise asyncio.CancelledError

    await engine.on_event(started())
    with pytest.raises(asyncio.CancelledError):
        await engine.run(interval_s=0.25, sleep=fake_sleep)
    await engine.drain()
    await engine.aclose()
    assert [k for k, _, _ in player.played] == ["opening", "hold.0"]


async def test_wav_dir_and_null_players(clips: dict[str, Clip], tmp_path: Path) -> None:
    sink = WavDirPlayer(tmp_path / "out")
    await sink.play(clips["opening"], timeout_s=1)
    await sink.play(clips["hold.0"], timeout_s=1)
    assert [p.name for p in sink.written] == ["001-opening.wav", "002-hold.0.wav"]
    assert (tmp_path / "out" / "002-hold.0.wav").read_bytes() == wav(clips["hold.0"]).read_bytes()
    null = NullPlayer()
    await null.play(clips["opening"], timeout_s=1)
    assert null.played == 1
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(PlayerUnavailableError, match="cannot write"):
        await WavDirPlayer(blocked / "sub").play(clips["opening"], timeout_s=1)


def test_build_player_follows_the_settings(tmp_path: Path) -> None:
    assert isinstance(build_player(PromptSettings()), AplayPlayer)
    assert isinstance(build_player(PromptSettings(backend="none")), NullPlayer)
    hook = build_player(PromptSettings(output="command", command=("pw-play", "{wav}")))
    assert isinstance(hook, SubprocessPlayer) and hook.template == ("pw-play", "{wav}")
    assert isinstance(build_player(PromptSettings(), wav_dir=tmp_path), WavDirPlayer)
    settings = dataclasses.replace(PromptSettings(), audio_device="plughw:1,0")
    player = build_player(settings)
    assert isinstance(player, AplayPlayer)
    assert player.argv(Clip("k", "t", tmp_path / "a.wav", 1.0)) == [
        "aplay", "-q", "-D", "plughw:1,0", str(tmp_path / "a.wav"),
    ]  # fmt: skip


async def test_build_engine_degrades_to_chime_then_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = PromptSettings(cache_dir=str(tmp_path / "cache"))
    with monkeypatch.context() as patch:
        patch.setenv("PATH", str(tmp_path))  # no espeak-ng here
        engine = await build_engine(settings, wav_dir=tmp_path / "out")
    assert engine.settings.backend == "chime"
    assert "espeak-ng not found" in caplog.text
    await engine.on_event(started())
    await engine.drain()
    await engine.aclose()
    (written,) = (tmp_path / "out").glob("*.wav")
    assert written.name == "001-opening.wav"
    assert wav_stats(written).duration_s == pytest.approx(CHIME_S, abs=0.01)
    blocked = tmp_path / "file"
    blocked.write_text("")
    engine = await build_engine(PromptSettings(cache_dir=str(blocked / "cache")))
    assert engine.settings.backend == "none" and isinstance(engine.player, NullPlayer)
    await engine.on_event(started())  # the engine still follows cramps, silently
    await engine.drain()
    assert engine.statistics().sequences == 1
    await engine.aclose()


async def test_a_simulated_night_on_stream_time_writes_its_prompts(tmp_path: Path) -> None:
    """How ``crampwatch demo`` uses it: contract events, stream time as the clock, WAV output."""
    require_tool("espeak-ng", "espeak-ng")
    stream_t = 0.0
    settings = PromptSettings(cache_dir=str(tmp_path / "cache"), cooldown_s=600.0)
    engine = await build_engine(settings, wav_dir=tmp_path / "night", clock=lambda: stream_t)
    base = {"leg": "left", "intensity": 4.2}
    night = {
        812.0: {"event": "cramp_started", "event_id": "n:left:1:started", "t_onset": 810.0,
                "t_detect": 812.0, "time": "2026-11-27T01:13:35+00:00", **base},
        850.0: {"event": "cramp_update", "event_id": "n:left:1:u1", "t": 850.0, **base},
        901.0: {"event": "cramp_ended", "event_id": "n:left:1:ended", "t_onset": 810.0,
                "t_end": 901.0, "duration_s": 91.0, "peak_intensity": 7.9, **base},
        1200.0: {"event": "cramp_started", "event_id": "n:left:2:started", **base},
        1230.0: {"event": "cramp_ended", "event_id": "n:left:2:ended", **base},
    }  # fmt: skip
    for second in range(1300):  # one tick per stream second: a night's hour in a moment
        stream_t = float(second)
        if stream_t in night:
            await engine.on_event(record(night[stream_t]))
        await engine.tick()
        await engine.drain()
    await engine.aclose()
    names = [p.name.split("-", 1)[1] for p in sorted((tmp_path / "night").glob("*.wav"))]
    assert names == [
        "opening.wav", "hold.0.wav", "hold.1.wav", "hold.2.wav", "escalation.0.wav",
        "closing.wav", "repeat_short.wav",
    ]  # fmt: skip
    stats = engine.statistics()
    assert stats.sequences == 1 and stats.short_reminders == 1 and stats.spoken == 7
