"""Shared helpers of the prompt tests: a fake clock, a recording player, rendered phrases."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bedside.prompt.speech import Clip

T0 = 1000.0  # monotonic seconds at the start of a test
WALL0 = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)  # a local evening (fixed offset: no DST)


def wav(clip: Clip) -> Path:
    """The clip's WAV path (rendered clips always have one)."""
    assert clip.path is not None, clip.key
    return clip.path


def require_tool(name: str, package: str) -> None:
    """Fail (not skip) with the Debian package to install, as the house style asks."""
    if shutil.which(name) is None:
        pytest.fail(f"{name} not found: install the Debian package {package} (./dev test does)")


@dataclass
class FakeClock:
    """Monotonic seconds and the matching wall clock, moved by hand: tests never sleep."""

    t: float = T0
    wall0: datetime = WALL0

    def __call__(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return self.wall0 + timedelta(seconds=self.t - T0)

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class RecordingPlayer:
    """Our audio seam, faked: records what it was asked to play (key, WAV, timeout)."""

    name: str = "recording"
    played: list[tuple[str, Path | None, float]] = field(default_factory=list)
    stops: int = 0

    async def play(self, clip: Clip, *, timeout_s: float) -> None:
        self.played.append((clip.key, clip.path, timeout_s))

    async def stop(self) -> None:
        self.stops += 1
