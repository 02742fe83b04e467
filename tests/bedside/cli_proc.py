"""Run ``crampwatch`` in a subprocess, as a user would, with this interpreter and checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def crampwatch(
    *args: str | Path, env: dict[str, str] | None = None, umask: int | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """``python -m bedside.cli ARGS``: its exit code, stdout and stderr (text)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bedside.cli", *map(str, args)],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout,
        umask=-1 if umask is None else umask,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The one ``crampwatch: ...`` line of a refused command (asserting there is no traceback)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("crampwatch")]
    assert len(lines) == 1, proc.stderr
    return lines[0]
