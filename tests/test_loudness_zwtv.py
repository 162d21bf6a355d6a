"""ISO 532-1:2017 time-varying loudness: Annex B.4/B.5 references, N5/Nmax, temporal stages."""

from __future__ import annotations

import csv
import functools
import re

import numpy as np
import pytest
import soundfile as sf

from conftest import shared_path
from emotion.psychoacoustics import loudness_n5, loudness_nmax, loudness_zwtv
from emotion.psychoacoustics.loudness_zwtv import (
    LEVEL_STEP_S,
    nonlinear_temporal_decay,
    temporal_weighting,
)

FS_HZ = 48000
ISO_PA_PER_FS = 2.0 * np.sqrt(2.0)  # README: digital 1.0 = 2·√2 Pa peak (100 dB sine)
SIGNALS = list(range(6, 26))
B4_SIGNALS = list(range(6, 14))
# ISO's own N(t) traces give N5 (Annex A estimator) that differ from the tabulated N5 by
# more than 5 % for these two pulse signals (+5.3 %, +5.5 %); see test_n5_against_table.
TABLE_N5_NOT_FROM_TRACE = {12, 13}


def tone_pa(freq_hz, level_db_spl, duration_s=1.0, fs_hz=FS_HZ):
    t = np.arange(int(duration_s * fs_hz)) / fs_hz
    return np.sqrt(2.0) * 2e-5 * 10 ** (level_db_spl / 20) * np.sin(2 * np.pi * freq_hz * t)


@functools.cache
def summary() -> dict[int, dict[str, str]]:
    path = shared_path("psychoacoustics", "iso532_1", "reference_summary.csv")
    with open(path, newline="") as f:
        return {int(row["signal"]): row for row in csv.DictReader(f)}


def folder(signal: int):
    annex = "time_varying_B4" if signal <= 13 else "time_varying_B5"
    return shared_path("psychoacoustics", "iso532_1", annex)


@functools.cache
def computed(signal: int):
    """Our N(t), N'(z, t) and time axis for one Annex B signal (computed once per run)."""
    (wav,) = folder(signal).glob(f"Test signal {signal} (*.wav")
    pcm, fs = sf.read(wav, dtype="int16")
    return loudness_zwtv(pcm / 32767.0 * ISO_PA_PER_FS, fs, summary()[signal]["field"])


def reference(path) -> np.ndarray:
    """Columns: time_s, reference, low 5 %, high 5 %, low 10 %, high 10 %."""
    return np.loadtxt(path, delimiter=",", skiprows=1)


def within_band_with_shift(values, low, high):
    """Inside [low, high] at the same time or one 2 ms step earlier or later (6.1)."""
    ok = (values >= low) & (values <= high)
    ok[1:] |= (values[1:] >= low[:-1]) & (values[1:] <= high[:-1])
    ok[:-1] |= (values[:-1] >= low[1:]) & (values[:-1] <= high[1:])
    return ok


def assert_iso_time_tolerance(values, table, what):
    assert values.shape == table[:, 1].shape, what
    in_5 = within_band_with_shift(values, table[:, 2], table[:, 3])
    in_10 = within_band_with_shift(values, table[:, 4], table[:, 5])
    assert in_10.all(), f"{what}: outside ±10 %/±0.2 at t = {table[~in_10, 0][:5]} s"
    assert in_5.mean() >= 0.99, f"{what}: only {in_5.mean():.2%} within ±5 %/±0.1"


def iso_percentile_n5(series) -> float:
    """The reference program's N5 estimator (A.4 f_calc_percentile), for reference traces."""
    ordered = np.sort(series)
    k = int(0.95 * ordered.size)
    return (ordered[k - 1] + ordered[k]) / 2


# --- Annex B.4 and B.5 ----------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize("signal", SIGNALS)
def test_loudness_over_time(signal):
    N, N_spec, bark_axis, time_axis = computed(signal)
    table = reference(folder(signal) / f"test_signal_{signal}_loudness_vs_time_ref.csv")
    np.testing.assert_allclose(time_axis, table[:, 0], atol=1e-9)
    assert N_spec.shape == (240, N.size) and bark_axis.shape == (240,)
    assert_iso_time_tolerance(N, table, f"N(t) of signal {signal}")


@pytest.mark.shared_data
@pytest.mark.parametrize("signal", B4_SIGNALS)
def test_specific_loudness_over_time(signal):
    _, N_spec, bark_axis, _ = computed(signal)
    pattern = f"test_signal_{signal}_specific_loudness_at_*bark_vs_time_ref.csv"
    (path,) = folder(signal).glob(pattern)
    z_bark = float(re.search(r"_at_([\d.]+)bark", path.name).group(1))
    i_z = int(np.argmin(np.abs(bark_axis - z_bark)))
    assert bark_axis[i_z] == pytest.approx(z_bark)
    assert_iso_time_tolerance(N_spec[i_z], reference(path), f"N'({z_bark} Bark) of {signal}")


