"""Session link events with hostile JSON are counted as damaged records, never raised (#16 item 3).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.fuzz_inputs import (
    device_info_record,
    link_event_record,
    notification_record,
    session_header,
    small_edf,
)
from firmware_bridge.codec import Encoder
from firmware_bridge.errors import RecordingError
from firmware_bridge.protocol import DeviceInfo, Site
from firmware_bridge.recording import Notification, is_session_file, read_session
from firmware_bridge.source import LinkEvent

HOSTILE = {
    "deep list": b'{"kind":"x","fields":{"a":' + b"[" * 20_000 + b"]" * 20_000 + b"}}",
    "deep object": b'{"kind":"x","fields":' + b"{\"a\":" * 10_000 + b"1" + b"}" * 10_001,
    "unclosed nesting": b"[" * 60_000,
    "400-digit int": b'{"kind":"x","fields":{"ts":' + b"9" * 400 + b"}}",
    "5000-digit int": b'{"kind":"x","fields":{"ts":' + b"9" * 5000 + b"}}",
    "bad hex bytes": b'{"kind":"x","fields":{"data":{"$bytes":"zz"}}}',
    "not utf-8": b'{"kind":"x","fields":{"a":"\xff\xfe"}}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_link_event_is_one_damaged_record(tmp_path: Path, name: str) -> None:
    good_before = link_event_record(b'{"fields":{"att_mtu":247},"kind":"mtu"}', 1.0)
    good_after = notification_record(b"\x01" * 20, 2.0)
    path = tmp_path / "s.cwsession"
    path.write_bytes(session_header() + good_before + link_event_record(HOSTILE[name], 1.5)
                     + good_after)
    reader = read_session(path)
    records = list(reader)
    assert [type(r) for r in records] == [LinkEvent, Notification]
    assert isinstance(records[0], LinkEvent) and records[0].fields == {"att_mtu": 247}
    report = reader.report()
    assert report.corrupt_records == 1 and report.records == 2


@pytest.mark.parametrize("content", [b"", b"\x00" * 10, b"0       random bytes" * 20])
def test_an_empty_or_random_cwsession_is_a_damaged_session(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "night.cwsession"
    path.write_bytes(content)
    assert is_session_file(path)
    with pytest.raises(RecordingError, match=r"not a crampwatch session|nothing was recorded"):
        read_session(path)


def test_sessions_are_told_by_magic_whatever_their_name(tmp_path: Path) -> None:
    renamed = tmp_path / "night.bin"
    renamed.write_bytes(session_header())
    edf = small_edf(tmp_path / "night.edf")
    assert is_session_file(renamed)
    assert not is_session_file(edf)
    assert not is_session_file(tmp_path / "missing.edf")


def test_replay_of_a_session_from_an_unsupported_device_exits_65(tmp_path: Path) -> None:
    # 30 kHz: the decoder once raised on it (a one-day gap limit past 2**31)
    info = DeviceInfo(emg_rate_hz=30_000, accel_rate_hz=50, emg_sites=(Site.SOLEUS,),
                      emg_uv_per_lsb=0.5, accel_g_per_lsb=2.0**-12)
    frame = Encoder(info).encode(np.zeros((1, 50), np.int16), np.zeros((3, 1), np.int16), 0)
    path = tmp_path / "fast.cwsession"
    path.write_bytes(session_header() + device_info_record(info.to_bytes())
                     + notification_record(frame))
    result = subprocess.run([sys.executable, "-m", "bedside.cli", "replay", str(path)],
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 65, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"crampwatch: {path}: the detector refuses it: EMG rate 30000 Hz is outside the "
        "supported range 400-4000 Hz"]
