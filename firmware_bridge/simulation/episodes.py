"""Episodes of a night and how each one turns into control signals (100 Hz) and discrete events.

An :class:`Episode` is the small, JSON-like description made when the night is planned; at render
time :func:`realize` expands it, with its own seeded generator, into a :class:`Realized`: envelopes
and additive signals sampled at ``CTRL_HZ`` from ``start_s`` on, plus motor-unit spikes and
heel-strike impulses at exact times. Rendering interpolates these at the EMG and accelerometer
sample times, so nothing here depends on how the night is cut into chunks.

Constants cite ``shared/notes/physiology.md`` source keys. Pure numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.simulation.subject import Subject

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CTRL_HZ = 100.0  # control-signal rate: motion artefacts < ~20 Hz [DL10, vB01] survive it

# --- motor units in cramps [Min09] --------------------------------------------------------------
MU_RATE_PPS = (14.5, 5.1, 6.0, 25.0)  # mean, sd, min, max discharge rate [Min09]
MU_ISI_CV = 0.446  # [Min09]: ISI coefficient of variation 44.6 %
MU_DOUBLET_P = 0.041  # [Min09]: 4.1 % doublets
MU_ACTIVE_S = (23.6, 16.2)  # [Min09]: units active 23.6 ± 16.2 s
COMMON_DRIVE_HZ = 1.4  # [Min09]: common-drive coherence ~1.4 Hz
MU_POWER_SHARE = 0.3  # share of cramp EMG power in resolvable MU spikes (model choice)
MUAP_SIGMA_S = (0.001, 0.003)  # surface MUAP phase width, "very short potentials" [Roe00]

# --- gait [SAN], pearl (computed) -------------------------------------------------------------
STRIDE_S = 1.03  # [SAN]: touchdown every ~1.03 s
CALF_BURST_PHASE = 0.40  # [SAN]: GM/GL/SO burst peaks ~40 % of the cycle (push-off)
LIFT_OFF_PHASE = 0.64  # [SAN]: lift-off ~64 %
GAIT_BURST_PEAK_UV = (100.0, 200.0)  # envelope peak giving 200-ms RMS peaks 90–190 µV (computed)
GAIT_TONIC_UV = (3.0, 5.5)  # between bursts 4–6.5 µV RMS with the floor (computed, santuz)
SHANK_SWING_DEG = (20.0, 25.0)  # tilt swings 40–50° peak to peak (computed, pearl)
HEEL_STRIKE_G = (0.6, 1.5)  # heel strike to 2.4 g total with gravity (computed, pearl)


@dataclass(frozen=True, slots=True)
class Episode:
    """One thing happening in the night: ``kind``, span in seconds, own seed, parameters."""

    kind: str
    start_s: float
    end_s: float
    seed: int
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Realized:
    """Control signals of one episode, sampled at ``CTRL_HZ`` from ``t0`` (n samples).

    ``env`` (n_ch, n) µV RMS of muscle activity (combined in power with other episodes);
    ``emg_add`` (n_ch, n) µV added as is (artefact, drift); ``rest_gain``/``hum_gain`` (n,)
    multiply the noise floor / mains hum; ``accel_add`` (3, n) g; ``tilt_add`` (n,) degrees added
    to the shank elevation. ``spikes``: times s, peak µV, channel, width σ s. ``impulses``: times s
    and (3, k) peak g. ``overrides``: (start_s, end_s, value µV) spans replacing the EMG (flat
    line or rail).
    """

    t0: float
    n: int
    env: FloatArray | None = None
    emg_add: FloatArray | None = None
    rest_gain: FloatArray | None = None
    hum_gain: FloatArray | None = None
    accel_add: FloatArray | None = None
    tilt_add: FloatArray | None = None
    spikes: tuple[FloatArray, FloatArray, IntArray, FloatArray] | None = None
    impulses: tuple[FloatArray, FloatArray] | None = None
    overrides: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def t1(self) -> float:
        return self.t0 + (self.n - 1) / CTRL_HZ


def smooth_noise(rng: np.random.Generator, n: int, corr_s: float) -> FloatArray:
    """Unit-variance Gaussian noise at CTRL_HZ, smoothed over ``corr_s`` (Hann window)."""
    w = max(1, round(corr_s * CTRL_HZ))
    win = np.hanning(w + 2)[1:-1]
    x = rng.standard_normal(n + w - 1)
    y = np.convolve(x, win, mode="valid")
    out: FloatArray = y / math.sqrt(float(np.sum(win * win)))
    return out


def _window(n: int, edge_s: float) -> FloatArray:
    """Tukey-like taper: 0 at both ends, 1 inside, ``edge_s`` cosine ramps."""
    w = np.ones(n)
    e = min(n // 2, max(1, round(edge_s * CTRL_HZ)))
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, e))
    w[:e] = ramp
    w[n - e :] = ramp[::-1]
    return w


def _ctrl(ep: Episode) -> tuple[int, FloatArray]:
    n = max(2, math.ceil((ep.end_s - ep.start_s) * CTRL_HZ) + 1)
    return n, np.arange(n) / CTRL_HZ


def _per_channel(sub: Subject, calf: FloatArray, shin: FloatArray | None = None) -> FloatArray:
    """Stack a calf-site signal onto the subject's channels (second site gets ``shin`` or calf)."""
    rows = [calf]
    for label in sub.emg_labels[1:]:
        if label == "EMG shin":
            rows.append(shin if shin is not None else calf * sub.shin_crosstalk)
        else:
            rows.append(calf * 0.8)
    return np.vstack(rows)