@pytest.mark.shared_data
@pytest.mark.parametrize("signal", SIGNALS)
def test_nmax_against_table(signal):
    N, _, _, _ = computed(signal)
    assert loudness_nmax(N) == pytest.approx(float(summary()[signal]["Nmax_sone"]), rel=1e-3)


@pytest.mark.shared_data
@pytest.mark.parametrize("signal", SIGNALS)
def test_n5_uses_the_reference_programs_estimator(signal):
    """Our N5 equals the Annex A estimator applied to ISO's own N(t) trace (to 0.1 %)."""
    N, _, _, time_axis = computed(signal)
    table = reference(folder(signal) / f"test_signal_{signal}_loudness_vs_time_ref.csv")
    assert loudness_n5(N, time_axis) == pytest.approx(iso_percentile_n5(table[:, 1]), rel=1e-3)


@pytest.mark.shared_data
@pytest.mark.parametrize("signal", SIGNALS)
def test_n5_against_table(signal):
    """N5 within ±5 % of the tabulated value, or no farther than ISO's own trace is.

    For the 500 ms pulse (12) and the combined pulses (13) no percentile reading of
    ISO's published N(t) gives the tabulated N5 (the trace's Annex A N5 is 5.3 % and
    5.5 % above); there our N5 must be as close to the table as the trace's.
    """
    N, _, _, _ = computed(signal)
    n5_table = float(summary()[signal]["N5_sone"])
    n5 = loudness_n5(N)
    if signal in TABLE_N5_NOT_FROM_TRACE:
        table = reference(folder(signal) / f"test_signal_{signal}_loudness_vs_time_ref.csv")
        allowed = abs(iso_percentile_n5(table[:, 1]) - n5_table) + 1e-3 * n5_table
    else:
        allowed = 0.05 * n5_table
    assert abs(n5 - n5_table) <= allowed, (n5, n5_table)


@pytest.mark.shared_data
def test_streams_give_the_same_as_each_alone():
    (wav_a,) = folder(10).glob("Test signal 10 (*.wav")
    (wav_b,) = folder(13).glob("Test signal 13 (*.wav")
    signals = [sf.read(w, dtype="int16")[0] / 32767.0 * ISO_PA_PER_FS for w in (wav_a, wav_b)]
    N, N_spec, _, time_axis = loudness_zwtv(np.stack(signals), FS_HZ)
    assert N.shape == (2, time_axis.size) and N_spec.shape == (2, 240, time_axis.size)
    for i, x in enumerate(signals):
        n_alone, spec_alone, _, _ = loudness_zwtv(x, FS_HZ)
        np.testing.assert_array_equal(N[i], n_alone)
        np.testing.assert_array_equal(N_spec[i], spec_alone)


# --- Known answers without data ------------------------------------------------------


def test_steady_1khz_40db_tone_settles_at_one_sone():
    N, _, _, time_axis = loudness_zwtv(tone_pa(1000, 40), FS_HZ)
    assert time_axis[1] - time_axis[0] == pytest.approx(0.002)
    assert N.size == FS_HZ // 96
    assert np.all(np.abs(N[time_axis > 0.5] - 1.0) < 0.05)


def test_short_pulse_is_about_half_as_loud_as_a_long_tone():
    """Temporal weighting: 0.47 (1 − e^(−10/3.5)) + 0.53 (1 − e^(−10/70)) ≈ 0.51 for a
    10 ms burst (2.5 ms raised-cosine ramps keep its spectrum narrow); ISO's 10 ms
    pulse (signal 10) has Nmax 4.3 against 8.077 sone for 500 ms (ratio 0.53)."""
    long_tone = tone_pa(1000, 70)
    t = np.arange(long_tone.size) / FS_HZ
    ramp = np.clip(np.minimum(t - 0.1, 0.11 - t) / 0.0025 + 0.5, 0.0, 1.0)
    burst = long_tone * np.sin(np.pi / 2 * ramp) ** 2
    n_long = loudness_nmax(loudness_zwtv(long_tone, FS_HZ)[0])
    n_burst = loudness_nmax(loudness_zwtv(burst, FS_HZ)[0])
    assert n_burst / n_long == pytest.approx(0.51, abs=0.05)


def test_n5_follows_the_reference_program_not_np_percentile():
    series = np.arange(1.0, 21.0)  # n = 20: k = 19, mean of the 19th and 20th values
    assert loudness_n5(series) == pytest.approx(19.5)
    assert np.percentile(series, 95) == pytest.approx(19.05)
    np.testing.assert_allclose(loudness_n5(np.stack([series, 2 * series])), [19.5, 39.0])


def test_n5_rejects_a_non_uniform_time_axis():
    with pytest.raises(ValueError, match="uniform"):
        loudness_n5(np.ones(4), time_axis=[0.0, 0.002, 0.004, 0.010])


def test_nmax():
    assert loudness_nmax([0.0, 3.5, 2.0]) == 3.5
    np.testing.assert_array_equal(loudness_nmax([[1.0, 2.0], [4.0, 3.0]]), [2.0, 4.0])


