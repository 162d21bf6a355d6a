"""Deterministic synthetic signals with known answers, for tests, benchmarks and examples.

Tones and noises are sound pressure in Pa at a stated RMS level in dB SPL, so a
psychoacoustic model can be checked against a known answer (1 kHz at 40 dB SPL is
1 sone). :func:`speech_like` returns digital full-scale samples of a plausible voice at
a stated active speech level in dBFS, calm or agitated.

All signals are 1-D ``(samples,)`` arrays of float64; random ones depend only on ``seed``.
"""

from __future__ import annotations

import math

import numpy as np

from capture.levels import P_REF_PA
from capture.speech_synth import speech_like

__all__ = ["am_tone", "fm_tone", "hold_music", "narrowband_noise", "pink_noise", "speech_like",
           "tone"]


def _n_samples(duration_s: float, fs_hz: float) -> int:
    if not fs_hz > 0 or not math.isfinite(fs_hz):
        raise ValueError(f"fs_hz must be a positive sample rate in Hz, got {fs_hz!r}")
    if not duration_s > 0 or not math.isfinite(duration_s):
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    return round(duration_s * fs_hz)


def _check_band(low_hz: float, high_hz: float, fs_hz: float, what: str) -> None:
    if not 0 <= low_hz < high_hz <= fs_hz / 2:
        raise ValueError(
            f"{what} spans {low_hz:g}–{high_hz:g} Hz, which must lie within 0–{fs_hz / 2:g} Hz "
            f"(half the sample rate {fs_hz:g} Hz); raise fs_hz or lower the frequency"
        )


def _rms_pa(level_db_spl: float) -> float:
    return P_REF_PA * 10 ** (level_db_spl / 20)


def _time_s(n: int, fs_hz: float) -> np.ndarray:
    return np.arange(n) / fs_hz


def tone(
    freq_hz: float, level_db_spl: float, duration_s: float, fs_hz: float, *, phase_rad: float = 0.0
) -> np.ndarray:
    """Pure tone in Pa with RMS level ``level_db_spl``.

    Parameters
    ----------
    freq_hz : float
        Frequency in Hz, below ``fs_hz / 2``.
    level_db_spl : float
        RMS level in dB SPL (amplitude √2·20 µPa·10^(L/20)).
    duration_s, fs_hz : float
        Length in seconds and sample rate in Hz.
    phase_rad : float
        Starting phase of the sine.

    Returns
    -------
    numpy.ndarray
        Sound pressure in Pa, shaped ``(samples,)``.
    """
    n = _n_samples(duration_s, fs_hz)
    _check_band(0.0, freq_hz, fs_hz, "the tone")
    return (
        math.sqrt(2)
        * _rms_pa(level_db_spl)
        * np.sin(2 * np.pi * freq_hz * _time_s(n, fs_hz) + phase_rad)
    )


def am_tone(
    fc_hz: float,
    fmod_hz: float,
    level_db_spl: float,
    duration_s: float,
    fs_hz: float,
    depth: float = 1.0,
) -> np.ndarray:
    """Amplitude-modulated tone s(t) = (1 + m·sin 2π·fm·t)·sin 2π·fc·t, in Pa.

    The overall RMS level is ``level_db_spl``: the mean square of s(t) is (1 + m²/2)/2,
    exact over whole periods of ``fc_hz``, ``fmod_hz`` and their sum and difference.
    The classic roughness reference is fc = 1 kHz, fm = 70 Hz, m = 1 at 60 dB (1 asper);
    fluctuation strength's is fm = 4 Hz at 60 dB (1 vacil).

    Parameters
    ----------
    fc_hz, fmod_hz : float
        Carrier and modulation frequencies in Hz.
    level_db_spl : float
        Overall RMS level in dB SPL.
    duration_s, fs_hz : float
        Length in seconds and sample rate in Hz.
    depth : float
        Modulation depth m, 0 to 1.

    Returns
    -------
    numpy.ndarray
        Sound pressure in Pa, shaped ``(samples,)``.
    """
    n = _n_samples(duration_s, fs_hz)
    if not 0 <= depth <= 1:
        raise ValueError(f"depth must be between 0 and 1, got {depth!r}")
    _check_band(fc_hz - fmod_hz, fc_hz + fmod_hz, fs_hz, "the AM tone's spectrum")
    t_s = _time_s(n, fs_hz)
    s = (1 + depth * np.sin(2 * np.pi * fmod_hz * t_s)) * np.sin(2 * np.pi * fc_hz * t_s)
    return s * (_rms_pa(level_db_spl) / math.sqrt((1 + depth**2 / 2) / 2))