def _mu_spikes(
    rng: np.random.Generator,
    t0: float,
    ratio: FloatArray,
    level: float,
    sub: Subject,
    chan_gain: tuple[float, ...],
) -> tuple[FloatArray, FloatArray, IntArray, FloatArray]:
    """Motor-unit discharges for a cramp whose total/rest RMS ratio follows ``ratio`` (ctrl rate).

    Units rotate (active 23.6 ± 16.2 s), fire at 6–25 pps with ISI CV 44.6 % and 4.1 % doublets
    [Min09]; a unit fires only while the drive exceeds its recruitment threshold. Peak amplitudes
    are set so that the spikes carry ``MU_POWER_SHARE`` of the cramp's extra power.
    """
    dur = (ratio.size - 1) / CTRL_HZ
    drive = np.clip((ratio - 1.0) / max(level - 1.0, 1e-9), 0.0, None)
    n_slots = int(rng.integers(3, 9))
    times: list[FloatArray] = []
    amps: list[FloatArray] = []
    sigmas: list[FloatArray] = []
    shape = 1.0 / MU_ISI_CV**2  # gamma ISIs with CV 44.6 %
    target_power = MU_POWER_SHARE * (level**2 - 1.0) * sub.noise_floor_uv**2
    for _ in range(n_slots):
        t = 0.0
        while t < dur:
            m, s = MU_ACTIVE_S
            active = float(np.clip(rng.lognormal(math.log(m**2 / math.hypot(m, s)), 0.6), 2, 90))
            rate = float(np.clip(rng.normal(MU_RATE_PPS[0], MU_RATE_PPS[1]), *MU_RATE_PPS[2:]))
            sigma = float(rng.uniform(*MUAP_SIGMA_S))
            thresh = float(rng.uniform(0.0, 0.6))
            n_isi = int(active * rate * 1.5) + 4
            isi = rng.gamma(shape, 1.0 / (rate * shape), n_isi)
            st = t + np.cumsum(isi)
            st = st[st < min(t + active, dur)]
            doublets = st[rng.random(st.size) < MU_DOUBLET_P] + rng.uniform(0.003, 0.010)
            st = np.sort(np.concatenate([st, doublets]))
            st = st[st < dur]
            d = np.interp(st, np.arange(ratio.size) / CTRL_HZ, drive)
            st = st[d > thresh]
            # energy of the unit-peak biphasic MUAP: ∫ h² = e·σ·√π/2 (see render.muap)
            energy = math.e * sigma * math.sqrt(math.pi) / 2.0
            a = math.sqrt(target_power / (n_slots * MU_RATE_PPS[0] * energy))
            a *= float(rng.lognormal(0.0, 0.3))
            r = np.interp(st, np.arange(ratio.size) / CTRL_HZ, ratio)
            scale = np.sqrt(np.clip(r**2 - 1.0, 0.0, None) / (level**2 - 1.0))
            times.append(t0 + st)
            amps.append(a * scale * (1.0 if rng.random() < 0.5 else -1.0))
            sigmas.append(np.full(st.size, sigma))
            t += active
    tt, aa, ss = np.concatenate(times), np.concatenate(amps), np.concatenate(sigmas)
    ch_t, ch_a, ch_s, ch_i = [], [], [], []
    for c, g in enumerate(chan_gain):
        if g > 0:
            ch_t.append(tt)
            ch_a.append(aa * g)
            ch_s.append(ss)
            ch_i.append(np.full(tt.size, c, dtype=np.int64))
    if not ch_t:
        z = np.zeros(0)
        return z, z, np.zeros(0, dtype=np.int64), z
    return np.concatenate(ch_t), np.concatenate(ch_a), np.concatenate(ch_i), np.concatenate(ch_s)


