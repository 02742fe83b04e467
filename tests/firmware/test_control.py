"""Control writes (PROTOCOL.md §4 vectors) and the device info they change (firmware/control.py)."""

from __future__ import annotations

from firmware import config
from firmware.control import StreamControl
from firmware.frontend import ACCEL_G_PER_LSB, EMG_UV_PER_LSB
from firmware_bridge.protocol import DeviceInfo, Leg, Site
from tests.firmware_bridge.test_codec_vectors import VECTORS


def control() -> StreamControl:
    return StreamControl(1000, 50, 10, 5)


def test_start_stop_and_batch_vectors() -> None:
    c = control()
    assert c.apply(VECTORS["control_start"]) and c.streaming
    assert c.apply(VECTORS["control_set_batch_4"]) and c.batch_samples == 40
    assert not c.apply(VECTORS["control_set_rates_1000_50"])  # §4: busy while streaming
    assert c.apply(VECTORS["control_stop"]) and not c.streaming
    assert c.refused == 1


def test_set_rates_while_stopped_changes_the_device_info() -> None:
    c = control()
    assert c.apply(bytes.fromhex("03 f4 01 19 00"))  # 500 Hz EMG, 25 Hz accelerometer
    assert c.rates_changed and c.ratio == 20
    info = DeviceInfo.from_bytes(c.device_info(0.5, 1 / 8192, 2, (0, 1, 0), (1, 3)))
    assert (info.emg_rate_hz, info.accel_rate_hz) == (500, 25)
    assert info.leg is Leg.RIGHT and info.emg_sites == (Site.GASTROCNEMIUS_MEDIAL, Site.SOLEUS)


def test_refused_writes_change_nothing() -> None:
    c = control()
    for bad in (b"", b"\x09", b"\x04\x00", b"\x04\x06", bytes.fromhex("03 e8 03 07 00"),
                bytes.fromhex("03 e9 03 32 00"), bytes.fromhex("03 e8 03 e8 03")):
        assert not c.apply(bad), bad.hex()
    assert c.refused == 7
    assert (c.emg_rate_hz, c.accel_rate_hz, c.batch_blocks, c.streaming) == (1000, 50, 5, False)


def test_shipped_config_makes_a_valid_device_info() -> None:
    c = StreamControl(config.EMG_RATE_HZ, config.ACCEL_RATE_HZ, config.BLOCK_SAMPLES,
                      config.MAX_BLOCKS)
    raw = c.device_info(EMG_UV_PER_LSB, ACCEL_G_PER_LSB, config.LEG, config.FIRMWARE_VERSION,
                        config.SITES)
    info = DeviceInfo.from_bytes(raw)  # raises on anything the Pi would refuse
    assert info.emg_uv_per_lsb > 0 and info.n_emg_channels == len(config.SITES)
    assert config.NAME.startswith("crampwatch")  # PROTOCOL.md §1: the Pi scans by this prefix
    assert config.EMG_RATE_HZ % config.ACCEL_RATE_HZ == 0
