"""bumble is the optional ``virtual`` extra: the daemon's code path never imports it, the virtual
wearable refuses with one line and exit 78 without it, and the Pi's install leaves it out.

"Without bumble" is a real ``crampwatch`` process whose ``PYTHONPATH`` puts first a ``bumble``
package that raises ``ImportError`` on import, as an absent or broken install does; nothing of
bumble is patched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

HINT = "needs the 'virtual' extra: pip install 'crampwatch[virtual]'"
CRAMPWATCH = Path(sys.executable).with_name("crampwatch")  # the venv's console script


@pytest.fixture(scope="module")
def without_bumble(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    shim = tmp_path_factory.mktemp("no-bumble")
    (shim / "bumble").mkdir()
    (shim / "bumble" / "__init__.py").write_text(
        'raise ImportError("bumble is hidden by the test, as if not installed")\n'
    )
    env = {**os.environ, "PYTHONPATH": str(shim)}
    probe = subprocess.run(
        [sys.executable, "-c", "import bumble"], env=env, capture_output=True, text=True
    )
    assert probe.returncode != 0 and "hidden by the test" in probe.stderr  # the shim works
    return env


def _crampwatch(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CRAMPWATCH), *argv], env=env, capture_output=True, text=True, timeout=120
    )


def test_demo_without_bumble_is_one_line_and_exit_78(
    without_bumble: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "demo"
    result = _crampwatch(without_bumble, "demo", "--no-audio", "--out", str(out))
    assert result.returncode == 78
    assert result.stderr.splitlines() == [f"crampwatch: crampwatch demo {HINT}"]
    assert result.stdout == ""
    assert not out.exists()  # refused before doing anything


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("run --virtual", ["run", "--virtual", "sim:1", "--state-dir", "{tmp}/state"]),
        ("capture --virtual", ["capture", "--virtual", "sim:1", "-o", "{tmp}/x.cwsession"]),
    ],
)
def test_virtual_options_without_bumble_are_one_line_and_exit_78(
    without_bumble: dict[str, str], tmp_path: Path, command: str, argv: list[str]
) -> None:
    result = _crampwatch(without_bumble, *(a.format(tmp=tmp_path) for a in argv))
    assert result.returncode == 78, result.stderr
    assert result.stderr.splitlines()[-1] == f"crampwatch: crampwatch {command} {HINT}"
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_daemon_path_never_imports_bumble(without_bumble: dict[str, str]) -> None:
    """The modules `crampwatch run` loads import without bumble, and do not load it when it is
    installed either (the demo's modules may: they only start the virtual wearable lazily)."""
    modules = (
        "bedside.live.service, bedside.commands.run, bedside.live.daemon, bedside.live.virtual"
    )
    check = (
        f"import sys, {modules}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'bumble')\n"
        "assert not loaded, loaded\n"
    )
    for env in (without_bumble, dict(os.environ)):
        result = subprocess.run(
            [sys.executable, "-c", check], env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
    assert _crampwatch(without_bumble, "run", "--help").returncode == 0


def test_bumble_is_an_extra_that_dev_includes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("bumble")]
    extras = project["optional-dependencies"]
    assert [d for d in extras["virtual"] if d.startswith("bumble")]
    assert "crampwatch[virtual]" in extras["dev"]  # ./dev and its demo install .[dev]
    assert "'.[dev]'" in (ROOT / "dev").read_text()


@pytest.mark.slow
def test_pi_install_leaves_virtual_out_unless_asked(tmp_path: Path) -> None:
    env = {**os.environ, "DESTDIR": str(tmp_path / "root"), "CRAMPWATCH_SKIP_PIP": "1"}
    install = ["bash", str(ROOT / "systemd" / "install.sh")]

    def said(*options: str) -> str:
        result = subprocess.run([*install, *options], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "would install crampwatch[plot]\n" in said()
    assert "would install crampwatch[plot,virtual]\n" in said("--with-virtual")
    bad = subprocess.run([*install, "--with-bumble"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "usage:" in bad.stderr