def fm_tone(
    fc_hz: float,
    fmod_hz: float,
    deviation_hz: float,
    level_db_spl: float,
    duration_s: float,
    fs_hz: float,
) -> np.ndarray:
    """Frequency-modulated tone in Pa: instantaneous frequency fc + Δf·sin 2π·fm·t.

    The envelope is constant, so the RMS level is ``level_db_spl``.

    Parameters
    ----------
    fc_hz, fmod_hz : float
        Carrier and modulation frequencies in Hz.
    deviation_hz : float
        Peak frequency deviation Δf in Hz (the swing is fc ± Δf).
    level_db_spl : float
        RMS level in dB SPL.
    duration_s, fs_hz : float
        Length in seconds and sample rate in Hz.

    Returns
    -------
    numpy.ndarray
        Sound pressure in Pa, shaped ``(samples,)``.
    """
    n = _n_samples(duration_s, fs_hz)
    if not fmod_hz > 0:
        raise ValueError(f"fmod_hz must be positive, got {fmod_hz!r}")
    _check_band(fc_hz - deviation_hz, fc_hz + deviation_hz, fs_hz, "the FM tone's swing")
    t_s = _time_s(n, fs_hz)
    phase = 2 * np.pi * fc_hz * t_s - (deviation_hz / fmod_hz) * np.cos(2 * np.pi * fmod_hz * t_s)
    return math.sqrt(2) * _rms_pa(level_db_spl) * np.sin(phase)


def _shaped_noise(gain: np.ndarray, n: int, level_db_spl: float, seed: int) -> np.ndarray:
    """Gaussian noise with amplitude spectrum ``gain`` (rfft bins), scaled to exact RMS."""
    rng = np.random.default_rng(seed)
    spectrum = (rng.standard_normal(gain.size) + 1j * rng.standard_normal(gain.size)) * gain
    x = np.fft.irfft(spectrum, n)
    return x * (_rms_pa(level_db_spl) / np.sqrt(np.mean(x**2)))


def narrowband_noise(
    fc_hz: float,
    bandwidth_hz: float,
    level_db_spl: float,
    duration_s: float,
    fs_hz: float,
    *,
    seed: int = 0,
) -> np.ndarray:
    """Gaussian noise with a flat spectrum in fc ± bandwidth/2 and nothing outside, in Pa.

    Parameters
    ----------
    fc_hz, bandwidth_hz : float
        Centre frequency and bandwidth in Hz (the band must fit below ``fs_hz / 2``).
    level_db_spl : float
        RMS level in dB SPL, exact for the returned samples.
    duration_s, fs_hz : float
        Length in seconds and sample rate in Hz.
    seed : int
        Random seed; the same seed gives the same samples.

    Returns
    -------
    numpy.ndarray
        Sound pressure in Pa, shaped ``(samples,)``.
    """
    n = _n_samples(duration_s, fs_hz)
    low_hz, high_hz = fc_hz - bandwidth_hz / 2, fc_hz + bandwidth_hz / 2
    _check_band(low_hz, high_hz, fs_hz, "the noise band")
    freq_hz = np.fft.rfftfreq(n, 1 / fs_hz)
    in_band = (freq_hz >= low_hz) & (freq_hz <= high_hz) & (freq_hz > 0)
    if not in_band.any():
        raise ValueError(
            f"the band {low_hz:g}–{high_hz:g} Hz holds no frequency bin of a {duration_s:g} s "
            f"signal (bin spacing {fs_hz / n:g} Hz); widen the band or lengthen the signal"
        )
    return _shaped_noise(in_band.astype(np.float64), n, level_db_spl, seed)


def pink_noise(
    level_db_spl: float,
    duration_s: float,
    fs_hz: float,
    *,
    seed: int = 0,
    f_min_hz: float = 20.0,
) -> np.ndarray:
    """Pink (1/f power, −3 dB per octave) Gaussian noise from ``f_min_hz`` to fs/2, in Pa.

    Parameters
    ----------
    level_db_spl : float
        RMS level in dB SPL, exact for the returned samples.
    duration_s, fs_hz : float
        Length in seconds and sample rate in Hz.
    seed : int
        Random seed; the same seed gives the same samples.
    f_min_hz : float
        Lowest frequency with energy, in Hz.

    Returns
    -------
    numpy.ndarray
        Sound pressure in Pa, shaped ``(samples,)``.
    """
    n = _n_samples(duration_s, fs_hz)
    _check_band(f_min_hz, fs_hz / 2, fs_hz, "the pink noise")
    freq_hz = np.fft.rfftfreq(n, 1 / fs_hz)
    gain = np.zeros_like(freq_hz)
    band = freq_hz >= max(f_min_hz, freq_hz[1] if n > 1 else 1.0)
    gain[band] = 1 / np.sqrt(freq_hz[band])
    return _shaped_noise(gain, n, level_db_spl, seed)


#: Styles of :func:`hold_music`.
HOLD_MUSIC_STYLES = ("piano", "strings", "lead", "mix")
#: The chords of :func:`hold_music`: I V vi IV, semitones above the key's C4.
_PROGRESSION = ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12))