def _cramp_gains(sub: Subject) -> tuple[float, ...]:
    """Share of the cramp seen per channel: calf 1; lateral head maybe silent [KB07]."""
    gains = [1.0]
    for label in sub.emg_labels[1:]:
        gains.append(sub.shin_crosstalk if label == "EMG shin" else sub.lateral_cramp_gain)
    return tuple(gains)


def rise_shape(t: FloatArray, p: Mapping[str, Any]) -> FloatArray:
    """Share of the plateau excess reached ``t`` s after the rise begins (0..1, deterministic).

    With a build-up (``build_up_s`` > 0): a slow rise to ``build_up_fraction`` with exponent
    ``build_up_power`` (motionless, ~41 s [CS]), then a linear ``rise_s`` to 1; otherwise the
    linear ``rise_s`` alone. The full onset of the truth is where this first reaches 0.5.
    """
    build = float(p.get("build_up_s", 0.0))
    rise = max(float(p["rise_s"]), 0.2)
    if build <= 0:
        out: FloatArray = np.clip(t / rise, 0.0, 1.0)
        return out
    b = float(p["build_up_fraction"])
    slow = b * np.clip(t / build, 0.0, 1.0) ** float(p["build_up_power"])
    fast = b + (1.0 - b) * np.clip((t - build) / rise, 0.0, 1.0)
    out = np.where(t < build, slow, fast)
    return out


def cramp_ratio(ep: Episode, rng: np.random.Generator) -> FloatArray:
    """Total-EMG / resting-RMS ratio R(t) of a cramp at CTRL_HZ over its span.

    Rise to ``level`` (:func:`rise_shape`), waxing/waning sustained discharge (~1.4 Hz common
    drive [Min09] plus slow swell), a surge while stretched [RT95], then a linear decay to the
    residual (~2× [CS], kept below the plateau) at the episode's end.
    """
    p = ep.params
    n, t = _ctrl(ep)
    level = float(p["level"])
    extra = (level - 1.0) * rise_shape(t, p)
    wax = 0.25 * smooth_noise(rng, n, float(rng.uniform(4.0, 15.0)))
    wax += 0.15 * smooth_noise(rng, n, 1.0 / COMMON_DRIVE_HZ)
    extra *= np.exp(wax - 0.5 * (0.25**2 + 0.15**2))
    surge_at = p.get("stretch_s")
    if surge_at is not None:
        a = float(surge_at) - ep.start_s
        b = a + float(p["surge_s"])
        up = np.clip((t - a) / 0.5, 0.0, 1.0)
        down = np.clip((t - b) / 1.0, 0.0, 1.0)
        gain = 1.0 + (float(p["surge_gain"]) - 1.0) * up * (1.0 - down)
        gain *= 1.0 + (float(p["post_gain"]) - 1.0) * down
        extra *= gain
    for at, dur, g in p.get("restretch", ()):  # later stretches / massage: smaller surges [RT95]
        a = float(at) - ep.start_s
        up = np.clip((t - a) / 0.5, 0.0, 1.0)
        down = np.clip((t - a - float(dur)) / 1.0, 0.0, 1.0)
        extra *= 1.0 + (float(g) - 1.0) * up * (1.0 - down)
    ratio = 1.0 + extra
    d0 = float(p["decay_start_s"]) - ep.start_s
    resid = float(p["residual"])
    i0 = min(n - 1, max(0, round(d0 * CTRL_HZ)))
    x = np.clip((t[i0:] - t[i0]) / max(t[-1] - t[i0], 1e-6), 0.0, 1.0)
    # Linear, so the decay meets the residual band at a definite time (schedule.END_BAND).
    ratio[i0:] = resid + (ratio[i0:] - resid) * (1.0 - x)
    ratio[-1] = resid
    out: FloatArray = np.maximum(ratio, 1.0)
    return out


