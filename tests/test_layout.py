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


# --------------------------------------------------------------------------------------------
# bedside's rooms and the module import graph (issue 14)

PACKAGES = ("firmware_bridge", "detector", "bedside")
# bedside's rooms, lowest first: a room may import its own modules and the rooms below it;
# live and offline share a layer and never import each other; commands never import each other.
BEDSIDE_LAYERS: tuple[tuple[str, ...], ...] = (
    ("config",),
    ("stream",),
    ("prompt",),
    ("live", "offline"),
    ("commands",),
    ("cli",),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
    }


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Project modules ``path`` imports anywhere (module level *and* function bodies, so a cycle
    cannot hide inside a function), resolved to modules (``from a import b`` is ``a.b`` when
    that is a module, else ``a``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in known:
                    found.add(sub)
                elif node.module in known:
                    found.add(node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imported_modules(path, known) - {name} for name, path in modules.items()}


def bedside_room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "bedside" or len(parts) < 2:
        return None
    return parts[1]


def layer_of(room: str) -> int:
    for i, rooms in enumerate(BEDSIDE_LAYERS):
        if room in rooms:
            return i
    raise AssertionError(f"bedside/{room} is not one of the rooms in BEDSIDE_LAYERS")


def test_no_import_cycles() -> None:
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_bedside_rooms_import_only_downward() -> None:
    wrong = []
    for module, imports in import_graph().items():
        room = bedside_room(module)
        if room is None or module in ("bedside",):
            continue
        for target in imports:
            target_room = bedside_room(target)
            if target_room is None or target_room == room:
                continue
            if layer_of(target_room) >= layer_of(room):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "bedside rooms import upward or sideways: " + ", ".join(sorted(wrong))


def test_commands_never_import_each_other() -> None:
    wrong = [
        f"{module} -> {target}"
        for module, imports in import_graph().items()
        if module.startswith("bedside.commands.")
        for target in imports
        if target.startswith("bedside.commands.") and target != "bedside.commands"
    ]
    assert not wrong, ", ".join(sorted(wrong))


def test_every_bedside_module_sits_in_a_room() -> None:
    for module in project_modules():
        room = bedside_room(module)
        if room is not None:
            layer_of(room)  # raises for a module outside the rooms


def test_layer_rules_catch_a_violation(tmp_path: Path) -> None:
    """The checks above can fail: an upward import is seen, in a function body too."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f() -> None:\n    from bedside.live.daemon import Daemon\n")
    found = imported_modules(probe, set(project_modules()))
    assert found == {"bedside.live.daemon"}
    assert layer_of("live") > layer_of("stream")
