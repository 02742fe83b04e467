"""The systemd watchdog, driven through a real notify socket.

1. In process: the daemon pings ``WATCHDOG=1`` while healthy; when its pipeline task dies while
   the wearable keeps sending, the pings stop (a wearable out of range would not stop them).
2. A supervisor playing systemd's rules (``WatchdogSec``, ``Restart=on-failure``) around a real
   ``crampwatch run``: READY=1, pings, the process frozen (SIGSTOP) → no ping within WatchdogSec →
   killed and restarted → READY=1 again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bedside.config.daemon import DaemonSettings
from bedside.config.settings import Settings
from bedside.live.daemon import Daemon, WearableSpec
from bedside.live.virtual import start_virtual
from tests.bedside.daemon_argv import virtual_run_argv


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.setblocking(False)
    yield server, path
    server.close()


async def messages_for(server: socket.socket, seconds: float) -> list[tuple[float, bytes]]:
    loop = asyncio.get_running_loop()
    got: list[tuple[float, bytes]] = []
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        try:
            async with asyncio.timeout(remaining):
                got.append((loop.time(), await loop.sock_recv(server, 256)))
        except TimeoutError:
            break
    return got


async def test_dead_pipeline_task_stops_the_watchdog_pings(
    tmp_path: Path, notify_socket: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # ping every 0.2 s
    settings = Settings(daemon=DaemonSettings(state_dir=str(tmp_path), pipeline_stall_s=1.0))
    virtual = await start_virtual(seed=5, hours=0.2, profile="quiet", speed=4.0)
    daemon = Daemon(
        settings,
        wearables=[WearableSpec("left", virtual.client_factory(settings.wearable, "left"))],
        state_dir=tmp_path,
    )
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    try:
        healthy = await messages_for(server, 2.0)
        assert healthy[0][1] == b"READY=1"
        assert sum(m == b"WATCHDOG=1" for _, m in healthy) >= 5

        daemon.worker_tasks[0].cancel()  # the pipeline is gone; the wearable keeps sending
        cancelled_at = asyncio.get_running_loop().time()
        stalled = await messages_for(server, 4.0)
        pings = [t - cancelled_at for t, m in stalled if m == b"WATCHDOG=1"]
        # pings go on until pipeline_stall_s (1 s) has passed, then stop for good
        assert pings and max(pings) < 1.0 + 0.8, pings
        assert daemon.watchdog.last_failure is not None
        assert "packets waiting" in daemon.watchdog.last_failure
    finally:
        stop.set()
        await run
        await virtual.wearable.stop()


def test_supervisor_restarts_a_frozen_daemon(tmp_path: Path) -> None:
    watchdog_sec = 3.0
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    config = tmp_path / "crampwatch.toml"
    config.write_text(f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n[prompt]\nbackend = "none"\n')
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(int(watchdog_sec * 1e6))}
    argv = virtual_run_argv(config, seed=5, hours=1, speed=1, quiet=True)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def receive(timeout_s: float) -> bytes | None:
        server.settimeout(timeout_s)
        try:
            return server.recv(256)
        except TimeoutError:
            return None

    starts, kills = 1, 0
    proc = start()
    try:
        assert receive(60.0) == b"READY=1"
        for _ in range(3):  # healthy: pings at least every WatchdogSec
            message = receive(watchdog_sec)
            while message is not None and message != b"WATCHDOG=1":
                message = receive(watchdog_sec)
            assert message == b"WATCHDOG=1"
        proc.send_signal(signal.SIGSTOP)  # a stuck process: no more pings
        frozen_at = time.monotonic()
        while (message := receive(watchdog_sec)) is not None:
            assert time.monotonic() - frozen_at < 2 * watchdog_sec, "pings while frozen"
        # systemd: watchdog timeout → SIGABRT, then SIGKILL; Restart=on-failure → start again
        proc.kill()
        proc.wait()
        kills += 1
        assert proc.returncode != 0
        proc = start()
        starts += 1
        message = receive(60.0)
        while message is not None and message != b"READY=1":
            message = receive(60.0)
        assert message == b"READY=1"
        assert receive(watchdog_sec) is not None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise
        server.close()
    assert (starts, kills) == (2, 1)