def realize(ep: Episode, sub: Subject, night_seed: int) -> Realized:
    """Expand ``ep`` into control signals with its own generator (seeded by night and episode)."""
    if ep.kind == "ecg":  # rendered from the night-wide beat train; the span only gates it
        return Realized(t0=ep.start_s, n=2)
    rng = np.random.default_rng([night_seed, 7, ep.seed])
    n, t = _ctrl(ep)
    p = ep.params
    out = Realized(t0=ep.start_s, n=n)
    n_ch = len(sub.emg_labels)
    rest = sub.noise_floor_uv
    scale = sub.amplitude_scale
    kind = ep.kind
    if kind == "cramp":
        ratio = cramp_ratio(ep, rng)
        power = (1.0 - MU_POWER_SHARE) * (ratio**2 - 1.0)
        env = rest * np.sqrt(np.clip(power, 0.0, None))
        gains = _cramp_gains(sub)
        out.env = np.vstack([env * g for g in gains])
        out.spikes = _mu_spikes(rng, ep.start_s, ratio, float(p["level"]), sub, gains)
    elif kind == "soreness":
        tau = float(p["tau_s"])
        r = 1.0 + (float(p["residual"]) - 1.0) * np.exp(-t / tau)
        env = rest * np.sqrt(np.clip(r**2 - 1.0, 0.0, None))
        out.env = np.vstack([env * g for g in _cramp_gains(sub)])
    elif kind == "fasciculation":
        # [JAT21]: twitching and raised resting EMG before cramps.
        env = rest * math.sqrt(float(p["raise"]) ** 2 - 1.0) * _window(n, 2.0)
        out.env = _per_channel(sub, env)
        dur = t[-1]
        k = int(rng.poisson(float(p["rate_hz"]) * dur))
        st = np.sort(rng.uniform(0.0, dur, k))
        amp = rest * float(p["twitch_ratio"]) * rng.lognormal(0.0, 0.3, k)
        amp *= np.where(rng.random(k) < 0.5, -1.0, 1.0)
        sig = rng.uniform(*MUAP_SIGMA_S, k)
        out.spikes = (ep.start_s + st, amp, np.zeros(k, dtype=np.int64), sig)
    elif kind in ("plm",):
        # LM on tibialis anterior [PLMt]; calf only by crosstalk/co-activation (unconfirmed).
        shape = _window(n, min(0.3, t[-1] / 3))
        shape *= np.exp(0.2 * smooth_noise(rng, n, 0.3))
        ta = float(p["ta_uv"]) * shape  # absolute µV: already scaled to the subject
        calf = ta * float(p["calf_gain"])
        out.env = _per_channel(sub, calf, ta)
        if p.get("tilt_deg", 0.0):
            out.tilt_add = float(p["tilt_deg"]) * _window(n, 0.3)
    elif kind in ("turn", "motion", "wake"):
        win = _window(n, min(1.0, t[-1] / 4))
        bumps = np.zeros(n)
        for _ in range(int(rng.integers(1, 5))):
            c, w = rng.uniform(0, t[-1]), rng.uniform(0.3, 2.0)
            bumps += rng.uniform(0.3, 1.0) * np.exp(-0.5 * ((t - c) / w) ** 2)
        vol = float(p["voluntary_uv"]) * scale * np.clip(bumps, 0, 1.5) * win
        out.env = _per_channel(sub, vol, vol)
        art = np.vstack([smooth_noise(rng, n, float(rng.uniform(0.05, 0.15))) for _ in range(n_ch)])
        out.emg_add = float(p["artifact_uv"]) * art * win * np.clip(bumps, 0.2, 1.5)
        acc = np.vstack([smooth_noise(rng, n, float(rng.uniform(0.1, 0.3))) for _ in range(3)])
        out.accel_add = float(p["accel_g"]) * acc * win * np.clip(bumps, 0.2, 1.5)
    elif kind == "stretch":
        # Toes pointed: strong voluntary calf burst [RT95, VIC]; TA co-activation small.
        win = _window(n, min(0.4, t[-1] / 4))
        tremor = np.exp(0.15 * smooth_noise(rng, n, 0.1))
        calf = float(p["burst_uv"]) * scale * win * tremor
        out.env = _per_channel(sub, calf, calf * float(rng.uniform(0.05, 0.3)))
        out.tilt_add = float(p["tilt_deg"]) * win
        out.emg_add = np.vstack(
            [20.0 * smooth_noise(rng, n, 0.1) * (1 - win) * (win > 0) for _ in range(n_ch)]
        )
    elif kind == "stand":
        # Quiet standing / sitting: postural soleus tone (same order as between gait bursts).
        tone = float(p["tone_uv"]) * scale * np.exp(0.2 * smooth_noise(rng, n, 2.0))
        out.env = _per_channel(sub, tone, tone * 0.5)
    elif kind == "gait":
        _realize_gait(ep, sub, rng, out, t)
    elif kind == "lead_off":
        _realize_lead_off(ep, sub, rng, out, t)
    elif kind == "hum_change":
        g = float(p["gain"])
        out.hum_gain = 1.0 + (g - 1.0) * _window(n, 0.5)
    elif kind == "hum":
        # Poor grounding: hum many times the usual level (bad signal) [Mew04].
        g = float(p["gain"])
        out.hum_gain = 1.0 + (g - 1.0) * _window(n, 5.0)
        out.rest_gain = 1.0 + 0.5 * _window(n, 5.0)
    elif kind in ("baseline_wander", "drift"):
        # Slow (< ~1 Hz) electrode-potential drift [KAAP].
        corr = float(rng.uniform(1.5, 6.0))
        wav = np.vstack([smooth_noise(rng, n, corr) for _ in range(n_ch)])
        if kind == "drift":  # a random walk whose spread at the end is about 1
            wav = np.cumsum(wav, axis=1) / (CTRL_HZ * math.sqrt(max(t[-1], 1.0) * corr))
        out.emg_add = float(p["amplitude_uv"]) * wav * _window(n, min(3.0, t[-1] / 4))
    else:
        raise ValueError(f"unknown episode kind {kind!r}")
    return out


