"""The service unit verifies and is hardened (exposure ≤ 2.0); sd_notify over a real socket;
install/uninstall in a throwaway root."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bedside.live.sdnotify import Notifier, Watchdog, watchdog_interval_s
from tests.conftest import ROOT

UNIT = ROOT / "systemd" / "crampwatch.service"


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze missing: apt-get install systemd")
    return path


@pytest.fixture
def checkable_unit(tmp_path: Path) -> Path:
    # `verify` needs an ExecStart that exists on this machine (ecosystem.md §5 caveats).
    text = re.sub(r"(?m)^ExecStart=.*$", "ExecStart=/usr/bin/python3 -c pass", UNIT.read_text())
    path = tmp_path / "crampwatch.service"
    path.write_text(text)
    return path


def test_unit_verifies(checkable_unit: Path) -> None:
    result = subprocess.run(
        [systemd_analyze(), "verify", "--man=no", "--recursive-errors=no", str(checkable_unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # verify prints unknown keys but may still exit 0: nothing may be printed about our unit.
    assert "crampwatch.service" not in result.stderr, result.stderr


def test_unit_exposure_at_most_2(checkable_unit: Path) -> None:
    # --threshold is on a 0–100 scale: 20 means a printed 2.0.
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", "--threshold=20", str(checkable_unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert match is not None and float(match.group(1)) <= 2.0


def test_unit_essentials() -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "RestartPreventExitStatus=78",
        "Restart=on-failure",
        "StateDirectory=crampwatch",
        "ConfigurationDirectory=crampwatch",
    ):
        assert re.search(rf"(?m)^{re.escape(line)}$", text), line
    assert re.search(r"(?m)^WatchdogSec=\d+$", text)
    # PrivateDevices=yes would hide /dev/snd and /dev/gpiochip*
    assert not re.search(r"(?m)^PrivateDevices=yes", text)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(2.0)
    yield server, path
    server.close()


def test_notifier_sends_datagrams(notify_socket: tuple[socket.socket, str]) -> None:
    server, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.notify("READY=1")
    assert notifier.notify("STATUS=listening")
    assert server.recv(256) == b"READY=1"
    assert server.recv(256) == b"STATUS=listening"
    notifier.close()


def test_notifier_abstract_namespace() -> None:
    name = f"crampwatch-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    server.settimeout(2.0)
    try:
        with Notifier({"NOTIFY_SOCKET": "@" + name}) as notifier:
            assert notifier.notify("READY=1")
        assert server.recv(64) == b"READY=1"
    finally:
        server.close()


def test_notifier_outside_systemd_and_broken_socket(tmp_path: Path) -> None:
    assert not Notifier({}).enabled
    assert Notifier({}).notify("READY=1") is False
    broken = Notifier({"NOTIFY_SOCKET": str(tmp_path / "absent.sock")})
    assert broken.notify("READY=1") is False
    assert broken.notify("WATCHDOG=1") is False
    assert broken.failures == 2


def test_watchdog_interval() -> None:
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    own = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval_s(own) == 15.0


def test_watchdog_pets_only_while_healthy(notify_socket: tuple[socket.socket, str]) -> None:
    """A stalled pipeline stops the pings: this is what lets systemd restart us."""
    server, path = notify_socket
    server.settimeout(0.2)
    stalled = {"now": False}
    notifier = Notifier({"NOTIFY_SOCKET": path})
    watchdog = Watchdog(
        notifier,
        {"pipeline": lambda: "no samples processed for 40 s" if stalled["now"] else None},
    )
    assert watchdog.tick()
    assert server.recv(64) == b"WATCHDOG=1"
    stalled["now"] = True
    assert not watchdog.tick()
    with pytest.raises(TimeoutError):
        server.recv(64)
    assert watchdog.withheld == 1 and watchdog.last_failure is not None
    stalled["now"] = False
    assert watchdog.tick()
    assert server.recv(64) == b"WATCHDOG=1"
    notifier.close()


def test_install_and_uninstall_in_throwaway_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    env = {**os.environ, "DESTDIR": str(root), "CRAMPWATCH_SKIP_PIP": "1"}
    for _ in range(2):  # idempotent
        result = subprocess.run(
            ["bash", str(ROOT / "systemd" / "install.sh")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    unit = root / "etc/systemd/system/crampwatch.service"
    assert unit.is_file()
    assert "SupplementaryGroups=bluetooth audio" in unit.read_text()
    config = root / "etc/crampwatch/crampwatch.toml"
    assert config.read_text() == (ROOT / "config" / "crampwatch.toml").read_text()
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    assert (root / "opt/crampwatch/venv/bin/python").exists()
    assert "config" in result.stdout and "kept" in result.stdout  # second run keeps the config

    config.write_text("# edited by the user\n")
    subprocess.run(
        ["bash", str(ROOT / "systemd" / "install.sh")], env=env, check=True, capture_output=True
    )
    assert config.read_text() == "# edited by the user\n"

    subprocess.run(
        ["bash", str(ROOT / "systemd" / "uninstall.sh")], env=env, check=True, capture_output=True
    )
    assert not unit.exists() and not (root / "opt/crampwatch").exists()
    assert config.exists()  # configuration kept without --purge
    subprocess.run(
        ["bash", str(ROOT / "systemd" / "uninstall.sh"), "--purge"],
        env=env,
        check=True,
        capture_output=True,
    )
    assert not config.exists()


def test_notifier_never_blocks_on_a_supervisor_that_does_not_read(
    notify_socket: tuple[socket.socket, str],
) -> None:
    _server, path = notify_socket  # nobody reads: the socket buffer fills up
    with Notifier({"NOTIFY_SOCKET": path}) as notifier:
        sent = sum(notifier.notify("WATCHDOG=1") for _ in range(5000))
    assert sent < 5000 and notifier.dropped == 5000 - sent