def _instrument_note(f_hz: float, duration_s: float, fs_hz: float, kind: str,
                     rng: np.random.Generator) -> np.ndarray:
    t = _time_s(max(int(duration_s * fs_hz), 1), fs_hz)
    top = 0.45 * fs_hz
    if kind == "piano":  # struck: slightly stretched partials, each decaying
        x = sum(k**-1.3 * np.sin(2 * np.pi * f_hz * k * np.sqrt(1 + 4e-4 * k * k) * t
                                 + rng.uniform(0, 2 * np.pi)) * np.exp(-t * (1.5 + 0.4 * k))
                for k in range(1, 12) if f_hz * k < top)
        return x * np.minimum(1, t / 0.005)
    # bowed or blown: a sawtooth-like tone with vibrato
    depth, rate, partials = (0.25, 5.5, 15) if kind == "strings" else (0.1, 6.0, 9)
    phase = 2 * np.pi * np.cumsum(f_hz * 2 ** (depth / 12 * np.sin(2 * np.pi * rate * t))) / fs_hz
    sign = 1 if kind == "strings" else -1
    x = sum(sign**k / k * np.sin(k * phase) for k in range(1, partials) if f_hz * k < top)
    if kind == "strings":
        return x * np.minimum(1, t / 0.25) * np.clip((duration_s - t) / 0.2, 0, 1)
    return x * np.minimum(1, t / 0.02) * np.exp(-t * 0.8)


def hold_music(duration_s: float, fs_hz: float = 16000, *, style: str = "piano",
               level_dbfs: float = -24.0, dynamics: float = 0.3, seed: int = 0) -> np.ndarray:
    """Music as a call centre plays it to a caller on hold: a I-V-vi-IV progression at
    76-116 bpm in a random key, as piano arpeggios over a bass (``"piano"``), a string
    pad (``"strings"``), a lead line over a bowed bass (``"lead"``) or all three
    (``"mix"``), levelled like broadcast audio.

    Parameters
    ----------
    duration_s, fs_hz : float
    style : str
        One of :data:`HOLD_MUSIC_STYLES`.
    level_dbfs : float
        RMS of the result, dB re digital full scale (a full-scale sine is -3 dBFS).
    dynamics : float
        0 levels the music to a steady loudness (a hard broadcast compressor), 1 keeps
        its own dynamics; in between, the exponent of the leveller.
    seed : int
        Tempo, key, the lead's notes and the partials' phases.

    Returns
    -------
    numpy.ndarray
        Digital samples, full scale ±1.0, shaped ``(samples,)``.
    """
    if style not in HOLD_MUSIC_STYLES:
        raise ValueError(f"style must be one of {HOLD_MUSIC_STYLES}, got {style!r}")
    if not 0 <= dynamics <= 1:
        raise ValueError(f"dynamics must be within 0-1, got {dynamics!r}")
    n = _n_samples(duration_s, fs_hz)
    rng = np.random.default_rng(seed)
    beat = 60 / rng.uniform(76, 116)
    key = int(rng.integers(-5, 5))
    out = np.zeros(n + int(8 * beat * fs_hz) + int(2 * fs_hz))

    def add(x: np.ndarray, at_s: float, gain: float) -> None:
        k = int(at_s * fs_hz)
        out[k: k + x.size] += gain * x[: out.size - k]

    def hz(semitones: int) -> float:
        return 261.63 * 2 ** ((semitones + key) / 12)

    t, bar = 0.0, 0
    while t < duration_s:
        chord = _PROGRESSION[bar % 4]
        if style in ("piano", "mix"):
            for i in range(8):  # an eighth-note arpeggio, and the root below
                add(_instrument_note(hz(chord[i % 3] + 12 * (i // 3 % 2)), 1.5, fs_hz,
                                     "piano", rng), t + i * beat / 2, 0.5)
            add(_instrument_note(hz(chord[0] - 24), 4 * beat, fs_hz, "piano", rng), t, 0.6)
        if style in ("strings", "mix"):
            for s in chord:
                add(_instrument_note(hz(s - 12), 4 * beat, fs_hz, "strings", rng), t, 0.25)
        if style in ("lead", "mix"):
            for i in range(4):
                add(_instrument_note(hz(chord[int(rng.integers(3))] + 12), beat, fs_hz, "lead",
                                     rng), t + i * beat, 0.35)
            add(_instrument_note(hz(chord[0] - 24), 4 * beat, fs_hz, "strings", rng), t, 0.3)
        t += 4 * beat
        bar += 1
    out = out[:n]
    width = max(int(0.2 * fs_hz), 1)
    envelope = np.sqrt(np.convolve(out**2, np.ones(width) / width, "same")) + 1e-9
    out = out / envelope ** (1 - dynamics)
    return out * (10 ** (level_dbfs / 20) / np.sqrt(np.mean(out**2)))
