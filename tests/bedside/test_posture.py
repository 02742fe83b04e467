"""Back vs side from the calf's accelerometer: the geometry, a simulated night, the report."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from bedside.offline.posture import LyingSplit, lying_roll_deg, lying_split, positions
from bedside.offline.report import NIGHT_PANELS, TRACE_S, load_night, night_figure, night_html
from detector.settings import DetectorSettings
from firmware_bridge.simulation import plan_night, write_night

# a 1-h dense night of the current simulator with over 10 min on the back, the side and face down
SEED = 12

def calf_gravity(roll_deg: float, *, leg: str = "left", elevation_deg: float = 0.0) -> list[float]:
    """What the calf IMU reads at rest, with the virtual wearable's mounting (render.py)."""
    e, r = math.radians(elevation_deg), math.radians(roll_deg)
    side = 1.0 if leg == "left" else -1.0
    return [math.sin(e), side * math.cos(e) * math.sin(r), -math.cos(e) * math.cos(r)]


@pytest.mark.parametrize("leg", ["left", "right"])
def test_roll_about_the_shank_separates_back_side_and_face_down(leg: str) -> None:
    rolls = [0.0, 30.0, 60.0, 90.0, -90.0, 120.0, 150.0, 180.0]
    g = np.array([calf_gravity(r, leg=leg, elevation_deg=8.0) for r in rolls]).T
    assert lying_roll_deg(g) == pytest.approx([abs(r) for r in rolls], abs=1e-6)
    where = positions(g, ["lying"] * len(rolls))
    assert where == ["back", "back", "side", "side", "side", "side", "front", "front"]


def test_upright_and_missing_data_are_not_lying() -> None:
    g = np.array([calf_gravity(0.0), calf_gravity(90.0), [0.0, 0.01, 0.0], [math.nan] * 3]).T
    assert positions(g, ["upright", "unknown", "lying", "lying"]) == [
        "upright", "unknown", "unknown", "unknown",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="gravity must be"):
        lying_roll_deg(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="posture has 1 samples"):
        positions(g, ["lying"])


def test_split_in_seconds_and_shares_of_the_lying_time() -> None:
    g = np.array([calf_gravity(r) for r in (0, 0, 0, 90, 180, 0)]).T
    split = lying_split(g, ["lying"] * 5 + ["upright"], sample_s=10.0)
    assert split == LyingSplit(back_s=30.0, side_s=10.0, front_s=10.0, upright_s=10.0)
    assert split.share("back") == pytest.approx(0.6) and split.share("side") == pytest.approx(0.2)
    assert split.text() == "60% on the back, 20% on the side, 20% face down"
    assert math.isnan(LyingSplit().share("back"))
    assert LyingSplit().text() == "no lying time with accelerometer data"


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plan = plan_night(seed=SEED, hours=1.0, profile="dense")
    return write_night(plan, tmp_path_factory.mktemp("posture") / "night.edf")


def truth_split(night: Path) -> dict[str, float]:
    """Seconds per position from the simulator's own posture keyframes (t, elevation, roll)."""
    plan = plan_night(seed=SEED, hours=1.0, profile="dense")
    keys = np.asarray(plan.posture)
    t = np.arange(0.5, plan.duration_s, 1.0)
    elev = np.interp(t, keys[:, 0], keys[:, 1])
    roll = np.abs(np.interp(t, keys[:, 0], keys[:, 2]))
    upright = np.sin(np.radians(elev)) >= DetectorSettings().upright_shank_g
    lying = ~upright
    return {
        "back": float(np.sum(lying & (roll < 45))),
        "side": float(np.sum(lying & (roll >= 45) & (roll < 135))),
        "front": float(np.sum(lying & (roll >= 135))),
        "upright": float(np.sum(upright)),
    }


def test_a_simulated_night_splits_as_its_posture_keyframes(night: Path) -> None:
    data = load_night(night)
    assert data.trace is not None
    gravity = np.asarray(data.trace.gravity_g).T
    split = lying_split(gravity, data.trace.posture, sample_s=TRACE_S)
    truth = truth_split(night)
    assert min(truth["back"], truth["side"], truth["front"]) > 600, "a seed with all three"
    # each turn can cost one 10-s piece either way, and the detector's own upright decision
    # may differ from the keyframes' by a piece or two around it
    for position in ("back", "side", "front"):
        assert getattr(split, f"{position}_s") == pytest.approx(truth[position], abs=90.0)
    assert split.unknown_s <= 2 * TRACE_S


def test_the_report_shows_the_split_as_a_panel_and_in_the_html(night: Path) -> None:
    data = load_night(night)
    assert data.trace is not None
    fig = night_figure(data)
    try:
        (panel,) = [ax for ax in fig.axes if ax.get_title(loc="left").startswith(NIGHT_PANELS[2])]
        title = panel.get_title(loc="left")
        split = lying_split(np.asarray(data.trace.gravity_g).T, data.trace.posture,
                            sample_s=TRACE_S)  # fmt: skip
        assert split.text() in title
        covered = sum(p.get_paths()[0].get_extents().width for p in panel.collections)
        assert covered == pytest.approx(data.duration_s / 3600, rel=1e-3)
    finally:
        plt.close(fig)
    page = night_html(data, "night.png")
    assert f'<p id="lying">Lying position (from the calf): {split.text()}' in page
