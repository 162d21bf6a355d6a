"""Roughness after Daniel & Weber (1997): the asper, the published AM/FM curves, shapes.

Tolerances. D&W validated their model to +-0.1 asper against Zwicker & Fastl's AM-tone
curves; MoSQITo accepts 0.83-1.17 asper (+-17 %, about the roughness JND) at the
reference sound. A point here passes if it is within +-0.1 asper or +-17 %, and a curve
passes if at least 90 % of its points do and none is off by more than 0.2 asper. The
points that miss are listed at each test with the reason. Scores: 141/151 (Zwicker &
Fastl) and 223/244 (D&W Fig. 3); with +-20 % instead, 142 and 228, where MoSQITo 1.2.1
scores 142 and 229 on the same signals.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from emotion.psychoacoustics.roughness_dw import roughness_dw

FS_HZ = 48000
P_REF_PA = 2e-5
ROUGHNESS_FILES = {
    "zwicker_fastl": "zwicker_fastl_1990_fig11_2_AM_tone_roughness_digitised.csv",
    "daniel_weber": "mosqito_ref_daniel_weber_1997_fig3_digitised.csv",
    "fm_vs_fmod": "daniel_weber_1997_FM_tone_fc1600_dev800_60dB_vs_fmod.csv",
    "fm_vs_level": "daniel_weber_1997_FM_tone_fc1600_dev800_fmod70_vs_level.csv",
}


def am_tone(fc_hz, fmod_hz, level_db, m=1.0, fs_hz=FS_HZ, dur_s=0.3):
    """(1 + m sin 2π f_m t) sin 2π f_c t scaled to an overall rms level in dB SPL."""
    t = np.arange(int(np.rint(dur_s * fs_hz))) / fs_hz
    s = (1 + m * np.sin(2 * np.pi * fmod_hz * t)) * np.sin(2 * np.pi * fc_hz * t)
    return s * (P_REF_PA * 10 ** (level_db / 20) / np.sqrt(np.mean(s**2)))


def fm_tone(fc_hz, dev_hz, fmod_hz, level_db, fs_hz=FS_HZ, dur_s=0.5):
    """Instantaneous frequency f_c + Δf sin 2π f_m t, scaled to level_db SPL."""
    t = np.arange(int(np.rint(dur_s * fs_hz))) / fs_hz
    s = np.sin(2 * np.pi * fc_hz * t - dev_hz / fmod_hz * np.cos(2 * np.pi * fmod_hz * t))
    return s * (P_REF_PA * 10 ** (level_db / 20) / np.sqrt(np.mean(s**2)))


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return np.array(rows[1:], dtype=float)


def mean_roughness(signals):
    return roughness_dw(np.stack(signals), FS_HZ)[0].mean(axis=-1)


@pytest.mark.parametrize("fs_hz", [48000, 16000, 8000])
def test_reference_sound_is_one_asper(fs_hz):
    # Definition of the asper: 1 kHz, 60 dB SPL, 100 % AM at 70 Hz. +-10 % at every
    # frame, also at the telephone rates the product runs at.
    R, R_spec, bark, _ = roughness_dw(am_tone(1000, 70, 60, fs_hz=fs_hz, dur_s=1.0), fs_hz)
    assert R.shape == (9,) and R_spec.shape == (47, 9) and bark.shape == (47,)
    np.testing.assert_allclose(R, 1.0, rtol=0.10)
    np.testing.assert_allclose(0.5 * R_spec.sum(axis=0), R, rtol=1e-9)
    # Specific roughness sits around the carrier, 1 kHz = 8.5 Bark.
    assert 7.5 <= bark[np.argmax(R_spec[:, 0])] <= 9.5


def _check_curve(table, label):
    fc, fmod, R_ref = table.T
    R = mean_roughness([am_tone(a, b, 60) for a, b in zip(fc, fmod, strict=True)])
    err = np.abs(R - R_ref)
    ok = (err <= 0.1) | (err <= 0.17 * R_ref)
    misses = [
        f"fc={a:.0f} fmod={b:.1f}: {r:.3f} vs {ref:.3f}"
        for a, b, r, ref in zip(fc[~ok], fmod[~ok], R[~ok], R_ref[~ok], strict=True)
    ]
    assert ok.mean() >= 0.90, f"{label}: only {ok.sum()}/{ok.size} within tolerance: {misses}"
    assert err.max() <= 0.2, f"{label}: largest error {err.max():.3f} asper"


@pytest.mark.shared_data
def test_am_tones_follow_zwicker_fastl(psychoacoustics_data):
    # Zwicker & Fastl (1990) Fig. 11.2: 151 points, fc 125 Hz-8 kHz, 60 dB, m = 1.
    # Known misses (10): fc 1 kHz at 194-284 Hz (model 0.10-0.12 asper low: its H_i fall
    # to 0.3-0.1 there and the resolved sidebands decorrelate the channels), fc 2 kHz at
    # 95-142 Hz (0.14-0.17 asper high: the wide high-f_mod skirt of prototype H21).
    path = psychoacoustics_data / "roughness" / ROUGHNESS_FILES["zwicker_fastl"]
    _check_curve(read_csv(path), "Zwicker & Fastl Fig. 11.2")


@pytest.mark.shared_data
def test_am_tones_follow_daniel_weber_model_curve(psychoacoustics_data):
    # D&W (1997) Fig. 3, their model's output: 244 points. Known misses (21): fc 250 Hz
    # at 20-31 Hz (0.10-0.13 asper low), fc 1 kHz at 126 Hz (0.11 high), fc 2 kHz at
    # 77-145 Hz (0.10-0.15 high); probably where the reference code's H5/H21 prototypes
    # differ from the H_i behind the figure (the paper prints only H2, H16 and H42).
    path = psychoacoustics_data / "roughness" / ROUGHNESS_FILES["daniel_weber"]
    _check_curve(read_csv(path), "Daniel & Weber Fig. 3")


def _relative_fm(fmods, levels):
    signals = [fm_tone(1600, 800, f, L) for f, L in zip(fmods, levels, strict=True)]
    R = mean_roughness([fm_tone(1600, 800, 70, 60), *signals])
    return 100 * R[1:] / R[0]


@pytest.mark.shared_data
def test_fm_tone_roughness_vs_modulation_frequency(psychoacoustics_data):
    # D&W FM tone, 1.6 kHz +-800 Hz, 60 dB: % of R at f_mod = 70 Hz. +-17 points (JND).
    # Known misses (4 of 11): 40 and 60 Hz (model 69 and 95 % vs 111 and 122 %), 120 and
    # 150 Hz (65 and 47 % vs 41 and 28 %): the model's FM band-pass peaks near 80 Hz,
    # the reference near 60 Hz. MoSQITo 1.2.1 gives the same curve within 3 points.
    path = psychoacoustics_data / "roughness" / ROUGHNESS_FILES["fm_vs_fmod"]
    fmod, rel_ref = read_csv(path).T
    rel = _relative_fm(fmod, np.full_like(fmod, 60.0))
    assert np.sum(np.abs(rel - rel_ref) <= 17) >= 7, np.c_[fmod, rel_ref, rel]
    assert 60 <= fmod[np.argmax(rel)] <= 100
    assert rel[0] < 15 and rel[-1] < 15  # 10 Hz and 500 Hz


@pytest.mark.shared_data
def test_fm_tone_roughness_vs_level(psychoacoustics_data):
    # Same FM tone at 70 Hz, 40-80 dB: % of R at 60 dB. Known miss: 80 dB (model 134 %
    # vs 157 %), the model's level dependence comes from Terhardt's slopes only.
    path = psychoacoustics_data / "roughness" / ROUGHNESS_FILES["fm_vs_level"]
    level, rel_ref = read_csv(path).T
    rel = _relative_fm(np.full_like(level, 70.0), level)
    assert np.all(np.diff(rel) > 0)
    assert np.sum(np.abs(rel - rel_ref) <= 17) >= 4, np.c_[level, rel_ref, rel]


def test_roughness_grows_with_modulation_depth_and_level():
    R = mean_roughness([am_tone(1000, 70, 60, m=m) for m in (0.25, 0.5, 0.75, 1.0)])
    assert np.all(np.diff(R) > 0) and R[0] < 0.2 * R[-1]
    R = mean_roughness([am_tone(1000, 70, L) for L in (40, 50, 60, 70, 80)])
    assert np.all(np.diff(R) > 0) and 0.3 < R[0] < 0.7 and 1.2 < R[-1] < 1.6


def test_unmodulated_tone_and_silence_are_not_rough():
    R_tone = roughness_dw(am_tone(1000, 70, 60, m=0.0), FS_HZ)[0]
    R_silence = roughness_dw(np.zeros(FS_HZ // 2), FS_HZ)[0]
    assert np.all(R_tone < 0.01)
    assert np.all(R_silence == 0.0)


def test_stream_axis_gives_the_same_as_one_stream_at_a_time():
    signals = np.stack(
        [am_tone(1000, 70, 60, dur_s=0.5), am_tone(500, 40, 70, m=0.5, dur_s=0.5),
         am_tone(4000, 100, 50, dur_s=0.5)]
    )  # fmt: skip
    R, R_spec, _, time_s = roughness_dw(signals, FS_HZ, overlap=0.75)
    assert R.shape == (3, 7) and R_spec.shape == (3, 47, 7)
    np.testing.assert_allclose(np.diff(time_s), 0.05)
    for i, x in enumerate(signals):
        R_1, R_spec_1, _, time_1 = roughness_dw(x, FS_HZ, overlap=0.75)
        np.testing.assert_allclose(R[i], R_1, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(R_spec[i], R_spec_1, rtol=1e-6, atol=1e-12)
        np.testing.assert_array_equal(time_s, time_1)


def test_frames_and_times_follow_overlap():
    x = am_tone(1000, 70, 60, dur_s=1.0)
    _, _, bark, time_s = roughness_dw(x, FS_HZ, overlap=0.0)
    np.testing.assert_allclose(time_s, 0.1 + 0.2 * np.arange(5), atol=1e-4)
    np.testing.assert_allclose(bark, 0.5 * np.arange(1, 48))


def test_agrees_with_mosqito_side_by_side():
    mosqito = pytest.importorskip("mosqito.sq_metrics", reason="mosqito (bench extra) absent")
    for fc, fmod, level in ((250, 40, 60), (1000, 70, 60), (2000, 70, 50), (8000, 80, 60)):
        x = am_tone(fc, fmod, level, dur_s=0.2)
        ours = roughness_dw(x, FS_HZ)[0]
        theirs = mosqito.roughness_dw(x, FS_HZ, overlap=0)[0]
        np.testing.assert_allclose(ours, theirs, rtol=0.05)


@pytest.mark.parametrize(
    ("signal", "fs", "overlap", "message"),
    [
        (np.zeros(100), FS_HZ, 0.5, "one analysis frame needs"),
        (np.full(FS_HZ, np.nan), FS_HZ, 0.5, "NaN"),
        (np.zeros((2, 2, FS_HZ)), FS_HZ, 0.5, "shape"),
        (np.zeros(FS_HZ), FS_HZ, 1.0, "overlap"),
        (np.zeros(FS_HZ), 0, 0.5, "sampling rate"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(signal, fs, overlap, message):
    with pytest.raises(ValueError, match=message):
        roughness_dw(signal, fs, overlap)
