"""``benchmarks.replay_snapshot --compare``: equal snapshots pass, one changed byte fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.replay_snapshot import compare


def test_compare_finds_a_changed_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "n1.jsonl").write_text('{"event":"cramp_started","t_detect":12.5}\n')
    assert compare(a, b) == 0
    (b / "n1.jsonl").write_text('{"event":"cramp_started","t_detect":12.6}\n')
    (a / "n2.jsonl").write_text("")  # a night only one side replayed
    assert compare(a, b) == 1
    assert "differs: n1.jsonl" in capsys.readouterr().out
