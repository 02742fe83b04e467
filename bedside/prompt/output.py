"""The audio-output seam shared by the players and the GPIO signal: the :class:`Player`
protocol and its errors. ``player`` and ``gpio`` both import this; neither imports the other's
module for its types."""

from __future__ import annotations

from typing import Protocol

from bedside.prompt.speech import Clip
from firmware_bridge.errors import PromptError


class PlayerTimeoutError(PromptError):
    """The player ran past its timeout and was killed."""


class PlayerUnavailableError(PromptError):
    """The player cannot work at all here: binary missing, or no audio device."""


class Player(Protocol):
    """The audio-output seam of the prompt engine (tests fake it)."""

    name: str

    async def play(self, clip: Clip, *, timeout_s: float) -> None:
        """Play one clip to the end; raise ``PromptError`` on failure or timeout."""

    async def stop(self) -> None:
        """Stop what is playing now (no-op when idle)."""
