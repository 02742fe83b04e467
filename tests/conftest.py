"""Shared fixtures: repository paths, the real recordings, a seeded ``rng``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = ROOT.parent / "shared" / "data" / "real"


@pytest.fixture
def rng() -> Iterator[np.random.Generator]:
    yield np.random.default_rng(20261126)


@pytest.fixture
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.fail(
            f"real recordings not found at {REAL_DATA} (the shared/ folder beside the repo)"
        )
    return REAL_DATA
