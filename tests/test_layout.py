"""The rooms stay obvious: who may import what (house-style.md §1)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from tests.conftest import ROOT


def top_level_imports(package: Path) -> set[str]:
    found: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_detector_imports_only_numpy_and_scipy() -> None:
    found = top_level_imports(ROOT / "detector")
    assert found - sys.stdlib_module_names <= {"numpy", "scipy", "detector"}
    assert not found & {"asyncio", "time", "datetime", "threading", "socket", "subprocess", "os"}


def test_firmware_bridge_never_imports_bedside_or_detector() -> None:
    found = top_level_imports(ROOT / "firmware_bridge")
    assert not found & {"bedside", "detector", "paho"}


# What the board has: MicroPython's built-ins and aioble (micropython-lib), nothing from PyPI.
MICROPYTHON_MODULES = {
    "machine", "bluetooth", "aioble", "micropython", "asyncio", "struct", "time", "esp32",
    "firmware",
}


def test_no_host_package_imports_firmware() -> None:
    for room in ("firmware_bridge", "detector", "bedside", "benchmarks"):
        assert "firmware" not in top_level_imports(ROOT / room), room


def test_firmware_imports_only_micropython_modules() -> None:
    found = top_level_imports(ROOT / "firmware")
    assert found <= MICROPYTHON_MODULES, found - MICROPYTHON_MODULES
    assert "firmware_bridge" not in found  # the firmware is an independent implementation


def test_only_ble_client_imports_bleak() -> None:
    for path in (ROOT / "firmware_bridge").rglob("*.py"):
        if path.name in {"ble_client.py"} or "bumble_backend" in path.parts[-1]:
            continue
        assert "bleak" not in top_level_imports_of_file(path), path


def test_only_mqtt_imports_paho() -> None:
    for room in ("bedside", "firmware_bridge", "detector"):
        for path in (ROOT / room).rglob("*.py"):
            if path.name == "mqtt.py":
                continue
            assert "paho" not in top_level_imports_of_file(path), path


def top_level_imports_of_file(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found
