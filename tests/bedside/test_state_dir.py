"""Issue #16 items 5 and 9: an unusable or empty state directory is refused at start-up with
one line naming the path and the fix (exit 78), never a traceback; every file the CLI creates
there is 0600 and every directory 0700, whatever the umask."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bedside.config.settings import package_version
from tests.bedside.cli_proc import crampwatch, one_line_error
from tests.bedside.test_calibrate import calibration_recording
from tests.bedside.tmpfs import mounted_tmpfs
from tests.broker import free_port

EX_CONFIG = 78


def _config(tmp_path: Path, state_dir: str) -> Path:
    config = tmp_path / "crampwatch.toml"
    config.write_text(f'[daemon]\nstate_dir = "{state_dir}"\n[prompt]\nbackend = "none"\n')
    return config


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    return crampwatch("run", "--config", config, "--virtual", "sim:1", "--hours", "0.01",
                      "--speed", "max", timeout=60)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A read-only filesystem (as root, a 0500 directory would still be writable)."""
    with mounted_tmpfs(tmp_path / "ro", "ro,size=64k") as mount:
        yield mount


def test_state_dir_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "state"
    file.write_text("not a directory\n")
    proc = _run(_config(tmp_path, str(file)))
    assert proc.returncode == EX_CONFIG
    line = one_line_error(proc)
    assert str(file) in line and "not a directory" in line and "state_dir" in line


def test_state_dir_below_a_file(tmp_path: Path) -> None:
    file = tmp_path / "state"
    file.write_text("")
    proc = _run(_config(tmp_path, str(file / "inside")))
    assert proc.returncode == EX_CONFIG
    assert str(file / "inside") in one_line_error(proc)


def test_read_only_state_dir(tmp_path: Path, read_only_dir: Path) -> None:
    proc = _run(_config(tmp_path, str(read_only_dir / "state")))
    assert proc.returncode == EX_CONFIG
    line = one_line_error(proc)
    assert str(read_only_dir / "state") in line and "Read-only file system" in line


def test_empty_state_dir_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path, "")
    for proc in (_run(config), crampwatch("check-config", config)):
        assert proc.returncode == EX_CONFIG
        line = one_line_error(proc)
        assert "state_dir is empty" in line and str(config) in line


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_files_the_cli_creates_in_the_state_dir_are_private(tmp_path: Path, umask: int) -> None:
    state = tmp_path / "state"
    config = tmp_path / "crampwatch.toml"
    config.write_text(  # MQTT on, to a port nobody listens on: the outbox keeps the events
        f'[daemon]\nstate_dir = "{state}"\n[prompt]\nbackend = "none"\n'
        f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {free_port()}\n'
    )
    run = crampwatch("run", "--config", config, "--virtual", "sim:4", "--profile", "dense",
                     "--hours", "0.1", "--speed", "max", umask=umask)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"crampwatch {package_version()} starting" in run.stderr  # the daemon says its version
    done = crampwatch("prompt", "done", "--config", config, umask=umask)
    assert done.returncode == 0, done.stderr[-2000:]
    edf = calibration_recording(tmp_path / "c.edf")
    cal = crampwatch("calibrate", edf, "--rest", "0:20", "--contraction", "21:27",
                     "--leg", "left", "--config", config, umask=umask)
    assert cal.returncode == 0, cal.stderr[-2000:]
    made = {p.relative_to(state).as_posix(): p.stat().st_mode & 0o777
            for p in [state, *state.rglob("*")]}
    expected = {"events.jsonl", "outbox.sqlite3", "adherence.jsonl", "calibration-left.json",
                "sessions"}
    assert expected <= made.keys(), made
    assert any(name.endswith(".cwsession") for name in made)
    assert {name: oct(mode) for name, mode in made.items()
            if mode != (0o700 if (state / name).is_dir() else 0o600)} == {}


def test_unwritable_calibrate_out_exits_65_not_78(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = crampwatch("calibrate", calibration_recording(tmp_path / "c.edf"), "--rest", "0:20",
                      "--contraction", "21:27", "--out", blocker / "cal.json")
    assert proc.returncode == 65
    assert "cannot write the calibration" in one_line_error(proc)
