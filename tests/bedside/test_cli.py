"""``crampwatch --help`` lists every subcommand and each has its own ``--help``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bedside.cli import COMMANDS, _available


def crampwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bedside.cli", *args],
        capture_output=True, text=True, check=False, timeout=120,
    )


def test_help_lists_every_built_subcommand() -> None:
    result = crampwatch("--help")
    assert result.returncode == 0, result.stderr
    built = [name for name, module, _ in COMMANDS if _available(module)]
    assert {"demo", "run", "simulate", "replay", "score", "check-config"} <= set(built)
    for name in built:
        assert f"    {name}" in result.stdout


@pytest.mark.parametrize(
    "name", [name for name, module, _ in COMMANDS if _available(module)]
)
def test_each_subcommand_has_help(name: str) -> None:
    result = crampwatch(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: crampwatch {name}")


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = crampwatch("cramp-now")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
