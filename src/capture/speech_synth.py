"""A source–filter voice for tests and examples: calm or agitated, with known answers.

Use it through :func:`capture.synth.speech_like`. It is the voice source of the call
simulator (:mod:`capture.simulator`: two parties, channels, codecs, noise).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from capture.levels import active_speech_level_dbfs
from capture.resample import resample

__all__ = ["SpeakingStyle", "speech_like"]

_VOICE_FS_HZ = 16000
"""Voiced sounds are synthesised at this rate, then resampled, so every output rate gets
the same voice (band-limited below 7.3 kHz, free of aliasing); fricatives use the full band."""

# Peterson & Barney (1952) vowel formants F1–F3 in Hz, averages of men and of women,
# for /ɑ/ /i/ /u/ /ɛ/ /ɔ/ /æ/.
_VOWELS_MALE_HZ = np.array(
    [
        [730, 1090, 2440],
        [270, 2290, 3010],
        [300, 870, 2240],
        [530, 1840, 2480],
        [570, 840, 2410],
        [660, 1720, 2410],
    ],
    dtype=float,
)
_VOWELS_FEMALE_HZ = np.array(
    [
        [850, 1220, 2810],
        [310, 2790, 3310],
        [370, 950, 2670],
        [610, 2330, 2990],
        [590, 920, 2710],
        [860, 2050, 2850],
    ],
    dtype=float,
)
# Fixed higher formants F4–F6 (men, women): without them an all-pole cascade falls far
# too steeply above F3 (the job of Klatt's "higher-pole correction").
_HIGHER_MALE_HZ = np.array([3300, 4400, 5500], dtype=float)
_HIGHER_FEMALE_HZ = np.array([3900, 5000, 6200], dtype=float)
_FORMANT_BANDWIDTHS_HZ = np.array([80.0, 100.0, 140.0, 250.0, 350.0, 500.0])
_TRANSITION_S = 0.06  # formant transition from the previous vowel
_RING_S = 0.06  # resonators ring out for this long after a syllable (bandwidth ≥ 80 Hz)
_CONTROL_S = 0.005  # F0 contour control period
_ROSENBERG_OPENING = 0.40  # opening phase Tp, fraction of a glottal period


@dataclass(frozen=True)
class SpeakingStyle:
    """How :func:`speech_like` speaks; the defaults are its calm voice.

    Attributes
    ----------
    f0_shift_st : float
        F0 above ``f0_hz``, semitones.
    gain_db : float
        Active level above ``level_dbfs``, dB.
    syllable_rate_hz : float
        Mean syllables per second within a phrase.
    pause_s : tuple of float
        Range of the pauses between phrases, s.
    accent_st : float
        Standard deviation of the random syllable accents, semitones.
    closing : float
        Rosenberg closing phase Tn, fraction of a period (opening is 0.40): shorter is
        brighter and more pressed, longer is softer.
    emphasis : float
        First-difference high-frequency emphasis e, y[n] = x[n] + e·(x[n] − x[n−1]);
        negative values tilt the spectrum down.
    f0_range : float
        Scale of phrase declination (±1.5 st) and slow F0 drift; with ``accent_st`` it
        sets how much F0 moves.
    """

    f0_shift_st: float = 0.0
    gain_db: float = 0.0
    syllable_rate_hz: float = 4.5
    pause_s: tuple[float, float] = (0.25, 0.70)
    accent_st: float = 1.0
    closing: float = 0.16
    emphasis: float = 0.0
    f0_range: float = 1.0


_CALM = SpeakingStyle()
_AGITATED = SpeakingStyle(4.0, 6.0, 5.6, (0.12, 0.35), 1.8, 0.08, 0.8)


def speech_like(
    duration_s: float,
    fs_hz: float,
    *,
    f0_hz: float = 180.0,
    seed: int = 0,
    agitated: bool = False,
    level_dbfs: float = -26.0,
    style: SpeakingStyle | None = None,
    formant_scale: float = 1.0,
) -> np.ndarray:
    """A plausible source–filter voice, calm or agitated, in digital full scale.

    A Rosenberg glottal pulse train (flow derivative, with jitter and shimmer) follows a
    wandering F0 contour — declination over each phrase, random syllable accents, slow
    drift — through a cascade of formant resonators set, syllable by syllable, to vowel
    targets (Peterson & Barney), with formant transitions between them. Syllables come
    at about 4.5 per second in phrases of 4–9, separated by pauses; some begin with a
    fricative noise burst, and aspiration noise rides on the voicing. It is not speech,
    but it has speech's level statistics, pitch, rhythm and spectral shape, with known
    answers. Voiced sounds are synthesised at 16 kHz and resampled, so at higher rates
    only fricative noise lies above about 7.3 kHz.

    ``agitated=True`` raises F0 by 4 semitones and the level by 6 dB, speeds speaking up
    to about 5.6 syllables per second with shorter pauses and livelier accents, and tilts
    the spectrum towards high frequencies (faster glottal closure, emphasis). ``style``
    sets all of these directly instead (the call simulator's voices use it).

        The call simulator (:mod:`capture.simulator`) is built on this voice.  Parameters
    ----------
    duration_s, fs_hz : float
        Length in seconds and sample rate in Hz (8 kHz telephone and up).
    f0_hz : float
        Median fundamental frequency of the calm voice in Hz, 50–500.
    seed : int
        Random seed; the same arguments give the same samples.
    agitated : bool
        Speak as described above instead of calmly.
    level_dbfs : float
        Active speech level (ITU-T P.56) of the calm voice in dBFS (RMS re full scale,
        i.e. dBov); agitated speech is 6 dB above it. Pauses are digital silence.
    style : SpeakingStyle, optional
        How to speak, instead of ``agitated``; the level is ``level_dbfs + style.gain_db``.
    formant_scale : float
        Factor on all formant frequencies (a shorter vocal tract above 1), 0.8–1.2.

    Returns
    -------
    numpy.ndarray
        Digital samples (full scale ±1.0), shaped ``(samples,)``; clipped at ±1.0 should
        the requested level push peaks past full scale.
    """
    if not fs_hz > 0 or not math.isfinite(fs_hz):
        raise ValueError(f"fs_hz must be a positive sample rate in Hz, got {fs_hz!r}")
    if not duration_s > 0 or not math.isfinite(duration_s):
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    if not 50 <= f0_hz <= 500:
        raise ValueError(f"f0_hz should be a voice's 50–500 Hz, got {f0_hz!r}")
    if style is not None and agitated:
        raise ValueError("give either agitated=True or a style, not both")
    if not 0.8 <= formant_scale <= 1.2:
        raise ValueError(f"formant_scale should be 0.8–1.2, got {formant_scale!r}")
    n = round(duration_s * fs_hz)
    if style is None:
        style = _AGITATED if agitated else _CALM
    rng = np.random.default_rng(seed)
    plan = _syllable_plan(n / fs_hz, style, rng)
    if plan.size == 0:  # shorter than the silence before the first syllable
        return np.zeros(n)

    n_voice = math.ceil(n * _VOICE_FS_HZ / fs_hz)
    voice = _voiced_sounds(plan, n_voice, f0_hz, style, rng, formant_scale)
    if fs_hz != _VOICE_FS_HZ:
        voice = resample(voice, _VOICE_FS_HZ, fs_hz)
    voice = np.pad(voice[:n], (0, max(0, n - voice.size)))
    voice += _fricatives(_frication_envelope(plan, n, fs_hz), fs_hz, rng)
    voice = sosfilt(butter(2, 70, "highpass", fs=fs_hz, output="sos"), voice)
    return _set_active_level(voice, fs_hz, level_dbfs + style.gain_db)


def _syllable_plan(duration_s: float, style: SpeakingStyle, rng: np.random.Generator) -> np.ndarray:
    """Rows of (start_s, length_s, vowel, fricative onset, accent_st, phrase position, gain)."""
    rows = []
    t_s = rng.uniform(0.05, 0.2)
    while t_s < duration_s:
        n_syllables = int(rng.integers(4, 10))
        for k in range(n_syllables):
            final = k == n_syllables - 1
            length_s = rng.uniform(0.75, 1.25) / style.syllable_rate_hz * (1.35 if final else 1)
            rows.append(
                (
                    t_s,
                    length_s,
                    rng.integers(len(_VOWELS_MALE_HZ)),
                    rng.random() < 0.45,
                    rng.normal(0, style.accent_st),
                    k / (n_syllables - 1),
                    rng.uniform(0.6, 1.0) * (0.75 if final else 1.0),
                )
            )
            t_s += length_s
        t_s += rng.uniform(*style.pause_s)
    return np.array(rows, dtype=float)


@dataclass(frozen=True)
class _Syllable:
    span: slice  # samples of the syllable
    t_s: np.ndarray  # time since its start, per sample
    length_s: float
    vowel: int
    fricative: bool  # starts with a fricative (else with a weak voiced onset)
    phrase_position: float  # 0 first … 1 last in its phrase
    gain: float


def _syllables(plan: np.ndarray, n: int, fs_hz: float) -> Iterator[_Syllable]:
    """The syllables of ``plan`` that start within ``n`` samples at ``fs_hz``."""
    for start_s, length_s, vowel, fricative, _, position, gain in plan:
        first, last = round(start_s * fs_hz), min(round((start_s + length_s) * fs_hz), n)
        if first >= n:
            return
        yield _Syllable(
            slice(first, last),
            np.arange(last - first) / fs_hz,
            length_s,
            int(vowel),
            bool(fricative),
            position,
            gain,
        )


def _voicing_envelope(plan: np.ndarray, n: int, fs_hz: float) -> np.ndarray:
    """Vowel nuclei with 25 ms attacks and 40 ms releases; non-fricative onsets voiced weakly."""
    voicing = np.zeros(n)
    for syllable in _syllables(plan, n, fs_hz):
        t_s, onset_s = syllable.t_s, 0.3 * syllable.length_s
        rise = np.clip((t_s - onset_s if syllable.fricative else t_s) / 0.025, 0, 1)
        fall = np.clip((syllable.length_s - t_s) / 0.04, 0, 1)
        shape = np.sin(0.5 * np.pi * np.minimum(rise, fall)) ** 2
        if not syllable.fricative:  # a voiced, nasal-like onset before the vowel
            shape *= np.where(t_s < onset_s, 0.35, 1.0)
        voicing[syllable.span] = syllable.gain * shape
    return voicing


def _frication_envelope(plan: np.ndarray, n: int, fs_hz: float) -> np.ndarray:
    """Half-sine noise bursts over the first 30 % of syllables with a fricative onset."""
    frication = np.zeros(n)
    for syllable in _syllables(plan, n, fs_hz):
        if syllable.fricative:
            onset_s = 0.3 * syllable.length_s
            burst = np.sin(np.pi * np.clip(syllable.t_s / onset_s, 0, 1))
            frication[syllable.span] = syllable.gain * burst
    return frication


def _voiced_sounds(
    plan: np.ndarray,
    n: int,
    f0_hz: float,
    style: SpeakingStyle,
    rng: np.random.Generator,
    formant_scale: float = 1.0,
) -> np.ndarray:
    """Glottal source and aspiration through the formant cascade, at ``_VOICE_FS_HZ``."""
    voicing = _voicing_envelope(plan, n, _VOICE_FS_HZ)
    f0 = _f0_contour_hz(plan, n, f0_hz * 2 ** (style.f0_shift_st / 12), rng, style.f0_range)
    source = _glottal_source(f0, style.closing, rng) * voicing
    source += 0.06 * rng.standard_normal(n) * voicing  # aspiration
    male_to_female = float(np.clip((f0_hz - 120) / 90, 0, 1))
    voice = _vocal_tract(source, plan, male_to_female, formant_scale)
    if style.emphasis:
        voice[1:] += style.emphasis * np.diff(voice)
    return voice


def _f0_contour_hz(
    plan: np.ndarray, n: int, base_hz: float, rng: np.random.Generator, f0_range: float = 1.0
) -> np.ndarray:
    """F0 in Hz per sample: accents and phrase declination at syllable centres, slow drift."""
    centres_s = plan[:, 0] + plan[:, 1] / 2
    # declination: +1.5 → −1.5 st per phrase (times f0_range)
    semitones = plan[:, 4] + f0_range * (1.5 - 3.0 * plan[:, 5])
    control_s = np.arange(0.0, n / _VOICE_FS_HZ + _CONTROL_S, _CONTROL_S)
    contour_st = np.interp(control_s, centres_s, semitones)
    rates_hz, phases = rng.uniform(0.1, 0.6, 3), rng.uniform(0, 2 * np.pi, 3)
    drift = np.sin(2 * np.pi * rates_hz[:, None] * control_s + phases[:, None]).sum(axis=0)
    f0_control_hz = base_hz * 2 ** ((contour_st + 0.4 * f0_range * drift) / 12)
    return np.interp(np.arange(n) / _VOICE_FS_HZ, control_s, f0_control_hz)


def _glottal_source(f0_hz: np.ndarray, closing: float, rng: np.random.Generator) -> np.ndarray:
    """Rosenberg glottal-flow derivative with cycle-to-cycle jitter (0.6 %) and shimmer (4 %)."""
    cycles = np.cumsum(f0_hz / _VOICE_FS_HZ).astype(int)
    jitter = 1 + 0.006 * rng.standard_normal(cycles[-1] + 2)
    phase = np.cumsum(f0_hz * jitter[cycles] / _VOICE_FS_HZ)
    cycle = phase.astype(int)
    shimmer = 1 + 0.04 * rng.standard_normal(cycle[-1] + 1)
    theta = phase - cycle
    opening = _ROSENBERG_OPENING
    # Rosenberg flow: ½(1 − cos πθ/Tp) while opening, cos(π(θ − Tp)/2Tn) while closing,
    # zero while closed; its derivative excites the tract (lip radiation included).
    flow_derivative = np.zeros_like(theta)
    rising = theta < opening
    falling = ~rising & (theta < opening + closing)
    flow_derivative[rising] = (np.pi / (2 * opening)) * np.sin(np.pi * theta[rising] / opening)
    flow_derivative[falling] = -(np.pi / (2 * closing)) * np.sin(
        0.5 * np.pi * (theta[falling] - opening) / closing
    )
    return flow_derivative * shimmer[cycle] / np.pi


def _vowel_filters(male_to_female: float, formant_scale: float = 1.0) -> np.ndarray:
    """Formant cascades per vowel, shaped (vowels, formants, 6) second-order sections.

    Each formant is a two-pole resonator with unity gain at DC (Klatt's cascade).
    """
    n_vowels = len(_VOWELS_MALE_HZ)
    male = np.hstack([_VOWELS_MALE_HZ, np.tile(_HIGHER_MALE_HZ, (n_vowels, 1))])
    female = np.hstack([_VOWELS_FEMALE_HZ, np.tile(_HIGHER_FEMALE_HZ, (n_vowels, 1))])
    formants_hz = ((1 - male_to_female) * male + male_to_female * female) * formant_scale
    r = np.exp(-np.pi * _FORMANT_BANDWIDTHS_HZ / _VOICE_FS_HZ)
    a1 = -2 * r * np.cos(2 * np.pi * formants_hz / _VOICE_FS_HZ)
    a2 = np.broadcast_to(r**2, a1.shape)
    sos = np.zeros((*a1.shape, 6))
    sos[..., 0] = 1 + a1 + a2
    sos[..., 3], sos[..., 4], sos[..., 5] = 1.0, a1, a2
    return sos


def _vocal_tract(
    source: np.ndarray, plan: np.ndarray, male_to_female: float, formant_scale: float = 1.0
) -> np.ndarray:
    """Filter each syllable through its vowel's formants and overlap-add the results.

    Within a phrase, a syllable's first 60 ms cross-fade from the previous vowel's
    formants to its own (a formant transition). Fixed filters per syllable, rather than
    retuning one filter as it runs, avoid the transients that retuning a resonant filter
    with its state causes.
    """
    sos = _vowel_filters(male_to_female, formant_scale)
    out = np.zeros_like(source)
    tail = round(_RING_S * _VOICE_FS_HZ)
    previous = None
    for syllable in _syllables(plan, source.size, _VOICE_FS_HZ):
        segment = np.zeros(syllable.span.stop - syllable.span.start + tail)
        segment[: len(syllable.t_s)] = source[syllable.span]
        voiced = sosfilt(sos[syllable.vowel], segment)
        if previous is not None and syllable.phrase_position > 0:
            t_s = np.arange(segment.size) / _VOICE_FS_HZ
            weight = np.clip(1 - t_s / _TRANSITION_S, 0, 1)
            voiced += weight * (sosfilt(sos[previous], segment) - voiced)
        stop = min(syllable.span.start + segment.size, source.size)
        out[syllable.span.start : stop] += voiced[: stop - syllable.span.start]
        previous = syllable.vowel
    return out


def _fricatives(envelope: np.ndarray, fs_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Band-pass noise under ``envelope``: 3.5–9 kHz, or 0.3–0.45·fs at low rates."""
    low_hz, high_hz = min(0.3 * fs_hz, 3500.0), min(0.45 * fs_hz, 9000.0)
    sos = butter(2, [low_hz, high_hz], "bandpass", fs=fs_hz, output="sos")
    return 0.25 * sosfilt(sos, rng.standard_normal(envelope.size)) * envelope


def _set_active_level(x: np.ndarray, fs_hz: float, level_dbfs: float) -> np.ndarray:
    # Start near the target so that one P.56 measurement suffices: P.56's thresholds are
    # absolute, but from there its result follows the gain to within thousandths of a dB.
    rms = float(np.sqrt(np.mean(x**2)))
    if rms == 0.0:
        return x
    x = x * (10 ** (level_dbfs / 20) / rms)
    measured_dbfs = active_speech_level_dbfs(x, fs_hz)
    if math.isfinite(measured_dbfs):
        x *= 10 ** ((level_dbfs - measured_dbfs) / 20)
    return np.clip(x, -1.0, 1.0)
