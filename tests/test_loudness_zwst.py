"""ISO 532-1:2017 stationary loudness: known answers, Annex B.2/B.3 references, streams."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from emotion.psychoacoustics import (
    BARK_AXIS,
    THIRD_OCTAVE_CENTRES_HZ,
    loudness_zwst,
    loudness_zwst_third_octave,
)
from emotion.psychoacoustics._zwicker_core import (
    core_loudness_from_third_octave_levels,
    specific_loudness_from_core_loudness,
    specific_loudness_from_third_octave_levels,
)

FS_HZ = 48000
ISO_PA_PER_FS = 2.0 * np.sqrt(2.0)  # README: digital 1.0 = 2·√2 Pa peak (100 dB sine)
STATIONARY_FILES = {
    2: ("Test signal 2 (250 Hz 80 dB).wav", 14.655),
    3: ("Test signal 3 (1 kHz 60 dB).wav", 4.019),
    4: ("Test signal 4 (4 kHz 40 dB).wav", 1.549),
    5: ("Test signal 5 (pinknoise 60 dB).wav", 10.498),
}


def tone_pa(freq_hz: float, level_db_spl: float, duration_s: float = 2.0, fs_hz=FS_HZ):
    t = np.arange(int(duration_s * fs_hz)) / fs_hz
    return np.sqrt(2.0) * 2e-5 * 10 ** (level_db_spl / 20) * np.sin(2 * np.pi * freq_hz * t)


def read_iso_wav(path) -> tuple[np.ndarray, int]:
    pcm, fs = sf.read(path, dtype="int16")
    return pcm / 32767.0 * ISO_PA_PER_FS, fs


def within_iso_tolerance(value, reference, rel=0.05, abs_=0.1):
    """ISO 532-1 5.1: within ±5 % or ±0.1 (sone or sone/Bark), whichever is wider."""
    return np.abs(np.asarray(value) - reference) <= np.maximum(rel * np.abs(reference), abs_)


def load_reference_spec(data, signal: int) -> np.ndarray:
    path = data / "iso532_1" / "stationary" / f"test_signal_{signal}_specific_loudness_ref.csv"
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 0], BARK_AXIS)
    return table[:, 1]


# --- Known answers without data ------------------------------------------------------


def test_1khz_40db_free_field_is_one_sone():
    N, N_spec, bark_axis = loudness_zwst(tone_pa(1000, 40), FS_HZ)
    assert N == pytest.approx(1.0, rel=0.05)
    assert N_spec.shape == (240,) and bark_axis.shape == (240,)
    assert bark_axis[np.argmax(N_spec)] == pytest.approx(8.5, abs=0.5)  # 1 kHz ≈ 8.5 Bark


def test_1khz_60db_is_four_sone():
    N, _, _ = loudness_zwst(tone_pa(1000, 60), FS_HZ)
    assert N == pytest.approx(4.0, rel=0.05)


def test_loudness_doubles_per_10_phon_at_1khz():
    n50, _, _ = loudness_zwst(tone_pa(1000, 50), FS_HZ)
    n60, _, _ = loudness_zwst(tone_pa(1000, 60), FS_HZ)
    assert n60 / n50 == pytest.approx(2.0, rel=0.05)


def test_telephone_rate_signal_is_resampled():
    """An 8 kHz tone gives the loudness of the same tone at 48 kHz."""
    n8, _, _ = loudness_zwst(tone_pa(1000, 60, fs_hz=8000), 8000)
    n48, _, _ = loudness_zwst(tone_pa(1000, 60), FS_HZ)
    assert n8 == pytest.approx(n48, rel=0.01)


def test_bands_above_nyquist_at_minus_60_db_contribute_nothing():
    levels = np.full(28, -60.0)
    levels[:20] = np.linspace(30, 70, 20)
    silent = levels.copy()
    silent[THIRD_OCTAVE_CENTRES_HZ > 4000] = -300.0
    n_a, spec_a = specific_loudness_from_third_octave_levels(levels)
    n_b, spec_b = specific_loudness_from_third_octave_levels(silent)
    assert n_a == n_b
    np.testing.assert_array_equal(spec_a, spec_b)


def test_silence_is_zero_sone():
    N, N_spec, _ = loudness_zwst(np.zeros(FS_HZ), FS_HZ)
    assert N == 0.0
    assert not N_spec.any()


def test_diffuse_field_adds_table_a5_level_difference():
    """At 1 kHz (critical band 9) ΔL_DF = +3 dB: diffuse 60 dB equals free 63 dB."""
    levels = np.full(28, -60.0)
    levels[THIRD_OCTAVE_CENTRES_HZ == 1000] = 60.0
    n_diffuse, spec_diffuse = specific_loudness_from_third_octave_levels(levels, "diffuse")
    levels[THIRD_OCTAVE_CENTRES_HZ == 1000] = 63.0
    n_free, spec_free = specific_loudness_from_third_octave_levels(levels, "free")
    assert n_diffuse == pytest.approx(n_free, rel=1e-12)
    np.testing.assert_allclose(spec_diffuse, spec_free, rtol=1e-12)


def test_core_then_slopes_equals_one_pass():
    rng = np.random.default_rng(7)
    levels = rng.uniform(-20, 100, (500, 28))
    n_two, spec_two = specific_loudness_from_core_loudness(
        core_loudness_from_third_octave_levels(levels)
    )
    n_one, spec_one = specific_loudness_from_third_octave_levels(levels)
    np.testing.assert_array_equal(n_one, n_two)
    np.testing.assert_array_equal(spec_one, spec_two)


def test_total_loudness_is_integral_of_specific_loudness():
    rng = np.random.default_rng(3)
    N, N_spec = specific_loudness_from_third_octave_levels(rng.uniform(20, 90, (50, 28)))
    np.testing.assert_allclose(N, N_spec.sum(axis=-1) * 0.1, rtol=0.02)


def test_streams_give_the_same_as_each_alone():
    a = tone_pa(1000, 60)
    b = tone_pa(250, 70) + tone_pa(4000, 45)
    N, N_spec, _ = loudness_zwst(np.stack([a, b]), FS_HZ)
    assert N.shape == (2,) and N_spec.shape == (2, 240)
    for i, x in enumerate((a, b)):
        n_alone, spec_alone, _ = loudness_zwst(x, FS_HZ)
        assert N[i] == n_alone
        np.testing.assert_array_equal(N_spec[i], spec_alone)


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="field_type"):
        loudness_zwst(tone_pa(1000, 60), FS_HZ, field_type="near")
    with pytest.raises(ValueError, match="28"):
        loudness_zwst_third_octave(np.zeros(27))
    with pytest.raises(ValueError, match="NaN"):
        loudness_zwst(np.full(FS_HZ, np.nan), FS_HZ)


# --- ISO 532-1 Annex B.2 and B.3 ------------------------------------------------------


@pytest.mark.shared_data
def test_b2_signal_1_from_third_octave_levels(psychoacoustics_data):
    path = psychoacoustics_data / "iso532_1" / "stationary"
    table = np.loadtxt(path / "test_signal_1_third_octave_levels_input.csv", delimiter=",",
                       skiprows=1)
    np.testing.assert_allclose(table[:, 0], THIRD_OCTAVE_CENTRES_HZ)
    N, N_spec, _ = loudness_zwst_third_octave(table[:, 1])
    reference = load_reference_spec(psychoacoustics_data, 1)
    assert within_iso_tolerance(N, 83.296)
    assert N == pytest.approx(83.296, rel=1e-4)  # the reference program's own value
    assert np.all(within_iso_tolerance(N_spec, reference))


@pytest.mark.shared_data
@pytest.mark.parametrize("signal", sorted(STATIONARY_FILES))
def test_b3_signals_2_to_5(psychoacoustics_data, signal):
    name, n_reference = STATIONARY_FILES[signal]
    x, fs = read_iso_wav(psychoacoustics_data / "iso532_1" / "stationary" / name)
    reference = load_reference_spec(psychoacoustics_data, signal)
    N, N_spec, _ = loudness_zwst(x, fs)
    assert within_iso_tolerance(N, n_reference), (N, n_reference)
    failing = np.flatnonzero(~within_iso_tolerance(N_spec, reference))
    assert failing.size == 0, f"N' out of tolerance at z = {BARK_AXIS[failing]} Bark"


@pytest.mark.shared_data
@pytest.mark.parametrize("signal", sorted(STATIONARY_FILES))
def test_b3_reference_program_time_skip_reproduces_iso_values(psychoacoustics_data, signal):
    """Averaging from 0.2 s on, as the reference run did, gives ISO's N to 0.05 %."""
    name, n_reference = STATIONARY_FILES[signal]
    x, fs = read_iso_wav(psychoacoustics_data / "iso532_1" / "stationary" / name)
    N, N_spec, _ = loudness_zwst(x, fs, time_skip_s=0.2)
    assert N == pytest.approx(n_reference, rel=5e-4)
    reference = load_reference_spec(psychoacoustics_data, signal)
    np.testing.assert_allclose(N_spec, reference, atol=2e-3)


@pytest.mark.shared_data
def test_b3_signal_3_at_44_1_khz(psychoacoustics_data):
    path = psychoacoustics_data / "iso532_1" / "stationary"
    x, fs = read_iso_wav(path / "Test signal 3 (1 kHz 60 dB)_44100Hz.wav")
    assert fs == 44100
    N, N_spec, _ = loudness_zwst(x, fs)
    assert within_iso_tolerance(N, 4.019)
    assert np.all(within_iso_tolerance(N_spec, load_reference_spec(psychoacoustics_data, 3)))


@pytest.mark.shared_data
def test_b3_signals_as_streams(psychoacoustics_data):
    path = psychoacoustics_data / "iso532_1" / "stationary"
    signals = [read_iso_wav(path / STATIONARY_FILES[k][0])[0] for k in (2, 5)]
    N, N_spec, _ = loudness_zwst(np.stack(signals), FS_HZ)
    for i, x in enumerate(signals):
        n_alone, spec_alone, _ = loudness_zwst(x, FS_HZ)
        assert N[i] == n_alone
        np.testing.assert_array_equal(N_spec[i], spec_alone)
