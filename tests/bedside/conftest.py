"""Fixtures shared by the bedside tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A real mosquitto on a free loopback port, stopped after the test."""
    b = Broker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()