def _realize_gait(
    ep: Episode, sub: Subject, rng: np.random.Generator, out: Realized, t: FloatArray
) -> None:
    """Walking: calf bursts at push-off, TA at heel strike, shank swing and heel strikes [SAN]."""
    p = ep.params
    n = t.size
    stride = float(p["stride_s"])
    dur = t[-1]
    k = max(1, int(dur / stride))
    strikes = np.arange(k) * stride + rng.normal(0.0, 0.02 * stride, k)
    strikes = np.clip(strikes, 0.0, dur)
    peak = float(p["burst_uv"]) * sub.amplitude_scale
    calf = np.full(n, float(p["tonic_uv"]) * sub.amplitude_scale)
    ta = calf * 0.8
    sig = 0.08 * stride
    for s in strikes:
        a = peak * float(rng.lognormal(0.0, 0.15))
        calf += a * np.exp(-0.5 * ((t - s - CALF_BURST_PHASE * stride) / sig) ** 2)
        ta += 0.6 * a * np.exp(-0.5 * ((t - s) / (0.06 * stride)) ** 2)
        ta += 0.3 * a * np.exp(-0.5 * ((t - s - LIFT_OFF_PHASE * stride) / (0.06 * stride)) ** 2)
    win = _window(n, 0.5)
    out.env = _per_channel(sub, calf * win, ta * win)
    phase = 2 * math.pi * t / stride
    out.tilt_add = float(p["swing_deg"]) * np.sin(phase) * win
    swing = float(rng.uniform(0.2, 0.4))  # shank linear acceleration during swing (pearl)
    out.accel_add = (
        np.vstack([swing * np.sin(2 * phase), np.zeros(n), 0.7 * swing * np.cos(phase)]) * win
    )
    heel = rng.uniform(*HEEL_STRIKE_G, k)
    vec = np.vstack([heel, 0.15 * heel * rng.standard_normal(k), -0.5 * heel])
    out.impulses = (ep.start_s + strikes, vec)
    art = np.zeros(n)
    for s in strikes:  # heel-strike motion artefact, low frequency [DL10]
        art += np.exp(-0.5 * ((t - s) / 0.03) ** 2)
    out.emg_add = np.vstack([art * float(p["artifact_uv"]) for _ in sub.emg_labels])


def _realize_lead_off(
    ep: Episode, sub: Subject, rng: np.random.Generator, out: Realized, t: FloatArray
) -> None:
    """Electrode lead-off: drift and steps, rising noise and hum, then rail or flat line."""
    p = ep.params
    n = t.size
    n_ch = len(sub.emg_labels)
    win = _window(n, min(5.0, t[-1] / 4))
    out.rest_gain = 1.0 + float(p["noise_gain"]) * win  # poor contact raises the floor (§6)
    out.hum_gain = 1.0 + float(p["hum_gain"]) * win  # rising hum [Mew04]
    steps = np.zeros(n)
    for _ in range(int(rng.integers(1, 6))):  # DC steps
        steps += (t > rng.uniform(0, t[-1])) * rng.normal(0.0, float(p["step_uv"]))
    walk = np.cumsum(smooth_noise(rng, n, 2.0)) / (CTRL_HZ * math.sqrt(max(t[-1], 1.0) * 2.0))
    drift = walk * float(p["step_uv"])
    base = (steps + drift) * win
    out.emg_add = np.vstack([base * (1.0 if c == 0 else 0.3) for c in range(n_ch)])
    a, b = p.get("hold_start_s"), p.get("hold_end_s")
    if a is not None and b is not None:
        out.overrides.append((float(a), float(b), float(p["hold_value_uv"])))
