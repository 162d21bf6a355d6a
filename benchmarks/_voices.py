"""Synthetic voices with known F0 contours, voicing and syllables, and a telephone line.

:func:`known_voice` builds a source–filter voice whose every answer is known: the F0 of
each sample, where it is voiced, and where each syllable's nucleus is. A Rosenberg
glottal pulse train (with 0.5 % jitter and 3 % shimmer) follows a wandering F0 contour
(phrase declination, syllable accents, slow drift) through five formant resonators per
vowel (Peterson & Barney 1952 averages). Syllables come in phrases separated by silent
pauses; each starts with a consonant — unvoiced frication, a silent stop closure with a
burst, or a weak voiced (nasal-like) onset — so voicing stops and starts as in speech.

:func:`telephone` is the line the product hears: 300–3400 Hz band-pass, 8 kHz, line
noise at a stated SNR, and G.711 μ-law.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from capture.g711 import ulaw_decode, ulaw_encode
from capture.levels import active_speech_level_dbfs
from capture.resample import resample

FS_HZ = 16000
_VOWELS_MALE_HZ = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240],
                            [530, 1840, 2480], [570, 840, 2410], [660, 1720, 2410]], float)
_VOWELS_FEMALE_HZ = np.array([[850, 1220, 2810], [310, 2790, 3310], [370, 950, 2670],
                              [610, 2330, 2990], [590, 920, 2710], [860, 2050, 2850]], float)
_BANDWIDTHS_HZ = np.array([80.0, 100.0, 140.0, 250.0, 350.0])


@dataclass(frozen=True)
class KnownVoice:
    """A synthetic voice at 16 kHz and its answers, per sample and per syllable."""

    samples: np.ndarray  # (samples,), digital, active level -26 dBFS
    f0_hz: np.ndarray  # (samples,), the contour the pulses follow (defined everywhere)
    voicing: np.ndarray  # (samples,), glottal amplitude relative to the syllable's peak
    nucleus_time_s: np.ndarray  # (syllables,), centre of each vowel

    def truth_at(self, time_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(F0 Hz, voiced) at frame centres: voiced where the glottis runs at ≥ 25 %."""
        idx = np.clip(np.round(np.asarray(time_s) * FS_HZ).astype(int), 0, self.f0_hz.size - 1)
        voiced = self.voicing[idx] >= 0.25
        return np.where(voiced, self.f0_hz[idx], np.nan), voiced