# --- Temporal stages at other step sizes (streaming) -----------------------------------


def test_temporal_weighting_step_response_has_closed_form():
    """Unit step: N_w(t) = 1 − 0.47 e^(−(t+Δ)/3.5 ms) − 0.53 e^(−(t+Δ)/70 ms), Δ = 1/48 kHz."""
    for step_s in (LEVEL_STEP_S, 0.008):
        t = np.arange(40) * step_s
        weighted, _ = temporal_weighting(np.ones(t.size), step_s)
        tau = t + 1.0 / 48000
        expected = 1 - 0.47 * np.exp(-tau / 3.5e-3) - 0.53 * np.exp(-tau / 70e-3)
        np.testing.assert_allclose(weighted, expected, rtol=1e-12)


@pytest.mark.parametrize("stage", [nonlinear_temporal_decay, temporal_weighting])
def test_coarse_steps_equal_fine_steps_for_piecewise_linear_input(stage):
    """At 8 ms steps with the same 48 kHz inner rate, a piecewise-linear input (knots
    every 8 ms) gives the values of the 0.5 ms computation at the common times."""
    rng = np.random.default_rng(5)
    knots = np.repeat(rng.uniform(0, 8, (40, 1)), 3, axis=1) * (rng.random((40, 3)) > 0.3)
    fine_t = np.arange(39 * 16 + 1) * LEVEL_STEP_S
    fine = np.stack([np.interp(fine_t, np.arange(40) * 0.008, knots[:, j]) for j in range(3)],
                    axis=-1)
    if stage is temporal_weighting:
        fine, knots = fine.T, knots.T  # time on the last axis
        out_fine, _ = stage(fine, LEVEL_STEP_S)
        out_coarse, _ = stage(knots, 0.008)
        np.testing.assert_allclose(out_coarse, out_fine[:, ::16], rtol=1e-9, atol=1e-12)
    else:
        out_fine, _ = stage(fine, LEVEL_STEP_S)
        out_coarse, _ = stage(knots, 0.008)
        np.testing.assert_allclose(out_coarse, out_fine[::16], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("stage", [nonlinear_temporal_decay, temporal_weighting])
def test_chunked_equals_whole(stage):
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 5, (3, 200, 21)) * (rng.random((3, 200, 21)) > 0.5)
    if stage is temporal_weighting:
        x = x[..., 0]  # (streams, T)
    whole, whole_state = stage(x, 0.004)
    parts, state = [], None
    for start, stop in [(0, 1), (1, 70), (70, 71), (71, 200)]:
        out, state = stage(x[:, start:stop], 0.004, state=state)
        parts.append(out)
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    np.testing.assert_array_equal(state, whole_state)


def test_nonlinear_decay_holds_constant_input_and_releases_slowly():
    on = np.full((200, 1), 2.0)
    decayed, _ = nonlinear_temporal_decay(np.concatenate([on, np.zeros((200, 1))]))
    np.testing.assert_allclose(decayed[:200], 2.0)
    after = decayed[200:, 0]
    assert np.all(np.diff(after) <= 0) and after[0] > 1.5  # no instant drop
    assert after[int(0.05 / LEVEL_STEP_S)] < 0.5  # mostly gone 50 ms later


@pytest.mark.parametrize("stage", [nonlinear_temporal_decay, temporal_weighting])
def test_silence_after_sound_decays_to_exact_zero_not_to_subnormal_numbers(stage):
    # Digital silence after a sound: the decays end at 0 (a state among subnormal
    # numbers would stay there, each step ~20 times slower on x86).
    x = np.concatenate([np.full((1, 100, 21), 3.0), np.zeros((1, 20_000, 21))], axis=1)
    if stage is temporal_weighting:
        x = x[..., 0]
    out, state = stage(x, 0.004)
    assert np.all(out[:, -100:] == 0.0)
    finite = np.abs(state[np.isfinite(state)])
    assert np.all((finite == 0) | (finite >= np.finfo(np.float64).tiny)), finite


def test_the_reference_filterbank_keeps_off_subnormal_numbers_on_digital_silence():
    # ISO's 48 kHz band filters and smoothing after a tone, then exact zeros: the
    # smoothed intensities end at zero or stay normal numbers (subnormal ones cost the
    # filterbank ~8 times its time on silence).
    from emotion.psychoacoustics._iso532_filterbank import DECIMATION, _smoothed_kernel

    fs = 48_000
    tone = 0.05 * np.sin(2 * np.pi * 1000 * np.arange(fs // 2) / fs)
    x = np.concatenate([tone, np.zeros(3 * fs)])
    intensity = np.empty((x.size // DECIMATION, 28))
    _smoothed_kernel(x, intensity)
    tail = np.abs(intensity[-2000:])
    assert np.all((tail == 0) | (tail >= np.finfo(np.float64).tiny))
    assert np.count_nonzero(tail == 0) > tail.size // 2
