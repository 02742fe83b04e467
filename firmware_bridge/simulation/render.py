"""Turn a planned night into samples, one fixed 10-s block at a time.

Block ``k`` of the EMG covers samples ``[k*B, (k+1)*B)`` with ``B = BLOCK_S * emg_rate_hz`` (the
same for the accelerometer); every random draw is seeded by the night's seed and the block or
episode, so the output does not depend on how a caller slices it. Pure numpy.

EMG model (physiology.md §6): resting floor (band-limited noise, ``noise_floor_uv`` RMS) +
muscle activity ``a(t)·n(t)`` with ``n`` Gaussian noise shaped by the Shwedyk PSD [Shw77] +
motor-unit spikes [Min09] + additive artefacts + mains hum with harmonics drifting within
±0.5 Hz [Mew04] + ECG QRS crosstalk [BM16]; lead-off spans override with a flat line or the rail.
Accelerometer: gravity from the posture keyframes (shank elevation and roll, §3) + dynamic
acceleration + heel-strike impulses + sensor noise, clipped at ±8 g [ADXL].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware_bridge.simulation.episodes import CTRL_HZ, Episode, Realized, realize
from firmware_bridge.simulation.noise import (
    NoiseStream,
    design_fir,
    fir_taps,
    shwedyk_psd,
)
from firmware_bridge.simulation.schedule import RAIL_UV
from firmware_bridge.simulation.subject import Subject

FloatArray = npt.NDArray[np.float64]

BLOCK_S = 10  # internal block: whole seconds so every integer rate gives whole blocks
REST_BAND_HZ = (5.0, 450.0)  # ISEK 5–500 Hz [KAAP], low-pass ~450 [LE]: band of the rest floor
ACCEL_RANGE_G = 8.0  # ±8 g MEMS range [ADXL]; ±2 g would clip heel strikes (computed)
QRS_SIGMA_S = 0.012  # QRS ~80–100 ms wide: Ricker σ 12 ms (textbook ECG; size on calf unconfirmed)
MARGIN_S = 0.5  # spikes and impulses reach this far past their episode
HUM_TABLE = 4096  # points per mains cycle; linear interpolation error < 1e-5 of the amplitude


@dataclass(frozen=True, slots=True)
class RenderInput:
    """What the renderer needs from a plan (kept apart to avoid an import cycle)."""

    seed: int
    duration_s: float
    subject: Subject
    episodes: tuple[Episode, ...]
    posture: tuple[tuple[float, float, float], ...]


def lerp(u: FloatArray, values: FloatArray) -> FloatArray:
    """Linear interpolation of ``values`` (``(..., n)``, uniform grid) at index positions ``u``.

    Like ``np.interp`` with ``xp = arange(n)`` (ends held), without its binary search.
    """
    n = values.shape[-1]
    i = np.clip(np.floor(u).astype(np.intp), 0, n - 2)
    f = np.clip(u - i, 0.0, 1.0)
    lo, hi = values[..., i], values[..., i + 1]
    out: FloatArray = lo + (hi - lo) * f
    return out


def _pulses(
    x: FloatArray,
    t_first: float,
    fs: float,
    times: FloatArray,
    amps: FloatArray,
    width_s: FloatArray,
    shape: Callable[[FloatArray], FloatArray],
    half_span: float,
    left_span: float,
) -> None:
    """Add ``amps[i] * shape((t - times[i]) / width_s[i])`` to the 1-D ``x`` (starts at t_first)."""
    if times.size == 0:
        return
    n = x.size
    span = math.ceil((half_span + left_span) * fs) + 2
    start = np.floor((times - left_span - t_first) * fs).astype(np.int64)
    idx = start[:, None] + np.arange(span)[None, :]
    tau = (idx / fs + t_first - times[:, None]) / width_s[:, None]
    val = amps[:, None] * shape(tau)
    ok = (idx >= 0) & (idx < n)
    np.add.at(x, idx[ok], val[ok])


def muap(tau: FloatArray) -> FloatArray:
    """Unit-peak biphasic surface MUAP (first Hermite-Rodriguez function), τ in σ units."""
    out: FloatArray = np.where(np.abs(tau) < 5.0, tau * np.exp(0.5 - 0.5 * tau * tau), 0.0)
    return out


def ricker(tau: FloatArray) -> FloatArray:
    """Unit-peak Ricker wavelet (QRS-like), τ in σ units."""
    out: FloatArray = np.where(np.abs(tau) < 5.0, (1.0 - tau * tau) * np.exp(-0.5 * tau * tau), 0.0)
    return out


def heel(tau: FloatArray) -> FloatArray:
    """Heel-strike shock, τ in seconds: 40-ms half-sine, then a 60-ms rebound (pearl < 20 Hz)."""
    main = np.where((tau >= 0) & (tau < 0.04), np.sin(math.pi * tau / 0.04), 0.0)
    reb = np.where((tau >= 0.04) & (tau < 0.10), -0.3 * np.sin(math.pi * (tau - 0.04) / 0.06), 0.0)
    out: FloatArray = main + reb
    return out


class Renderer:
    """Renders EMG ``(n_ch, B)`` µV and accelerometer ``(3, B_acc)`` g blocks of a night."""

    def __init__(self, night: RenderInput) -> None:
        self.night = night
        sub = night.subject
        self.sub = sub
        self.fs = sub.emg_rate_hz
        self.fa = sub.accel_rate_hz
        self.n_ch = len(sub.emg_labels)
        self.block_emg = round(BLOCK_S * self.fs)
        self.block_acc = round(BLOCK_S * self.fa)
        f = np.asarray(np.fft.rfftfreq(fir_taps(self.fs), 1.0 / self.fs), dtype=np.float64)
        # The amplifier floor is white (flat density, as an AFE's input noise [TI98]); its RMS in
        # the 5–450 Hz band is ``noise_floor_uv``, so faster rates carry more broadband noise.
        in_band = min(REST_BAND_HZ[1], self.fs / 2) - REST_BAND_HZ[0]
        self.rest_scale = sub.noise_floor_uv * math.sqrt((self.fs / 2) / in_band)
        self.rest = NoiseStream(
            seed=night.seed, stream=1, n_ch=self.n_ch, block_len=self.block_emg, fir=None
        )
        psd = shwedyk_psd(f, sub.shwedyk_f_low_hz, sub.shwedyk_f_high_hz)
        self.muscle = NoiseStream(
            seed=night.seed,
            stream=2,
            n_ch=self.n_ch,
            block_len=self.block_emg,
            fir=design_fir(psd, fir_taps(self.fs)),
        )
        self.acc_noise = NoiseStream(
            seed=night.seed, stream=3, n_ch=3, block_len=self.block_acc, fir=None
        )
        eps = night.episodes
        self.starts = np.array([e.start_s for e in eps]) - MARGIN_S
        self.ends = np.array([e.end_s for e in eps]) + MARGIN_S
        self.cache: dict[int, Realized] = {}
        keys = np.array(night.posture, dtype=np.float64).reshape(-1, 3)
        self.key_t, self.key_elev, self.key_roll = keys[:, 0], keys[:, 1], keys[:, 2]
        self.beats = self._beats() if sub.ecg_uv > 0 else np.zeros(0)
        self.harmonics = (1.0, *sub.hum_harmonics)
        self.harm_phase = tuple(0.7 * k * k for k in range(len(self.harmonics)))
        self.hum_wave = self._hum_table()

    def _beats(self) -> FloatArray:
        """Heartbeat times over the night: ~1 Hz with slow and beat-to-beat variability."""
        rng = np.random.default_rng([self.night.seed, 11])
        rr = 60.0 / self.sub.heart_rate_bpm
        n = int(self.night.duration_s / rr * 1.3) + 10
        slow = np.convolve(rng.standard_normal(n + 30), np.hanning(32)[1:-1], "valid")[:n]
        rrs = rr * (1.0 + 0.05 * slow / 3.0 + 0.02 * rng.standard_normal(n))
        out: FloatArray = np.cumsum(np.clip(rrs, 0.4, 2.0))
        return out[out < self.night.duration_s + 1.0]

    def _active(self, ta: float, tb: float) -> list[tuple[Episode, Realized]]:
        idx = np.nonzero((self.starts < tb) & (self.ends > ta))[0]
        for key in [key for key in self.cache if self.ends[key] <= ta]:
            del self.cache[key]
        out = []
        for i in idx.tolist():
            r = self.cache.get(i)
            if r is None:
                r = realize(self.night.episodes[i], self.sub, self.night.seed)
                self.cache[i] = r
            out.append((self.night.episodes[i], r))
        return out

    @staticmethod
    def _slice(r: Realized, t: FloatArray, fs: float) -> tuple[slice, FloatArray]:
        """Samples of ``t`` (uniform, rate ``fs``) inside ``r``'s span and their ctrl index."""
        lo = max(0, math.ceil((r.t0 - t[0]) * fs - 1e-9))
        hi = min(t.size, math.floor((r.t1 - t[0]) * fs + 1e-9) + 1)
        if hi <= lo:
            return slice(0, 0), np.zeros(0)
        return slice(lo, hi), (t[lo:hi] - r.t0) * CTRL_HZ

    @staticmethod
    def _interp(u: FloatArray, values: FloatArray) -> FloatArray:
        return lerp(u, values)

    def emg_block(self, k: int) -> FloatArray:
        """EMG block ``k``: ``(n_ch, block_emg)`` float64 µV."""
        sub, fs, nb = self.sub, self.fs, self.block_emg
        t = (k * nb + np.arange(nb)) / fs
        ta, tb = t[0], t[-1] + 1.0 / fs
        # Episode control signals are summed on the absolute CTRL_HZ grid covering this block,
        # then interpolated to the EMG rate once per quantity (not once per episode).
        j0 = math.floor(t[0] * CTRL_HZ)
        grid = (j0 + np.arange(math.ceil(t[-1] * CTRL_HZ) - j0 + 1)) / CTRL_HZ
        m = grid.size
        env2 = np.zeros((self.n_ch, m))
        add = np.zeros((self.n_ch, m))
        rest_gain = np.ones(m)
        hum_gain = np.ones(m)
        used = {"add": False, "rest": False, "hum": False}
        x = np.zeros((self.n_ch, nb))
        overrides: list[tuple[float, float, float]] = []
        ecg_on = False
        for ep, r in self._active(ta, tb):
            if ep.kind == "ecg":
                ecg_on = True
            if r.spikes is not None:
                times, amps, chans, sig = r.spikes
                sel = (times > ta - MARGIN_S) & (times < tb + MARGIN_S)
                for c in range(self.n_ch):
                    mask = sel & (chans == c)
                    _pulses(x[c], ta, fs, times[mask], amps[mask], sig[mask], muap, 0.03, 0.03)
            overrides.extend(r.overrides)
            sl, u = self._slice(r, grid, CTRL_HZ)
            if u.size == 0:
                continue
            if r.env is not None:
                env2[:, sl] += lerp(u, r.env) ** 2
            if r.emg_add is not None:
                add[:, sl] += lerp(u, r.emg_add)
                used["add"] = True
            if r.rest_gain is not None:
                rest_gain[sl] *= lerp(u, r.rest_gain)
                used["rest"] = True
            if r.hum_gain is not None:
                hum_gain[sl] *= lerp(u, r.hum_gain)
                used["hum"] = True
        pos = t * CTRL_HZ - j0
        floor = self.rest.block(k) * self.rest_scale
        x += floor * lerp(pos, rest_gain) if used["rest"] else floor
        if env2.any():
            x += np.sqrt(lerp(pos, env2)) * self.muscle.block(k)
        if used["add"]:
            x += lerp(pos, add)
        hum = self._hum(t) * sub.hum_uv
        x += hum * lerp(pos, hum_gain) if used["hum"] else hum
        if ecg_on:
            sel = (self.beats > ta - MARGIN_S) & (self.beats < tb + MARGIN_S)
            bt = self.beats[sel]
            ecg = np.zeros(nb)
            _pulses(
                ecg,
                ta,
                fs,
                bt,
                np.full(bt.size, sub.ecg_uv),
                np.full(bt.size, QRS_SIGMA_S),
                ricker,
                0.07,
                0.07,
            )
            x += ecg
        for a, b, value in overrides:
            lo = max(0, math.ceil((a - ta) * fs))
            hi = min(nb, math.ceil((b - ta) * fs))
            if hi > lo:
                x[:, lo:hi] = value
        out: FloatArray = np.clip(x, -RAIL_UV, RAIL_UV)
        return out

    def _hum_table(self) -> FloatArray:
        """One mains cycle of the hum waveform (unit fundamental), ``HUM_TABLE + 1`` points."""
        sub = self.sub
        phase = np.linspace(0.0, 2 * math.pi, HUM_TABLE + 1)
        out = np.zeros(HUM_TABLE + 1)
        for k, (amp, ph) in enumerate(zip(self.harmonics, self.harm_phase, strict=True), 1):
            if k * (sub.mains_hz + 0.5) < 0.5 * self.fs and amp > 0:  # no aliased harmonics
                out += amp * np.cos(k * phase + ph)
        return out

    def _hum(self, t: FloatArray) -> FloatArray:
        """Mains hum with harmonics; frequency wobbles slowly within ±0.5 Hz [Mew04]."""
        sub = self.sub
        fc = sub.mains_hz + sub.mains_offset_hz
        per = sub.mains_wobble_period_s
        # cycles = ∫ f dt with f(t) = fc + A sin(2π t / P): closed form keeps it chunk-free. The
        # slow wobble term is interpolated from an absolute 0.1-s grid (error < 1e-5 cycles).
        g0 = math.floor(t[0] * 10.0)
        g = np.arange(g0, math.ceil(t[-1] * 10.0) + 2) / 10.0
        wobble = sub.mains_wobble_hz * per / (2 * math.pi) * np.cos(2 * math.pi * g / per)
        cycles = fc * t - lerp(t * 10.0 - g0, wobble)
        return lerp((cycles - np.floor(cycles)) * HUM_TABLE, self.hum_wave)

    def accel_block(self, k: int) -> FloatArray:
        """Accelerometer block ``k``: ``(3, block_acc)`` float64 g (x along the shank)."""
        fa, nb = self.fa, self.block_acc
        t = (k * nb + np.arange(nb)) / fa
        ta, tb = t[0], t[-1] + 1.0 / fa
        tilt = np.zeros(nb)
        dyn = np.zeros((3, nb))
        for _ep, r in self._active(ta, tb):
            if r.impulses is not None:
                times, vec = r.impulses
                sel = (times > ta - MARGIN_S) & (times < tb + MARGIN_S)
                for axis in range(3):
                    _pulses(
                        dyn[axis],
                        ta,
                        fa,
                        times[sel],
                        vec[axis, sel],
                        np.ones(int(sel.sum())),
                        heel,
                        0.12,
                        0.0,
                    )
            sl, u = self._slice(r, t, fa)
            if u.size == 0:
                continue
            if r.tilt_add is not None:
                tilt[sl] += self._interp(u, r.tilt_add)
            if r.accel_add is not None:
                dyn[:, sl] += self._interp(u, r.accel_add)
        elev = np.radians(np.interp(t, self.key_t, self.key_elev) + tilt)
        roll = np.radians(np.interp(t, self.key_t, self.key_roll))
        ce = np.cos(elev)
        # Same mounting on either leg: lying on one side reads +y on the left leg, -y on the right.
        side = 1.0 if self.sub.leg == "left" else -1.0
        g = np.vstack([np.sin(elev), side * ce * np.sin(roll), -ce * np.cos(roll)])
        g += dyn + self.acc_noise.block(k) * self.sub.accel_noise_g
        out: FloatArray = np.clip(g, -ACCEL_RANGE_G, ACCEL_RANGE_G)
        return out