def known_voice(duration_s: float, *, f0_median_hz: float, seed: int,
                syllable_rate_hz: float = 4.5) -> KnownVoice:
    """A voice of about ``duration_s`` with F0 around ``f0_median_hz`` (see module doc)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS_HZ)
    t = np.arange(n) / FS_HZ
    voicing, frication, vowel_of = np.zeros(n), np.zeros(n), np.full(n, -1)
    nuclei, accents = [], []
    start = rng.uniform(0.1, 0.3)
    while True:
        n_syll = int(rng.integers(3, 9))
        lengths = rng.uniform(0.75, 1.25, n_syll) / syllable_rate_hz
        if start + lengths.sum() > duration_s - 0.1:
            break
        for k, length in enumerate(lengths):
            kind = rng.choice(["fricative", "stop", "nasal"])
            onset = length * rng.uniform(0.25, 0.4)
            a, b = int(start * FS_HZ), int((start + length) * FS_HZ)
            ts = t[a:b] - start
            rise = np.clip((ts - onset) / 0.02, 0, 1)
            fall = np.clip((length - ts) / 0.03, 0, 1)
            shape = np.sin(0.5 * np.pi * np.minimum(rise, fall)) ** 2
            if kind == "nasal":  # weak voiced onset: a −10 dB dip, no voicing break
                shape = np.maximum(shape, 0.3 * np.clip(ts / 0.01, 0, 1) * (ts < onset))
            elif kind == "fricative":
                frication[a:b] = np.sin(np.pi * np.clip(ts / onset, 0, 1)) * (ts < onset)
            else:  # stop: silent closure, then a 15 ms burst
                burst = (ts > onset - 0.015) & (ts < onset)
                frication[a:b] = 1.5 * burst
            voicing[a:b] = shape
            vowel_of[a:b] = rng.integers(len(_VOWELS_MALE_HZ))
            nuclei.append(start + (onset + length) / 2)
            accents.append((start + (onset + length) / 2, rng.normal(0, 1.5)
                            + 2.0 - 4.0 * k / max(n_syll - 1, 1)))
            start += length
        start += rng.uniform(0.2, 0.6)
    f0 = _contour(t, f0_median_hz, np.array(accents).reshape(-1, 2), rng)
    source = _rosenberg(f0, rng)
    voice = _vocal_tract(source * voicing + 0.03 * rng.standard_normal(n) * voicing,
                         vowel_of, f0_median_hz)
    noise = sosfilt(butter(2, [2500, 7000], "bandpass", fs=FS_HZ, output="sos"),
                    rng.standard_normal(n))
    voice += 0.15 * noise * frication
    voice *= 10 ** ((-26 - active_speech_level_dbfs(voice, FS_HZ)) / 20)
    return KnownVoice(voice, f0, voicing, np.array(nuclei))


def _contour(t: np.ndarray, median_hz: float, accents: np.ndarray, rng) -> np.ndarray:
    """F0 per sample: accents interpolated between nuclei, plus two slow sinusoids."""
    semitones = np.interp(t, accents[:, 0], accents[:, 1]) if accents.size else 0 * t
    rates, phases = rng.uniform(0.2, 1.0, 2), rng.uniform(0, 2 * np.pi, 2)
    drift = 1.5 * np.sin(2 * np.pi * rates[:, None] * t + phases[:, None]).sum(axis=0)
    return median_hz * 2 ** ((semitones + drift) / 12)


def _rosenberg(f0_hz: np.ndarray, rng, opening: float = 0.4, closing: float = 0.16):
    """Rosenberg glottal-flow derivative following ``f0_hz``, with jitter and shimmer."""
    phase = np.cumsum(f0_hz / FS_HZ)
    cycle = phase.astype(int)
    jitter = 1 + 0.005 * rng.standard_normal(cycle[-1] + 2)
    phase = np.cumsum(f0_hz * jitter[cycle] / FS_HZ)
    cycle = phase.astype(int)
    theta = phase - cycle
    out = np.zeros_like(theta)
    rising = theta < opening
    falling = ~rising & (theta < opening + closing)
    out[rising] = np.sin(np.pi * theta[rising] / opening) / opening
    out[falling] = -np.sin(0.5 * np.pi * (theta[falling] - opening) / closing) / closing
    return out * (1 + 0.03 * rng.standard_normal(cycle[-1] + 1))[cycle]


def _vocal_tract(source: np.ndarray, vowel_of: np.ndarray, median_hz: float) -> np.ndarray:
    """Each stretch of one vowel through its 5-formant cascade; stretches overlap-added."""
    female = float(np.clip((median_hz - 120) / 90, 0, 1))
    formants = np.hstack([(1 - female) * _VOWELS_MALE_HZ + female * _VOWELS_FEMALE_HZ,
                          np.tile([3500.0, 4500.0], (len(_VOWELS_MALE_HZ), 1))])
    out = np.zeros_like(source)
    edges = np.flatnonzero(np.diff(vowel_of, prepend=-2, append=-2))
    ring = int(0.05 * FS_HZ)
    for a, b in itertools.pairwise(edges):
        if vowel_of[a] < 0:
            continue
        r = np.exp(-np.pi * _BANDWIDTHS_HZ / FS_HZ)
        a1 = -2 * r * np.cos(2 * np.pi * formants[vowel_of[a]] / FS_HZ)
        sos = np.column_stack([1 + a1 + r**2, 0 * r, 0 * r, 1 + 0 * r, a1, r**2])
        seg = np.zeros(b - a + ring)
        seg[: b - a] = source[a:b]
        stop = min(a + seg.size, out.size)
        out[a:stop] += sosfilt(sos, seg)[: stop - a]
    return np.diff(out, prepend=0.0)  # lip radiation


def telephone(x: np.ndarray, fs_hz: int, *, snr_db: float = 25.0, seed: int = 0) -> np.ndarray:
    """The line: 300–3400 Hz band-pass, 8 kHz, noise at ``snr_db``, G.711 μ-law; -26 dBov."""
    sos = butter(4, [300, 3400], "bandpass", fs=fs_hz, output="sos")
    y = resample(sosfilt(sos, x), fs_hz, 8000)
    y *= 10 ** ((-26 - active_speech_level_dbfs(y, 8000)) / 20)
    rng = np.random.default_rng(seed)
    noise = sosfilt(butter(4, [300, 3400], "bandpass", fs=8000, output="sos"),
                    rng.standard_normal(y.size))
    y += noise * 10 ** ((-26 - snr_db) / 20) / np.std(noise)
    pcm = np.clip(np.round(y * 32768), -32768, 32767).astype(np.int16)
    return ulaw_decode(ulaw_encode(pcm)) / 32768.0
