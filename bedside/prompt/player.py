"""Audio outputs of the prompt: aplay (ALSA), a command hook, a WAV directory, none.

Every player runs outside the event loop's way: a subprocess started with
``asyncio.create_subprocess_exec`` in its own process group, awaited with a timeout; on timeout the
whole group is killed (so ``sh -c`` hooks cannot leave a grandchild playing) and
:class:`PlayerTimeoutError` is raised. ``stop()`` kills what is playing (the "silence" command).
Failures are raised as ``PromptError`` subclasses; the engine logs and counts them, detection
never waits on them (ecosystem note §6: "Playback never blocks detection").

No paho, no bleak.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from bedside.config.prompt import PromptSettings
from bedside.prompt.gpio import with_gpio
from bedside.prompt.output import Player, PlayerTimeoutError, PlayerUnavailableError
from bedside.prompt.speech import Clip, copy_clip
from firmware_bridge.errors import PromptError

log = logging.getLogger(__name__)


class NullPlayer:
    """``backend = "none"``: plays nothing, counts what it was asked to play."""

    name = "none"

    def __init__(self) -> None:
        self.played = 0

    async def play(self, clip: Clip, *, timeout_s: float) -> None:
        self.played += 1

    async def stop(self) -> None:
        return None


class WavDirPlayer:
    """Writes each clip as ``NNN-key.wav`` into a directory instead of playing it."""

    name = "wav_dir"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written: list[Path] = []

    async def play(self, clip: Clip, *, timeout_s: float) -> None:
        if clip.path is None:
            return
        dest = self.directory / f"{len(self.written) + 1:03d}-{clip.key}.wav"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(copy_clip, clip, dest)
        except OSError as exc:
            raise PlayerUnavailableError(f"cannot write {dest}: {exc.strerror}") from exc
        self.written.append(dest)

    async def stop(self) -> None:
        return None


class SubprocessPlayer:
    """Runs one process per clip (argv from :meth:`argv`), killed when it overruns."""

    name = "command"

    def __init__(self, template: tuple[str, ...], *, device: str = "default") -> None:
        if not template:
            raise ValueError("a player command needs at least the program name")
        self.template = template
        self.device = device
        self._proc: asyncio.subprocess.Process | None = None
        self._stops = 0  # stop() calls so far: a stop during the spawn still stops the clip

    def argv(self, clip: Clip) -> list[str]:
        """The command for ``clip``: ``{wav}``, ``{text}``, ``{key}``, ``{device}`` replaced."""
        values = {
            "{wav}": str(clip.path) if clip.path is not None else "",
            "{text}": clip.text,
            "{key}": clip.key,
            "{device}": self.device,
        }
        out = []
        for token in self.template:
            for placeholder, value in values.items():
                token = token.replace(placeholder, value)
            out.append(token)
        return out

    def _explain(self, returncode: int, stderr: str) -> PromptError:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        last = lines[-1] if lines else "no message"
        return PromptError(
            f"{self.template[0]} exited with status {returncode}: {last}", returncode=returncode
        )

    async def play(self, clip: Clip, *, timeout_s: float) -> None:
        argv = self.argv(clip)
        stops = self._stops
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # own process group: a timeout kills the whole hook
            )
        except FileNotFoundError as exc:
            raise PlayerUnavailableError(f"{argv[0]}: program not found") from exc
        except OSError as exc:
            raise PlayerUnavailableError(f"{argv[0]}: cannot start: {exc.strerror}") from exc
        self._proc = proc
        if self._stops != stops:  # silenced while the process was starting
            await self._kill(proc)
        try:
            try:
                _, stderr = await asyncio.wait_for(proc.communicate(), timeout_s)
            except TimeoutError:
                await self._kill(proc)
                raise PlayerTimeoutError(
                    f"{argv[0]} still running after {timeout_s:.1f} s: killed"
                ) from None
            except asyncio.CancelledError:
                await self._kill(proc)
                raise
        finally:
            self._proc = None
        if proc.returncode is not None and proc.returncode < 0:
            return  # killed by stop(): silenced on purpose
        if proc.returncode:
            raise self._explain(proc.returncode, stderr.decode(errors="replace"))

    async def _kill(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()

    async def stop(self) -> None:
        self._stops += 1
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)


class AplayPlayer(SubprocessPlayer):
    """ALSA playback with ``aplay -q -D DEVICE file.wav`` (works from a system service)."""

    name = "aplay"

    def __init__(self, device: str = "default") -> None:
        super().__init__(("aplay", "-q", "-D", "{device}", "{wav}"), device=device)

    def _explain(self, returncode: int, stderr: str) -> PromptError:
        if "audio open error" in stderr or "Unknown PCM" in stderr:
            last = [line for line in stderr.splitlines() if "audio open error" in line]
            detail = last[-1].split("audio open error:", 1)[-1].strip() if last else "unknown"
            return PlayerUnavailableError(
                f"aplay: cannot open ALSA device {self.device!r} ({detail}); prompts are not "
                "audible: check `aplay -L`, the audio group and prompt.audio_device",
                returncode=returncode,
            )
        return super()._explain(returncode, stderr)

    async def play(self, clip: Clip, *, timeout_s: float) -> None:
        if clip.path is None:
            return
        await super().play(clip, timeout_s=timeout_s)


def build_player(settings: PromptSettings, *, wav_dir: Path | None = None) -> Player:
    """The player ``settings`` ask for; ``wav_dir`` overrides it with a WAV-directory sink.

    With ``gpio_led_pin``/``gpio_buzzer_pin`` set, the audio player is wrapped in a
    :class:`~bedside.prompt.gpio.GpioSignal` (if gpiozero and a GPIO chip are there).
    """
    player: Player
    if wav_dir is not None:
        return WavDirPlayer(wav_dir)
    if settings.backend == "none":
        player = NullPlayer()
    elif settings.output == "wav_dir":
        player = WavDirPlayer(Path(settings.wav_dir))
    elif settings.output == "command":
        player = SubprocessPlayer(settings.command, device=settings.audio_device)
    else:
        player = AplayPlayer(settings.audio_device)
    return with_gpio(player, settings)
