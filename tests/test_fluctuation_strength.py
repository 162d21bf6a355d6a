"""Fluctuation strength after Osses, García & Kohlrausch (2016): the vacil, f_mod, depth, level.

Tolerance: the JND of fluctuation strength, about 10 % (Fastl & Zwicker), as SQAT uses
for this model. All signals are synthetic; 16 kHz is enough for a 1 kHz carrier and is
the product's wideband rate.
"""

from __future__ import annotations

import numpy as np
import pytest

from emotion.psychoacoustics.fluctuation_strength import fluctuation_strength

FS_HZ = 16000
P_REF_PA = 2e-5


def am_tone(fc_hz, fmod_hz, level_db, m=1.0, fs_hz=FS_HZ, dur_s=2.0):
    """(1 + m sin 2π f_m t) sin 2π f_c t scaled to an overall rms level in dB SPL."""
    t = np.arange(int(np.rint(dur_s * fs_hz))) / fs_hz
    s = (1 + m * np.sin(2 * np.pi * fmod_hz * t)) * np.sin(2 * np.pi * fc_hz * t)
    return s * (P_REF_PA * 10 ** (level_db / 20) / np.sqrt(np.mean(s**2)))


def single_frame_F(signals, fs_hz=FS_HZ):
    """F of 2 s signals, one frame each."""
    return fluctuation_strength(np.stack(signals), fs_hz)[0][:, 0]


@pytest.mark.parametrize("fs_hz", [8000, 16000, 48000])
def test_reference_sound_is_one_vacil(fs_hz):
    # Definition of the vacil: 1 kHz, 60 dB SPL, 100 % AM at 4 Hz. +-10 % (JND).
    F, F_spec, bark, time_s = fluctuation_strength(am_tone(1000, 4, 60, fs_hz=fs_hz), fs_hz)
    assert F.shape == (1,) and F_spec.shape == (47, 1) and bark.shape == (47,)
    assert F[0] == pytest.approx(1.0, rel=0.10)
    assert time_s[0] == pytest.approx(1.0, abs=1e-3)
    assert 7.5 <= bark[np.argmax(F_spec[:, 0])] <= 9.5  # around 1 kHz = 8.5 Bark


def test_band_pass_in_modulation_frequency_peaks_near_4_hz():
    fmods = np.array([0.5, 1, 2, 4, 8, 16, 32])
    F = single_frame_F([am_tone(1000, f, 60) for f in fmods])
    assert 2 <= fmods[np.argmax(F)] <= 8
    assert F[1] < 0.5 * F.max() and F[5] < 0.5 * F.max()  # 1 Hz and 16 Hz
    assert F[0] < 0.1 and F[6] < 0.1  # 0.5 Hz and 32 Hz
    assert np.all(np.diff(F[:4]) > 0) and np.all(np.diff(F[4:]) < 0)


def test_am_tones_at_70_db_follow_fastl_zwicker():
    # Fastl & Zwicker's data for 1 kHz, 70 dB, m = 1, as OGK (2016) compare their model
    # with them. A point passes within +-10 % (JND) or +-0.05 vacil. Known miss: 2 Hz
    # (model 1.17 vs 0.84 vacil): OGK's high-pass, 3 dB down at 1.4 Hz, still passes
    # 0.91 at 2 Hz; SQAT's implementation of OGK overshoots there too (1.13).
    fmods = np.array([1, 2, 4, 8, 16, 32])
    F_ref = np.array([0.39, 0.84, 1.25, 1.30, 0.36, 0.06])
    F = single_frame_F([am_tone(1000, f, 70) for f in fmods])
    ok = (np.abs(F - F_ref) <= 0.10 * F_ref) | (np.abs(F - F_ref) <= 0.05)
    assert ok.sum() >= 5, np.c_[fmods, F_ref, F]
    assert ok[fmods != 2].all(), np.c_[fmods, F_ref, F]


def test_grows_with_modulation_depth_and_is_near_zero_unmodulated():
    depths = [0.0, 0.1, 0.25, 0.5, 0.75, 1.0]
    F = single_frame_F([am_tone(1000, 4, 60, m=m) for m in depths])
    assert np.all(np.diff(F) > 0)
    assert F[0] < 0.03  # unmodulated tone
    assert F[3] < 0.5 * F[-1]


def test_grows_with_level():
    # 70 dB gives 1.25 vacil in the data above against 1 vacil at 60 dB (definition):
    # the model must reproduce that ratio within the JND and grow steadily 40-80 dB.
    # It gives 0.50 vacil at 40 dB and 1.63 at 80 dB (x3.3); no published 40-80 dB
    # ratio was at hand to check that against, so the last bound only guards the model.
    levels = [40, 50, 60, 70, 80]
    F = single_frame_F([am_tone(1000, 4, L) for L in levels])
    assert np.all(np.diff(F) > 0)
    assert F[3] / F[2] == pytest.approx(1.25, rel=0.10)
    assert 2.0 < F[4] / F[0] < 4.5


def test_silence_is_zero():
    F, F_spec, _, _ = fluctuation_strength(np.zeros(2 * FS_HZ), FS_HZ)
    assert np.all(F == 0.0) and np.all(F_spec == 0.0)


def test_stream_axis_gives_the_same_as_one_stream_at_a_time():
    signals = np.stack(
        [am_tone(1000, 4, 60, dur_s=3.0), am_tone(500, 8, 70, m=0.5, dur_s=3.0),
         am_tone(2000, 2, 50, dur_s=3.0)]
    )  # fmt: skip
    F, F_spec, _, time_s = fluctuation_strength(signals, FS_HZ, overlap=0.5)
    assert F.shape == (3, 2) and F_spec.shape == (3, 47, 2)
    np.testing.assert_allclose(time_s, [1.0, 2.0], atol=1e-3)
    for i, x in enumerate(signals):
        F_1, F_spec_1, _, time_1 = fluctuation_strength(x, FS_HZ, overlap=0.5)
        np.testing.assert_allclose(F[i], F_1, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(F_spec[i], F_spec_1, rtol=1e-6, atol=1e-12)
        np.testing.assert_array_equal(time_s, time_1)


def test_short_signal_is_rejected_with_a_reason():
    with pytest.raises(ValueError, match="one analysis frame needs"):
        fluctuation_strength(np.zeros(FS_HZ), FS_HZ)
