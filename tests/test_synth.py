"""Synthetic signals deliver the levels, spectra, pitch and rhythm they promise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import find_peaks, hilbert

from capture.levels import P_REF_PA, active_speech_level_dbfs
from capture.synth import (
    HOLD_MUSIC_STYLES,
    am_tone,
    fm_tone,
    hold_music,
    narrowband_noise,
    pink_noise,
    speech_like,
    tone,
)


def level_db_spl(p_pa: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(p_pa**2)) / P_REF_PA)


def band_power(x: np.ndarray, fs_hz: float, low_hz: float, high_hz: float) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    freq_hz = np.fft.rfftfreq(x.size, 1 / fs_hz)
    return float(power[(freq_hz >= low_hz) & (freq_hz < high_hz)].sum())


def frames(x: np.ndarray, fs_hz: float, frame_s: float) -> np.ndarray:
    size = round(frame_s * fs_hz)
    return x[: x.size // size * size].reshape(-1, size)


# --- tones and noises (Pa) ---------------------------------------------------------------


@pytest.mark.parametrize(("freq_hz", "level"), [(1000, 40.0), (250, 80.0), (4000, 60.0)])
def test_tone_level_and_frequency(freq_hz: float, level: float) -> None:
    p_pa = tone(freq_hz, level, 1.0, 48000)
    assert p_pa.shape == (48000,)
    assert level_db_spl(p_pa) == pytest.approx(level, abs=0.01)
    assert np.abs(p_pa).max() == pytest.approx(np.sqrt(2) * P_REF_PA * 10 ** (level / 20), rel=1e-6)
    assert np.argmax(np.abs(np.fft.rfft(p_pa))) == freq_hz  # 1 Hz bins


@pytest.mark.parametrize(("depth", "sideband_db"), [(1.0, -6.02), (0.5, -12.04)])
def test_am_tone_level_and_sidebands(depth: float, sideband_db: float) -> None:
    p_pa = am_tone(1000, 70, 60.0, 1.0, 48000, depth=depth)
    assert level_db_spl(p_pa) == pytest.approx(60.0, abs=0.01)
    spectrum = np.abs(np.fft.rfft(p_pa))
    # Each sideband has amplitude m/2 relative to the carrier.
    assert 20 * np.log10(spectrum[930] / spectrum[1000]) == pytest.approx(sideband_db, abs=0.01)
    assert 20 * np.log10(spectrum[1070] / spectrum[1000]) == pytest.approx(sideband_db, abs=0.01)


def test_am_tone_envelope_follows_the_modulation() -> None:
    p_pa = am_tone(1000, 4, 60.0, 2.0, 48000, depth=1.0)
    envelope = np.abs(hilbert(p_pa))[4800:-4800]
    assert envelope.min() / envelope.max() < 0.02  # full modulation reaches zero


def test_fm_tone_level_and_frequency_swing() -> None:
    fs_hz = 48000
    p_pa = fm_tone(1000, 4, 200, 70.0, 1.0, fs_hz)
    assert level_db_spl(p_pa) == pytest.approx(70.0, abs=0.01)
    inst_freq_hz = np.diff(np.unwrap(np.angle(hilbert(p_pa)))) * fs_hz / (2 * np.pi)
    inner = inst_freq_hz[2000:-2000]
    assert inner.max() == pytest.approx(1200, abs=5)
    assert inner.min() == pytest.approx(800, abs=5)


def test_narrowband_noise_level_band_and_seed() -> None:
    fs_hz = 48000
    p_pa = narrowband_noise(1000, 160, 60.0, 2.0, fs_hz, seed=3)
    assert level_db_spl(p_pa) == pytest.approx(60.0, abs=0.01)
    in_band = band_power(p_pa, fs_hz, 920, 1080.5)
    assert in_band / band_power(p_pa, fs_hz, 0, fs_hz / 2) > 0.999999
    np.testing.assert_array_equal(p_pa, narrowband_noise(1000, 160, 60.0, 2.0, fs_hz, seed=3))
    assert not np.allclose(p_pa, narrowband_noise(1000, 160, 60.0, 2.0, fs_hz, seed=4))


def test_pink_noise_has_equal_power_per_octave() -> None:
    fs_hz = 48000
    p_pa = pink_noise(60.0, 10.0, fs_hz, seed=1)
    assert level_db_spl(p_pa) == pytest.approx(60.0, abs=0.01)
    octaves_db = [
        10 * np.log10(band_power(p_pa, fs_hz, low, 2 * low))
        for low in (125, 250, 500, 1000, 2000, 4000, 8000)
    ]
    assert max(octaves_db) - min(octaves_db) < 0.5
    assert band_power(p_pa, fs_hz, 0, 19) < 1e-20 * band_power(p_pa, fs_hz, 20, 40)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: tone(5000, 60, 1.0, 8000), "half the sample rate 8000 Hz"),
        (lambda: tone(1000, 60, -1.0, 8000), "duration_s must be a positive"),
        (lambda: tone(1000, 60, 1.0, 0), "fs_hz must be a positive"),
        (lambda: am_tone(1000, 70, 60, 1.0, 48000, depth=1.5), "depth must be between 0 and 1"),
        (lambda: fm_tone(3800, 4, 300, 60, 1.0, 8000), "FM tone's swing"),
        (lambda: narrowband_noise(1005, 0.1, 60, 0.1, 8000), "holds no frequency bin"),
        (lambda: speech_like(1.0, 8000, f0_hz=20), "50–500 Hz"),
        (lambda: hold_music(1.0, 8000, style="jazz"), "style must be one of"),
        (lambda: hold_music(1.0, 8000, dynamics=2), "dynamics must be within 0-1"),
    ],
)
def test_impossible_requests_say_why(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# --- speech_like (digital full scale) -----------------------------------------------------


def median_f0_hz(x: np.ndarray, fs_hz: float) -> float:
    """Median autocorrelation pitch over the loudest 30 % of 40 ms frames."""
    frame = frames(x, fs_hz, 0.04)
    energy = np.mean(frame**2, axis=1)
    shortest, longest = int(fs_hz / 400), int(fs_hz / 60)
    estimates = []
    for f in frame[energy > np.percentile(energy, 70)]:
        f = f - f.mean()
        autocorrelation = np.correlate(f, f, "full")[f.size - 1 :]
        estimates.append(fs_hz / (shortest + np.argmax(autocorrelation[shortest:longest])))
    return float(np.median(estimates))


def nuclei_per_s(x: np.ndarray, fs_hz: float) -> float:
    """Syllable nuclei per second: prominent peaks of the 10 ms level contour."""
    level_db = 10 * np.log10(np.mean(frames(x, fs_hz, 0.01) ** 2, axis=1) + 1e-12)
    level_db = np.convolve(level_db, np.ones(3) / 3, "same")
    peaks, _ = find_peaks(level_db, prominence=6, distance=8, height=level_db.max() - 30)
    return peaks.size / (x.size / fs_hz)


@pytest.fixture(scope="module")
def calm() -> np.ndarray:
    return speech_like(30.0, 8000, f0_hz=180, seed=0)


@pytest.fixture(scope="module")
def agitated() -> np.ndarray:
    return speech_like(30.0, 8000, f0_hz=180, seed=0, agitated=True)


def test_speech_has_the_requested_active_level(calm: np.ndarray) -> None:
    assert calm.shape == (240000,)
    assert active_speech_level_dbfs(calm, 8000) == pytest.approx(-26.0, abs=0.1)
    # An independent, cruder measure: mean power over 20 ms frames above -60 dBFS.
    frame_power = np.mean(frames(calm, 8000, 0.02) ** 2, axis=1)
    gated_dbfs = 10 * np.log10(frame_power[frame_power > 1e-6].mean())
    assert gated_dbfs == pytest.approx(-26.0, abs=1.0)


@pytest.mark.parametrize("level_dbfs", [-36.0, -20.0])
def test_speech_level_is_adjustable(level_dbfs: float) -> None:
    x = speech_like(10.0, 16000, seed=2, level_dbfs=level_dbfs)
    assert active_speech_level_dbfs(x, 16000) == pytest.approx(level_dbfs, abs=0.1)
    assert np.abs(x).max() < 1.0


@pytest.mark.parametrize(("f0_hz", "fs_hz"), [(120.0, 8000), (180.0, 16000), (220.0, 44100)])
def test_speech_pitch_is_near_the_requested_f0(f0_hz: float, fs_hz: int) -> None:
    x = speech_like(15.0, fs_hz, f0_hz=f0_hz, seed=1)
    assert abs(12 * np.log2(median_f0_hz(x, fs_hz) / f0_hz)) < 1.0  # within a semitone


def test_speech_has_pauses_between_phrases(calm: np.ndarray) -> None:
    frame_power = np.mean(frames(calm, 8000, 0.02) ** 2, axis=1)
    silent = frame_power < 10 ** (-70 / 10)
    assert 0.12 < silent.mean() < 0.45
    assert 2.8 < nuclei_per_s(calm, 8000) < 4.2  # ~4.5 syllables/s while talking


def test_agitated_speech_is_higher_louder_faster_brighter(
    calm: np.ndarray, agitated: np.ndarray
) -> None:
    semitones_up = 12 * np.log2(median_f0_hz(agitated, 8000) / median_f0_hz(calm, 8000))
    assert semitones_up == pytest.approx(4.0, abs=1.0)
    assert active_speech_level_dbfs(agitated, 8000) == pytest.approx(-20.0, abs=0.1)
    assert nuclei_per_s(agitated, 8000) > 1.2 * nuclei_per_s(calm, 8000)

    def tilt_db(x: np.ndarray) -> float:
        return 10 * np.log10(band_power(x, 8000, 2000, 3400) / band_power(x, 8000, 100, 1000))

    assert tilt_db(agitated) > tilt_db(calm) + 5.0


def test_speech_is_deterministic_for_a_seed(calm: np.ndarray) -> None:
    np.testing.assert_array_equal(speech_like(30.0, 8000, f0_hz=180, seed=0), calm)
    other = speech_like(30.0, 8000, f0_hz=180, seed=1)
    assert np.corrcoef(other, calm)[0, 1] < 0.5


@pytest.mark.parametrize(("duration_s", "fs_hz"), [(1.0, 8000), (0.5, 44100), (2.37, 48000)])
def test_speech_has_the_requested_length(duration_s: float, fs_hz: int) -> None:
    assert speech_like(duration_s, fs_hz).shape == (round(duration_s * fs_hz),)


@pytest.mark.parametrize("duration_s", [0.001, 0.04])
def test_speech_shorter_than_the_first_syllable_is_silence(duration_s: float) -> None:
    x = speech_like(duration_s, 8000)
    assert x.shape == (round(duration_s * 8000),)
    assert not x.any()


# --- hold_music (digital full scale) -----------------------------------------------------


@pytest.mark.parametrize("style", HOLD_MUSIC_STYLES)
def test_hold_music_has_its_level_notes_and_no_pauses(style: str) -> None:
    x = hold_music(12.0, 16000, style=style, level_dbfs=-22.0, seed=3)
    assert x.size == 12 * 16000
    assert 20 * np.log10(np.sqrt(np.mean(x**2))) == pytest.approx(-22.0, abs=0.01)
    assert np.array_equal(x, hold_music(12.0, 16000, style=style, level_dbfs=-22.0, seed=3))
    assert not np.array_equal(x, hold_music(12.0, 16000, style=style, level_dbfs=-22.0, seed=4))
    # music is continuous: no 100 ms frame falls 30 dB below the median (speech pauses do)
    level = 10 * np.log10(np.mean(frames(x, 16000, 0.1) ** 2, axis=1))
    assert level.min() > np.median(level) - 30
    # notes: the spectrum of 1 s holds sharp peaks (partials), not a smooth slope
    spectrum = np.abs(np.fft.rfft(x[16000:32000] * np.hanning(16000)))
    peaks, _ = find_peaks(20 * np.log10(spectrum + 1e-9), prominence=20)
    assert peaks.size >= 5


def test_hold_music_dynamics_levels_or_keeps_the_swell() -> None:
    def spread_db(dynamics: float) -> float:
        x = hold_music(16.0, 16000, style="strings", dynamics=dynamics, seed=1)
        level = 10 * np.log10(np.mean(frames(x, 16000, 0.05) ** 2, axis=1))
        return float(np.percentile(level, 90) - np.percentile(level, 10))

    assert spread_db(0.0) < spread_db(1.0) - 2.0
