"""``replay --plot``: the night's 1-s EMG RMS (log µV) with detected cramps (and the truth's),
and the accelerometer's SD, drawn with matplotlib's Agg backend (the ``plot`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bedside.stream.edf_feed import ReplayResult
from detector.types import EventKind
from firmware_bridge.errors import InputError


def plot_replay(result: ReplayResult, out: Path, truth: dict[str, Any] | None = None) -> None:
    """Write a PNG: EMG RMS per second (log µV) with detected cramps (and truth), accel SD.

    Needs matplotlib (the ``plot`` extra); uses the non-interactive Agg backend.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a dev/plot extra
        raise InputError("--plot needs matplotlib: pip install 'crampwatch[plot]'") from exc
    view = result.overview
    if view is None:
        raise ValueError("replay_file(..., overview=True) is needed for a plot")
    t_h = np.asarray(view.t_s) / 3600.0
    fig, (ax_e, ax_a) = plt.subplots(2, 1, sharex=True, figsize=(12, 5), height_ratios=(3, 1))
    try:
        ax_e.semilogy(t_h, np.maximum(view.emg_rms_uv, 1e-3), lw=0.5, color="0.2")
        ax_e.set_ylabel(f"EMG RMS 1 s (µV)\n{result.channels.emg_labels[0]}")
        if truth is not None:
            for i, c in enumerate(truth.get("cramps", [])):
                ax_e.axvspan(
                    c["onset_s"] / 3600,
                    c["end_s"] / 3600,
                    color="tab:green",
                    alpha=0.25,
                    label="truth cramp" if i == 0 else None,
                )
        starts = [e for e in result.events if e.kind is EventKind.CRAMP_STARTED]
        ends = {e.stem: e for e in result.events if e.kind is EventKind.CRAMP_ENDED}
        for i, s in enumerate(starts):
            end = ends.get(s.stem)
            t_detect = s.t_detect if s.t_detect is not None else s.t_onset
            t1 = end.t_end if end is not None and end.t_end is not None else t_detect
            ax_e.axvspan(
                s.t_onset / 3600,
                t1 / 3600,
                color="tab:red",
                alpha=0.3,
                label="detected cramp" if i == 0 else None,
            )
            ax_e.axvline(t_detect / 3600, color="tab:red", lw=0.8)
        if starts or truth:
            ax_e.legend(loc="upper right", fontsize="small")
        ax_e.set_title(f"{result.path.name}: {len(starts)} cramps detected")
        ax_a.plot(t_h, view.accel_sd_g, lw=0.5, color="tab:blue")
        ax_a.set_ylabel("accel SD (g)")
        ax_a.set_xlabel("hours since start")
        fig.tight_layout()
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
