"""``crampwatch prompt …`` end to end, in a subprocess like a user at bedtime."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bedside.commands import prompt as prompt_command
from bedside.config.prompt import PromptSettings
from bedside.prompt.engine import rehearsal
from bedside.prompt.speech import wav_stats
from firmware_bridge.errors import CrampwatchError
from tests.bedside.prompt_fixtures import require_tool
from tests.conftest import ROOT


def crampwatch(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bedside.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(env_home)},
    )


def test_prompt_test_to_wav_writes_the_whole_sequence(tmp_path: Path) -> None:
    require_tool("espeak-ng", "espeak-ng")
    out = tmp_path / "out"
    result = crampwatch(
        "prompt", "test", "--cache", str(tmp_path / "cache"), "--to-wav", str(out),
        env_home=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = [u.key for u in rehearsal(PromptSettings())]
    files = sorted(out.glob("*.wav"))
    assert [f.stem.split("-", 1)[1] for f in files] == expected
    assert [f.name[:3] for f in files] == [f"{i:03d}" for i in range(1, len(files) + 1)]
    stats = [wav_stats(f) for f in files]
    assert all(s.duration_s > 1.5 and s.rms > 0.01 for s in stats)
    assert stats[0].peak < 0.5 * max(s.peak for s in stats)  # the volume ramp starts soft
    assert f"wrote the sequence to {out}" in result.stdout
    assert "Straighten your leg" in result.stdout


def test_missing_audio_device_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tool("aplay", "alsa-utils")
    config = tmp_path / "c.toml"
    config.write_text('[prompt]\naudio_device = "crampwatch_no_such_device"\n')
    code, _, err = in_process(
        capsys, "test", "--config", str(config), "--cache", str(tmp_path / "cache")
    )
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith("crampwatch: aplay: cannot open ALSA device 'crampwatch_no_such_device'")


def test_prompt_test_plays_through_aplay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tool("aplay", "alsa-utils")
    config = tmp_path / "c.toml"
    config.write_text('[prompt]\naudio_device = "null"\n')
    code, out, _ = in_process(
        capsys, "test", "--config", str(config), "--cache", str(tmp_path / "c"), "--cramp-s", "20"
    )
    assert code == 0
    assert [line.split()[2] for line in out.splitlines()[1:]] == ["opening", "hold.0", "closing"]


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``crampwatch prompt ARGS`` in this process, errors handled as ``bedside.cli`` does.

    Only the prompt command is imported (the full CLI imports every command: slow to start).
    Returns exit code, stdout, stderr.
    """
    parser = argparse.ArgumentParser(prog="crampwatch prompt")
    prompt_command.add_arguments(parser)
    try:
        code = prompt_command.run(parser.parse_args(list(args)))
    except CrampwatchError as exc:
        print(f"crampwatch: {exc}", file=sys.stderr)
        code = exc.exit_code
    out, err = capsys.readouterr()
    return code, out, err


def test_prompt_done_and_adherence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    log = tmp_path / "state" / "adherence.jsonl"
    config.write_text(f'[prompt]\nadherence_log = "{log}"\n')
    code, out, _ = in_process(capsys, "done", "--config", str(config))
    assert code == 0 and "bedtime stretch logged for the night of" in out
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert record["event"] == "done"
    args = ("adherence", "--config", str(config))
    code, out, _ = in_process(capsys, *args, "--nights", "3", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["stretched"] == 1 and data["nights"] == 3 and data["streak"] == 1
    code, out, _ = in_process(capsys, *args)
    assert code == 0 and "stretched 1 of the last 14 nights" in out


@pytest.mark.parametrize(
    ("toml", "message"),
    [('[prompt]\nvoice = "xx-nope"\n', "key 'voice'"), ("[prompt]\nspeed_wpm = 5\n", "speed_wpm")],
)
def test_bad_prompt_config_exits_78(
    tmp_path: Path, toml: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    require_tool("espeak-ng", "espeak-ng")
    config = tmp_path / "c.toml"
    config.write_text(toml)
    code, _, err = in_process(
        capsys, "render", "--config", str(config), "--cache", str(tmp_path / "c")
    )
    assert code == 78 and message in err and len(err.strip().splitlines()) == 1


def test_prompt_render_fills_the_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("espeak-ng", "espeak-ng")
    code, out, _ = in_process(capsys, "render", "--cache", str(tmp_path / "c"))
    assert code == 0
    n = len(list((tmp_path / "c").glob("*.wav")))
    assert n >= 10 and f"{n} phrases" in out
