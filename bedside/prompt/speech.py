"""Render every phrase once with espeak-ng into a WAV cache, and small WAV helpers.

Rendering happens at start-up (``render_phrases``), so the first words of a prompt only need a
player start (measured in BENCHMARKS.md), never a speech synthesis. Cache files are named by
phrase key plus a hash of text and voice settings, so a changed text or voice renders anew and an
unchanged one is reused across restarts. Files are written to a temporary name and renamed, so a
crash never leaves a half-written WAV in the cache.

WAVs are 16-bit PCM; espeak-ng writes 22 050 Hz mono (ecosystem note §6). Samples handled here are
float64 in [-1, 1], shape ``(n_samples,)``. No paho, no bleak.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bedside.config.prompt import PromptSettings
from bedside.prompt.faults import fault_texts
from bedside.prompt.routine import max_count, routine_texts
from firmware_bridge.errors import ConfigError, PromptError

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

ESPEAK = "espeak-ng"
ESPEAK_TIMEOUT_S = 30.0  # a 60-word phrase renders in ~0.1 s here; 30 s means espeak is stuck
CHIME_RATE_HZ = 22050  # espeak-ng's output rate, so the chime can be prepended sample for sample
CHIME_S = 0.25
CHIME_GAP_S = 0.08  # pause between chime and first word
SOUND_THRESHOLD = 0.01  # |sample| above 1 % of full scale counts as sound (16-bit dither is 3e-5)
FIRST_KEYS = ("opening", "repeat_short", "bedtime")  # lines that open a sequence: chime first


@dataclass(frozen=True, slots=True)
class Clip:
    """A phrase: key (``opening``, ``hold.0``, …), text, WAV (``None``: no audio), length in s."""

    key: str
    text: str
    path: Path | None
    duration_s: float


@dataclass(frozen=True, slots=True)
class WavStats:
    """``duration_s`` s; ``rms`` and ``peak`` as fractions of full scale; ``first_sound_s`` s."""

    rate_hz: int
    duration_s: float
    rms: float
    peak: float
    first_sound_s: float


def read_wav(path: Path) -> tuple[FloatArray, int]:
    """Read a 16-bit PCM WAV → (samples ``(n,)`` float64 in [-1, 1], mono mix; rate in Hz)."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise PromptError(f"{path}: cannot read WAV: {exc}") from exc
    if width != 2:
        raise PromptError(f"{path}: only 16-bit PCM WAV is supported, got {8 * width}-bit")
    data = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    if channels > 1:
        data = data[: len(data) // channels * channels].reshape(-1, channels).mean(axis=1)
    return data, rate


def write_wav(path: Path, samples: FloatArray, rate_hz: int) -> None:
    """Write ``samples`` ``(n,)`` in [-1, 1] as 16-bit mono PCM, atomically (temp + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate_hz)
        wav.writeframes(pcm.tobytes())
    tmp.replace(path)


def wav_stats(path: Path) -> WavStats:
    """Duration, RMS energy, peak and the time of the first sample above ``SOUND_THRESHOLD``."""
    data, rate = read_wav(path)
    loud = np.flatnonzero(np.abs(data) > SOUND_THRESHOLD)
    return WavStats(
        rate_hz=rate,
        duration_s=len(data) / rate,
        rms=float(np.sqrt(np.mean(data**2))) if len(data) else 0.0,
        peak=float(np.max(np.abs(data))) if len(data) else 0.0,
        first_sound_s=float(loud[0] / rate) if len(loud) else float("inf"),
    )


def synth_chime(rate_hz: int = CHIME_RATE_HZ) -> FloatArray:
    """A soft two-note chime (E6 then A5 partials, ~0.3 of full scale), ``CHIME_S`` long.

    A 10 ms raised-cosine attack avoids a click; the exponential decay (τ = 60 ms) keeps it gentle.
    """
    t = np.arange(int(CHIME_S * rate_hz)) / rate_hz
    tone = 0.6 * np.sin(2 * np.pi * 1318.5 * t) + 0.4 * np.sin(2 * np.pi * 880.0 * t)
    attack = np.minimum(1.0, t / 0.010)
    envelope = 0.5 * (1 - np.cos(np.pi * attack)) * np.exp(-t / 0.060)
    return np.asarray(0.3 * tone * envelope, dtype=np.float64)


def _resample(samples: FloatArray, rate_from: int, rate_to: int) -> FloatArray:
    if rate_from == rate_to or len(samples) == 0:
        return samples
    n_out = max(1, round(len(samples) * rate_to / rate_from))
    x_out = np.arange(n_out) * (rate_from / rate_to)
    out: FloatArray = np.interp(x_out, np.arange(len(samples)), samples)  # linear: fine for a chime
    return out


def _chime_samples(settings: PromptSettings, rate_hz: int) -> FloatArray:
    if settings.chime_file:
        data, rate = read_wav(Path(settings.chime_file))
        return _resample(data, rate, rate_hz)
    return _resample(synth_chime(), CHIME_RATE_HZ, rate_hz)


def _espeak(settings: PromptSettings, text: str, out: Path) -> None:
    voice = settings.voice + (f"+{settings.voice_variant}" if settings.voice_variant else "")
    argv = [
        ESPEAK, "-v", voice, "-s", str(settings.speed_wpm), "-p", str(settings.pitch),
        "-a", str(settings.amplitude), "-w", str(out), "--stdin",
    ]  # fmt: skip
    try:
        result = subprocess.run(
            argv, input=text, capture_output=True, text=True, timeout=ESPEAK_TIMEOUT_S, check=False
        )
    except FileNotFoundError as exc:
        raise PromptError(
            "espeak-ng not found: install the Debian package espeak-ng (or set prompt.backend)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise PromptError(f"espeak-ng did not finish within {ESPEAK_TIMEOUT_S:.0f} s") from exc
    message = (result.stderr or result.stdout).strip().splitlines()
    if result.returncode != 0 or not out.exists():
        why = message[-1] if message else f"exit status {result.returncode}"
        if "voice" in why.lower():
            raise ConfigError(
                f"[prompt]: key 'voice': espeak-ng cannot use voice {voice!r}: {why}",
                section="prompt",
                key="voice",
            )
        raise PromptError(f"espeak-ng failed: {why}", returncode=result.returncode)


def phrase_texts(settings: PromptSettings) -> dict[str, str]:
    """Phrase key → text, in speaking order; empty optional texts are left out."""
    t = settings.texts
    texts = {"opening": t.opening}
    texts.update({f"hold.{i}": s for i, s in enumerate(t.hold)})
    texts.update({f"escalation.{i}": s for i, s in enumerate(t.escalation)})
    texts.update({"closing": t.closing, "repeat_short": t.repeat_short, "bedtime": t.bedtime})
    if t.bedtime_thanks.strip():
        texts["bedtime_thanks"] = t.bedtime_thanks
    texts.update(routine_texts(t, settings.routine.steps, max_count(settings)))
    if settings.faults.enabled:
        texts.update(fault_texts(t))
    return texts


def _cache_name(settings: PromptSettings, key: str, text: str) -> str:
    chime = ""
    if settings.backend == "chime" or (settings.chime and key in FIRST_KEYS):
        chime = settings.chime_file or "built-in"
        if settings.chime_file:
            try:  # by content: a replaced file renders anew even within one mtime tick
                chime += "@" + hashlib.sha256(Path(settings.chime_file).read_bytes()).hexdigest()
            except OSError as exc:
                raise ConfigError(
                    f"[prompt]: key 'chime_file': cannot read {settings.chime_file}: "
                    f"{exc.strerror}",
                    section="prompt",
                    key="chime_file",
                ) from exc
    recipe = "\0".join(
        [settings.backend, settings.voice, settings.voice_variant, str(settings.speed_wpm),
         str(settings.pitch), str(settings.amplitude), chime, text]
    )  # fmt: skip
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    return f"{key}-{digest}.wav"


def render_phrases(settings: PromptSettings, cache_dir: Path | None = None) -> dict[str, Clip]:
    """Render every phrase of ``settings.texts`` to ``cache_dir`` (default: the settings' cache).

    Returns phrase key → :class:`Clip` in speaking order. ``backend = "espeak"``: one espeak-ng
    WAV per phrase (the chime, if on, prepended to the lines that open a sequence);
    ``"chime"``: every key maps to the chime; ``"none"``: clips without audio.
    Raises ``PromptError`` (espeak-ng missing or failing) or ``ConfigError`` (unknown voice,
    unreadable chime file).
    """
    texts = phrase_texts(settings)
    if settings.backend == "none":
        return {key: Clip(key, text, None, 0.0) for key, text in texts.items()}
    cache = cache_dir if cache_dir is not None else settings.cache_path()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PromptError(f"cannot create the prompt cache {cache}: {exc.strerror}") from exc
    clips: dict[str, Clip] = {}
    rendered = 0
    for key, text in texts.items():
        path = cache / _cache_name(settings, key, text)
        duration = _cached_duration(path)
        if duration is None:
            rendered += 1
            try:
                if settings.backend == "chime":
                    write_wav(path, _chime_samples(settings, CHIME_RATE_HZ), CHIME_RATE_HZ)
                else:
                    _render_speech(settings, key, text, path)
            except OSError as exc:  # cache full or read-only
                raise PromptError(f"cannot write {path}: {exc.strerror}") from exc
            duration = wav_stats(path).duration_s
        clips[key] = Clip(key, text, path, duration)
    log.info("prompt: %d phrases ready in %s (%d newly rendered)", len(clips), cache, rendered)
    return clips


def _cached_duration(path: Path) -> float | None:
    """Length of a usable cached WAV; ``None`` if absent or damaged (it is removed: re-render)."""
    if not path.exists():
        return None
    try:
        stats = wav_stats(path)
    except PromptError:
        stats = None
    if stats is None or stats.duration_s <= 0.0:
        log.warning("prompt: damaged cache file %s: rendering it again", path.name)
        path.unlink(missing_ok=True)
        for scaled in path.parent.glob(f"{path.stem}.g*.wav"):  # its loudness variants too
            scaled.unlink(missing_ok=True)
        return None
    return stats.duration_s


def _render_speech(settings: PromptSettings, key: str, text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.espeak.wav")
    try:
        _espeak(settings, text, tmp)
        speech, rate = read_wav(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    if settings.chime and key in FIRST_KEYS:
        gap = np.zeros(int(CHIME_GAP_S * rate))
        speech = np.concatenate([_chime_samples(settings, rate), gap, speech])
    write_wav(path, speech, rate)


def with_gain(clip: Clip, gain_pct: float) -> Clip:
    """The clip scaled to ``gain_pct`` % (rounded to 5 %), cached beside the original WAV."""
    step = int(round(gain_pct / 5.0) * 5)
    if clip.path is None or step >= 100:
        return clip
    step = max(step, 5)
    scaled = clip.path.with_name(f"{clip.path.stem}.g{step:03d}.wav")
    if not scaled.exists():
        data, rate = read_wav(clip.path)
        write_wav(scaled, data * (step / 100.0), rate)
    return Clip(clip.key, clip.text, scaled, clip.duration_s)


def copy_clip(clip: Clip, dest: Path) -> None:
    """Copy the clip's WAV to ``dest`` (used by the WAV-directory sink)."""
    if clip.path is not None:
        shutil.copyfile(clip.path, dest)
