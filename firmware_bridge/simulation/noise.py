"""Seeded, block-addressed noise streams: the randomness of a night does not depend on chunking.

Sample ``i`` of a stream belongs to block ``i // block_len``; each block's white noise comes from
its own generator seeded by ``(seed, stream, channel, block)``. Shaping is a causal FIR applied
with the previous block's tail, so the shaped stream is one continuous signal whatever the
caller's chunk size. Pure numpy (``firmware_bridge`` does not import scipy).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

FIR_RESOLUTION_HZ = 4.0  # frequency-sampling grid; fine enough for the 50–130 Hz Shwedyk corners


def shwedyk_psd(f_hz: FloatArray, f_low_hz: float, f_high_hz: float) -> FloatArray:
    """[Shw77] P(f) ∝ f_h⁴ f² / ((f² + f_l²)(f² + f_h²)²); dimensionless, shape only."""
    f2 = f_hz * f_hz
    out: FloatArray = f_high_hz**4 * f2 / ((f2 + f_low_hz**2) * (f2 + f_high_hz**2) ** 2)
    return out


def design_fir(psd: FloatArray, n_taps: int) -> FloatArray:
    """Linear-phase FIR whose power response follows ``psd`` (given on ``rfftfreq(n_taps)``).

    Normalised to unit energy, so unit-variance white noise in gives unit variance out.
    """
    h = np.fft.irfft(np.sqrt(np.maximum(psd, 0.0)), n_taps)
    h = np.roll(h, n_taps // 2) * np.hanning(n_taps)
    energy = float(np.sum(h * h))
    if energy <= 0:
        raise ValueError("design_fir: the power spectrum is zero everywhere")
    out: FloatArray = h / math.sqrt(energy)
    return out


def fir_taps(rate_hz: float) -> int:
    """Odd tap count giving about ``FIR_RESOLUTION_HZ`` of frequency resolution at ``rate_hz``."""
    return int(rate_hz / FIR_RESOLUTION_HZ) | 1


def _fast_length(n: int) -> int:
    """Smallest 2^a·3^b·5^c ≥ n: pocketfft is fast on these, and it is < 1.25 n, not < 2 n."""
    best = 1 << math.ceil(math.log2(n))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


class NoiseStream:
    """White Gaussian noise shaped by ``fir`` for ``n_ch`` channels, addressed by block.

    ``block(k)`` returns the shaped samples ``[k*block_len, (k+1)*block_len)`` as
    ``(n_ch, block_len)`` float64 with unit variance (before any gain). Block -1 exists too, so
    the filter is already settled at sample 0 (``fir.size <= block_len`` required).
    """

    def __init__(
        self, *, seed: int, stream: int, n_ch: int, block_len: int, fir: FloatArray | None
    ) -> None:
        self._seed, self._stream, self._n_ch, self._len = seed, stream, n_ch, block_len
        self._fir = fir
        self._white: dict[int, FloatArray] = {}
        if fir is not None:
            if fir.size > block_len:
                raise ValueError(f"FIR of {fir.size} taps longer than the {block_len}-sample block")
            n_fft = _fast_length(block_len + fir.size - 1)
            self._n_fft = n_fft
            self._h = np.fft.rfft(fir, n_fft)

    def white(self, k: int) -> FloatArray:
        """The unshaped block ``k``: ``(n_ch, block_len)`` standard normal; keeps two in cache."""
        got = self._white.get(k)
        if got is None:
            gen = np.random.default_rng([self._seed, self._stream, k + 1])  # k = -1 primes the FIR
            got = gen.standard_normal((self._n_ch, self._len))
            self._white[k] = got
            while len(self._white) > 3:  # sequential rendering needs blocks k-1 and k only
                del self._white[min(self._white)]
        return got

    def block(self, k: int) -> FloatArray:
        x = self.white(k)
        if self._fir is None:
            return x
        tail = self._fir.size - 1
        prev = self.white(k - 1)[:, self._len - tail :]
        ext = np.concatenate([prev, x], axis=1)
        y = np.fft.irfft(np.fft.rfft(ext, self._n_fft, axis=1) * self._h, self._n_fft, axis=1)
        out: FloatArray = y[:, tail : tail + self._len]
        return out
