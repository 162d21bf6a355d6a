"""DIN 45692:2009 sharpness: the standard's 41 test sounds, known answers, shapes."""

from __future__ import annotations

import csv
import functools
import warnings

import numpy as np
import pytest
import soundfile as sf

from conftest import shared_path
from emotion.psychoacoustics import (
    BARK_AXIS,
    loudness_zwst,
    loudness_zwtv,
    sharpness_din_from_loudness,
    sharpness_din_st,
    sharpness_din_tv,
)

FS_HZ = 48000
DIN_PA_PER_FS = 1.0  # README: DIN files use 1 Pa/FS (MoSQITo wav_calib=1)


def narrowband_noise_pa(centre_hz, width_hz, level_db_spl, duration_s=4.0, seed=0):
    """Noise with a flat spectrum over [centre − width/2, centre + width/2] Hz."""
    n = int(duration_s * FS_HZ)
    freqs = np.fft.rfftfreq(n, 1 / FS_HZ)
    band = np.abs(freqs - centre_hz) <= width_hz / 2
    spectrum = np.zeros(freqs.size, complex)
    phases = np.random.default_rng(seed).random(band.sum())
    spectrum[band] = np.exp(2j * np.pi * phases)
    x = np.fft.irfft(spectrum, n)
    return x * 2e-5 * 10 ** (level_db_spl / 20) / np.sqrt(np.mean(x**2))


@functools.cache
def din_references() -> list[dict[str, str]]:
    path = shared_path("psychoacoustics", "din45692", "reference_sharpness_din45692.csv")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def din_names() -> list[str]:
    """The 41 file names, or one placeholder (skipped) when the data is absent."""
    try:
        return [row["file"] for row in din_references()]
    except pytest.skip.Exception:
        return ["<din45692 data absent>"]


# --- DIN 45692 test sounds -------------------------------------------------------------


@pytest.mark.shared_data
@pytest.mark.parametrize("name", din_names())
def test_din45692_test_sounds(name):
    row = {r["file"]: r for r in din_references()}[name]
    pcm, fs = sf.read(shared_path("psychoacoustics", "din45692", name), dtype="int16")
    S = sharpness_din_st(pcm / 32767.0 * DIN_PA_PER_FS, fs)
    assert float(row["S_low_tol"]) <= S <= float(row["S_high_tol"]), (S, row["S_ref_acum"])


@pytest.mark.shared_data
def test_din45692_narrowband_1khz_is_one_acum():
    pcm, fs = sf.read(shared_path("psychoacoustics", "din45692", "narrowband_1000.wav"),
                      dtype="int16")
    assert sharpness_din_st(pcm / 32767.0, fs) == pytest.approx(1.0, rel=0.01)


# --- Known answers without data ------------------------------------------------------


def test_critical_band_noise_at_1khz_60db_is_one_acum():
    """Definition of 1 acum: narrow-band noise one critical band wide (160 Hz) at 1 kHz."""
    x = narrowband_noise_pa(1000, 160, 60)
    assert sharpness_din_st(x, FS_HZ) == pytest.approx(1.0, rel=0.05)


def test_higher_band_is_sharper():
    s_1k = sharpness_din_st(narrowband_noise_pa(1000, 160, 60), FS_HZ)
    s_4k = sharpness_din_st(narrowband_noise_pa(4000, 700, 60), FS_HZ)
    assert s_4k > 2 * s_1k


@pytest.mark.parametrize(
    ("weighting", "g_at_20_bark"),
    [
        ("din", 0.15 * np.exp(0.42 * 4.2) + 0.85),
        ("bismarck", 0.2 * np.exp(0.308 * 5.0) + 0.8),
        # Zwicker & Fastl: linear between the digitised points at 19.92 and 20.04 Bark.
        ("fastl", np.interp(20.0, [19.923306, 20.036907], [1.5793887, 1.6168091])),
    ],
)
def test_single_bin_specific_loudness_gives_k_g_z(weighting, g_at_20_bark):
    """N' only at z = 20 Bark: S = 0.11 · g(20) · 20 exactly (N = N' · 0.1 Bark)."""
    n_spec = np.zeros(240)
    i_z = int(np.argmin(np.abs(BARK_AXIS - 20.0)))
    n_spec[i_z] = 5.0
    S = sharpness_din_from_loudness(0.5, n_spec, weighting=weighting)
    assert S == pytest.approx(0.11 * g_at_20_bark * 20.0, rel=1e-9)


def test_aures_weighting_depends_on_loudness():
    n_spec = np.zeros(240)
    n_spec[99] = 5.0  # z = 10 Bark, N = 0.5 sone
    S = sharpness_din_from_loudness(0.5, n_spec, weighting="aures")
    g = 0.078 * np.exp(0.171 * 10.0) / 10.0 * 0.5 / np.log(0.05 * 0.5 + 1)
    assert S == pytest.approx(0.11 * g * 10.0, rel=1e-9)


def test_silence_gives_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sharpness_din_st(np.zeros(FS_HZ), FS_HZ) == 0.0
        S, _ = sharpness_din_tv(np.zeros(FS_HZ), FS_HZ)
        assert not S.any()
        for weighting in ("din", "aures", "bismarck", "fastl"):
            assert sharpness_din_from_loudness(0.0, np.zeros(240), weighting) == 0.0


def test_unknown_weighting_says_which_are_known():
    with pytest.raises(ValueError, match="'din', 'aures', 'bismarck' or 'fastl'"):
        sharpness_din_from_loudness(1.0, np.ones(240), weighting="zwicker")


def test_time_varying_matches_loudness_route_and_skips_start():
    x = narrowband_noise_pa(2000, 300, 65, duration_s=1.0)
    S, time_axis = sharpness_din_tv(x, FS_HZ, skip=0.2)
    _, N_spec, _, t_all = loudness_zwtv(x, FS_HZ)
    S_all = sharpness_din_from_loudness(N_spec.sum(axis=0) * 0.1, N_spec)
    assert time_axis[0] == pytest.approx(0.2) and S.shape == time_axis.shape
    np.testing.assert_array_equal(S, S_all[t_all >= 0.2 - 1e-9])
    # Steady noise: after the start-up, sharpness stays near the stationary value
    # (the temporally weighted N(t) as denominator would swing it by ±60 % here).
    s_stationary = sharpness_din_st(x, FS_HZ)
    assert np.median(S) == pytest.approx(s_stationary, rel=0.04)
    np.testing.assert_allclose(S, s_stationary, rtol=0.08)


def test_streams_give_the_same_as_each_alone():
    a = narrowband_noise_pa(1000, 160, 60, duration_s=1.0)
    b = narrowband_noise_pa(5000, 900, 55, duration_s=1.0, seed=1)
    S = sharpness_din_st(np.stack([a, b]), FS_HZ)
    assert S.shape == (2,)
    assert S[0] == sharpness_din_st(a, FS_HZ) and S[1] == sharpness_din_st(b, FS_HZ)
    S_tv, _ = sharpness_din_tv(np.stack([a, b]), FS_HZ)
    np.testing.assert_array_equal(S_tv[1], sharpness_din_tv(b, FS_HZ)[0])


def test_stationary_loudness_shapes_are_accepted():
    x = np.stack([narrowband_noise_pa(1000, 160, 60, duration_s=1.0)] * 3)
    N, N_spec, _ = loudness_zwst(x, FS_HZ)
    assert sharpness_din_from_loudness(N, N_spec).shape == (3,)
    with pytest.raises(ValueError, match="does not match"):
        sharpness_din_from_loudness(N, N_spec[:, :100])
