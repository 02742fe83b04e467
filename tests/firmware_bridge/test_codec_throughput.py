"""Decoder speed against real time (a floor, not a benchmark: the machine is shared).

``pytest -s`` prints the numbers quoted in BENCHMARKS.md.
"""

from __future__ import annotations

import time

import numpy as np

from firmware_bridge.codec import Decoder, Encoder, Frame
from firmware_bridge.protocol import DeviceInfo, Site, accel_span

INFO = DeviceInfo(
    emg_rate_hz=1000,
    accel_rate_hz=50,
    emg_sites=(Site.GASTROCNEMIUS_MEDIAL, Site.SOLEUS),
    emg_uv_per_lsb=0.5,
    accel_g_per_lsb=1 / 8192,
)
BATCH = 50  # 5 blocks of 10 ms: 20 notifications per second (PROTOCOL.md §5)
REAL_TIME_PER_NOTIFICATION_S = BATCH / 1000
BATCH_PER_S = 1 / REAL_TIME_PER_NOTIFICATION_S


def test_decoder_keeps_up_with_real_time_by_far(rng: np.random.Generator) -> None:
    n_notifications = 6000  # 5 minutes of stream
    emg = rng.integers(-4000, 4000, size=(2, BATCH * n_notifications), dtype=np.int16)
    enc = Encoder(INFO)
    packets = []
    t0 = time.perf_counter()
    for i in range(n_notifications):
        _, m = accel_span(INFO, BATCH * i, BATCH)
        window = emg[:, BATCH * i : BATCH * (i + 1)]
        packets.append(enc.encode(window, np.zeros((3, m), np.int16), BATCH * i))
    t_encode = time.perf_counter() - t0
    dec = Decoder(INFO)
    n_frames = 0
    t0 = time.perf_counter()
    for p in packets:
        dec.feed(p)
        n_frames += sum(1 for e in dec.events() if isinstance(e, Frame))
    t_decode = time.perf_counter() - t0
    assert n_frames == n_notifications
    per_decode = t_decode / n_notifications
    print(
        f"\ncodec: encode {n_notifications / t_encode:.0f}/s, decode {1 / per_decode:.0f}/s "
        f"({per_decode * 1e6:.0f} µs each; real time needs {BATCH_PER_S:.0f}/s)"
    )
    # 50x real time is a floor far below what it does (≈ 1000x) so a loaded machine cannot fail it.
    assert per_decode < REAL_TIME_PER_NOTIFICATION_S / 50
