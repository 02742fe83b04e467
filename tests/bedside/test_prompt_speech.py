"""espeak-ng renders every phrase to the WAV cache: speech-length, non-silent, cached, gain."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bedside.config.prompt import PromptSettings, PromptTexts
from bedside.prompt.faults import fault_texts
from bedside.prompt.routine import max_count, routine_texts
from bedside.prompt.speech import (
    CHIME_GAP_S,
    CHIME_S,
    FIRST_KEYS,
    Clip,
    phrase_texts,
    read_wav,
    render_phrases,
    synth_chime,
    wav_stats,
    with_gain,
    write_wav,
)
from firmware_bridge.errors import ConfigError, PromptError
from tests.bedside.prompt_fixtures import require_tool, wav

# Speech-length bounds: espeak-ng at 140 wpm says ~2.3 words/s; pauses at commas and full stops
# stretch that. Anything outside 0.15–1.0 s per word is not speech of this text.
MIN_S_PER_WORD, MAX_S_PER_WORD = 0.15, 1.0
ESPEAK_PAD_S = 0.5
MIN_SPEECH_RMS = 0.02  # of full scale; espeak-ng -a 150 speech measures ~0.13, silence 0


Rendered = tuple[PromptSettings, Path, dict[str, Clip]]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    require_tool("espeak-ng", "espeak-ng")
    settings = PromptSettings()
    cache = tmp_path_factory.mktemp("prompt-cache")
    return settings, cache, render_phrases(settings, cache)


def test_every_phrase_is_rendered_speech_length_and_non_silent(
    rendered: Rendered,
) -> None:
    settings, _, clips = rendered
    assert list(clips) == list(phrase_texts(settings))
    routine = routine_texts(settings.texts, settings.routine.steps, max_count(settings))
    extra = len(routine) + len(fault_texts(settings.texts))
    assert len(clips) == 1 + len(settings.texts.hold) + len(settings.texts.escalation) + 4 + extra
    for key, clip in clips.items():
        stats = wav_stats(wav(clip))
        words = len(clip.text.split())
        speech_s = stats.duration_s - (CHIME_S + CHIME_GAP_S if key in FIRST_KEYS else 0.0)
        # + ESPEAK_PAD_S: espeak-ng's own lead-in and trailing silence, which dominate one word
        assert MIN_S_PER_WORD * words < speech_s < MAX_S_PER_WORD * words + ESPEAK_PAD_S, (
            key,
            speech_s,
            words,
        )
        assert stats.rms > MIN_SPEECH_RMS, (key, stats.rms)
        assert stats.rate_hz == 22050
        assert clip.duration_s == pytest.approx(stats.duration_s)
        # the sound is spread over the clip, not one click: most 100 ms windows carry energy
        data, rate = read_wav(wav(clip))
        win = data[: len(data) // (rate // 10) * (rate // 10)].reshape(-1, rate // 10)
        loud = np.sqrt((win**2).mean(axis=1)) > 0.01
        assert loud.mean() > 0.5, (key, loud.mean())


def test_chime_opens_the_first_lines_only(
    rendered: Rendered,
) -> None:
    _, _, clips = rendered
    for key, clip in clips.items():
        data, rate = read_wav(wav(clip))
        head = data[: int(CHIME_S * rate)]
        chime = synth_chime(rate)
        corr = float(np.dot(head, chime[: len(head)]) / np.dot(chime, chime))
        if key in FIRST_KEYS:
            assert corr == pytest.approx(1.0, abs=0.01), key
            # and the words start right after the gap: first words within the first second
            words = np.flatnonzero(np.abs(data[int((CHIME_S + CHIME_GAP_S) * rate) :]) > 0.01)
            assert CHIME_S + CHIME_GAP_S + words[0] / rate < 0.5
        else:
            assert abs(corr) < 0.2, key


def test_cache_is_reused_and_keyed_by_text_and_voice(
    rendered: Rendered,
) -> None:
    settings, cache, clips = rendered
    mtimes = {k: wav(c).stat().st_mtime_ns for k, c in clips.items()}
    again = render_phrases(settings, cache)
    assert {k: c.path for k, c in again.items()} == {k: c.path for k, c in clips.items()}
    assert {k: wav(c).stat().st_mtime_ns for k, c in again.items()} == mtimes
    changed = dataclasses.replace(
        settings, texts=dataclasses.replace(settings.texts, closing="All done. Rest now.")
    )
    other = render_phrases(changed, cache)
    assert other["closing"].path != clips["closing"].path
    assert other["opening"].path == clips["opening"].path
    assert other["closing"].duration_s < clips["closing"].duration_s
    slow = render_phrases(dataclasses.replace(settings, speed_wpm=100), cache)
    assert slow["opening"].duration_s > clips["opening"].duration_s * 1.2
    assert not list(cache.glob(".*"))  # no temporary files left behind


def test_other_language_and_variant(tmp_path: Path) -> None:
    require_tool("espeak-ng", "espeak-ng")
    texts = PromptTexts(
        opening="Strecke das Bein und ziehe die Zehen zu dir.",
        hold=("Halten.",),
        escalation=(),
        closing="Gut gemacht.",
        repeat_short="Noch einmal.",
        bedtime="Zeit zum Dehnen.",
        bedtime_thanks="",
    )
    settings = PromptSettings(voice="de", voice_variant="f3", chime=False, texts=texts)
    clips = render_phrases(settings, tmp_path)
    assert {"opening", "hold.0", "closing", "repeat_short", "bedtime"} <= set(clips)
    assert set(clips) == set(phrase_texts(settings)) and "bedtime_thanks" not in clips
    assert all(wav_stats(wav(c)).rms > MIN_SPEECH_RMS for c in clips.values())


def test_unknown_voice_is_a_config_error(tmp_path: Path) -> None:
    require_tool("espeak-ng", "espeak-ng")
    with pytest.raises(ConfigError, match="key 'voice': espeak-ng cannot use voice 'xx-nope'"):
        render_phrases(PromptSettings(voice="xx-nope"), tmp_path)


def test_missing_espeak_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on this PATH
    with pytest.raises(PromptError, match="espeak-ng not found: install the Debian package"):
        render_phrases(PromptSettings(), tmp_path / "cache")


def test_chime_backend_and_chime_file(tmp_path: Path) -> None:
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)
    write_wav(tmp_path / "bell.wav", tone, 16000)
    settings = PromptSettings(backend="chime", chime_file=str(tmp_path / "bell.wav"))
    clips = render_phrases(settings, tmp_path / "cache")
    stats = [wav_stats(wav(c)) for c in clips.values()]
    assert all(s.duration_s == pytest.approx(0.5, abs=0.01) for s in stats)  # resampled 16→22 kHz
    assert all(s.rms == pytest.approx(0.5 / np.sqrt(2), rel=0.02) for s in stats)
    with pytest.raises(ConfigError, match="chime_file"):
        render_phrases(PromptSettings(chime_file=str(tmp_path / "absent.wav")), tmp_path / "c2")


def test_none_backend_has_texts_without_audio(tmp_path: Path) -> None:
    clips = render_phrases(PromptSettings(backend="none"), tmp_path)
    assert clips["opening"].path is None and clips["opening"].text
    assert not list(tmp_path.iterdir())


def test_with_gain_scales_energy(
    rendered: Rendered,
) -> None:
    _, _, clips = rendered
    full = wav_stats(wav(clips["hold.0"])).rms
    for pct in (40, 73, 100):
        scaled = with_gain(clips["hold.0"], pct)
        expected = round(pct / 5) * 5 / 100
        assert wav_stats(wav(scaled)).rms == pytest.approx(full * expected, rel=0.01)
    assert with_gain(clips["hold.0"], 100).path == clips["hold.0"].path


def test_read_wav_refuses_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not a wav")
    with pytest.raises(PromptError, match="cannot read WAV"):
        read_wav(bad)


def test_chime_backend_renders_anew_when_the_chime_file_changes(tmp_path: Path) -> None:
    bell = tmp_path / "bell.wav"
    write_wav(bell, 0.3 * np.ones(2205), 22050)
    settings = PromptSettings(backend="chime", chime=False, chime_file=str(bell))
    first = render_phrases(settings, tmp_path / "cache")["opening"]
    write_wav(bell, 0.3 * np.ones(4410), 22050)
    second = render_phrases(settings, tmp_path / "cache")["opening"]
    assert first.path != second.path
    assert first.duration_s == pytest.approx(0.1) and second.duration_s == pytest.approx(0.2)


def test_a_damaged_cache_file_is_rendered_again(tmp_path: Path) -> None:
    require_tool("espeak-ng", "espeak-ng")
    settings = PromptSettings(chime=False)
    clips = render_phrases(settings, tmp_path)
    scaled = with_gain(clips["closing"], 50)
    good = wav(clips["closing"]).read_bytes()
    wav(clips["closing"]).write_bytes(good[:30])  # truncated, e.g. by a full disk
    again = render_phrases(settings, tmp_path)
    assert wav(again["closing"]).read_bytes() == good  # espeak-ng is deterministic
    assert not wav(scaled).exists()  # the stale loudness variant went with it
    assert again["closing"].duration_s == pytest.approx(clips["closing"].duration_s)
