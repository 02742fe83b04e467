"""A lying EDF header is refused with one line, in bounded memory (issue #16 item 1)."""

from __future__ import annotations

import resource
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from benchmarks.fuzz_inputs import patch_fixed, patch_signal, small_edf
from firmware_bridge.edf import (
    MAX_BLOCK_BYTES,
    MAX_RECORD_BYTES,
    MAX_SIGNAL_RATE_HZ,
    RECORD_DURATION,
    EdfReader,
    EdfSignalSpec,
    EdfWriter,
)
from firmware_bridge.errors import InputError

MEMORY_LIMIT = 1 << 31  # 2 GiB of address space: the lying header once grew replay to 6 GB


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def replay(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bedside.cli", "replay", str(path)],
        capture_output=True, text=True, check=False, timeout=120, preexec_fn=_limit_memory,
    )


@pytest.mark.parametrize("duration", ["0.000001", "1e-9", "0.00001"])
def test_a_lying_record_duration_is_refused_by_the_reader(tmp_path: Path, duration: str) -> None:
    path = patch_fixed(small_edf(tmp_path / "ok.edf"), tmp_path / "bad.edf", RECORD_DURATION,
                       duration)
    with pytest.raises(InputError, match=rf"rate .* Hz .*above {MAX_SIGNAL_RATE_HZ:g} Hz") as err:
        EdfReader(path)
    assert "\n" not in str(err.value)


def test_a_huge_samples_per_record_is_refused(tmp_path: Path) -> None:
    # 1000-s records keep the rate under MAX_SIGNAL_RATE_HZ: only the record size gives it away
    slow = patch_fixed(small_edf(tmp_path / "ok.edf"), tmp_path / "slow.edf", RECORD_DURATION,
                       "1000")
    path = patch_signal(slow, tmp_path / "bad.edf", "samples_per_record", 0, "99999999")
    with pytest.raises(InputError, match=f"data record of .* bytes is larger than the "
                                         f"{MAX_RECORD_BYTES} bytes"):
        EdfReader(path)


def test_a_tiny_record_duration_at_a_sane_rate_reads_in_bounded_blocks(tmp_path: Path) -> None:
    # 1 ms records of one sample each: legal, so asking for a minute of them must still be
    # read a bounded number of bytes at a time
    spec = EdfSignalSpec("EMG calf", "uV", 1000.0, -1000.0, 1000.0)
    path = tmp_path / "tiny.edf"
    x = np.random.default_rng(1).normal(0.0, 100.0, 20_000)
    with EdfWriter(path, [spec], start=datetime(2026, 1, 2, 22), record_duration_s=0.001) as w:
        w.write([x])
    reader = EdfReader(path)
    sizes = [b[0].size for b in reader.iter_blocks([0], records_per_block=10**9)]
    assert sum(sizes) == x.size
    assert max(sizes) * 2 <= MAX_BLOCK_BYTES


# 1 µs: the reader refuses it; 0.1 s: EMG "at 10 kHz", the reader passes it and the detector
# refuses it
@pytest.mark.parametrize("duration", ["0.000001", "0.1"])
def test_replay_of_a_lying_header_exits_65_with_one_line(tmp_path: Path, duration: str) -> None:
    path = patch_fixed(small_edf(tmp_path / "ok.edf"), tmp_path / "bad.edf", RECORD_DURATION,
                       duration)
    result = replay(path)
    assert result.returncode == 65, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
