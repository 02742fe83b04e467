"""Issue #16 item 9: an empty or random ``*.cwsession`` is a damaged session to every command
that reads recordings (one line, exit 65), not "not an EDF/BDF file"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.bedside.cli_proc import crampwatch, one_line_error

COMMANDS = [
    ("replay",),
    ("label",),
    ("export", "-o", "{tmp}/out.edf"),
    ("report", "-o", "{tmp}/out.png"),
    ("calibrate", "--rest", "0:20", "--contraction", "21:27", "--out", "{tmp}/cal.json"),
]


@pytest.mark.parametrize("content", [b"", os.urandom(3000)], ids=["empty", "random"])
@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_damaged_cwsession_is_called_a_session(
    tmp_path: Path, content: bytes, command: tuple[str, ...]
) -> None:
    session = tmp_path / "night.cwsession"
    session.write_bytes(content)
    name, *options = command
    proc = crampwatch("-q", name, session, *(o.format(tmp=tmp_path) for o in options))
    assert proc.returncode == 65
    line = one_line_error(proc)
    assert str(session) in line and "EDF" not in line
