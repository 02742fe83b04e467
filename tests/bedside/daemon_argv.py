"""The command line of a real ``crampwatch run --virtual`` daemon for subprocess tests."""

from __future__ import annotations

import sys
from pathlib import Path


def virtual_run_argv(config: Path, *, seed: int, hours: float, speed: float,
                     profile: str | None = None, quiet: bool = False) -> list[str]:
    """``python -m bedside.cli [-q] run --config CONFIG --virtual sim:SEED --hours H
    [--profile P] --speed X`` with this interpreter (the package under test, not a PATH copy)."""
    argv = [sys.executable, "-m", "bedside.cli", *(["-q"] if quiet else []), "run",
            "--config", str(config), "--virtual", f"sim:{seed}", "--hours", f"{hours:g}"]
    if profile is not None:
        argv += ["--profile", profile]
    return [*argv, "--speed", f"{speed:g}"]
