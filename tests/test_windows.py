"""Feature windows: the right statistics of speech frames, pauses ignored, any blocks."""

from __future__ import annotations

import numpy as np
import pytest

from emotion.windows import (
    FEATURE_NAMES,
    FeatureWindower,
    _nanquantiles,
    loudness_peaks,
    spectral_balance,
)

IDX = {name: i for i, name in enumerate(FEATURE_NAMES)}


def grid(n_streams=2, seconds=10.0, speech_every=1, f0=220.0):
    t = int(seconds / 0.01)
    speech = np.zeros((n_streams, t), bool)
    speech[:, ::speech_every] = True
    nuclei = np.zeros((n_streams, t))
    nuclei[:, ::25] = 1  # four nuclei per second
    return dict(
        loudness=np.full((n_streams, t), 5.0), speech=speech, voiced=speech.copy(),
        f0_hz=np.full((n_streams, t), f0), nuclei=nuclei,
        sharpness=np.full((n_streams, t), 1.2), roughness=np.full((n_streams, t), 0.3),
        fluctuation=np.full((n_streams, t), 2.0), balance=np.full((n_streams, t), 0.4),
        aperiodicity=np.full((n_streams, t), 0.1), centroid=np.full((n_streams, t), 900.0),
        tilt=np.full((n_streams, t), 6.0),
    )


def test_known_answers_for_steady_speech():
    out = FeatureWindower(2).push(**grid())
    assert out.end_s.tolist() == pytest.approx([1.0 * k for k in range(1, 11)])
    f = out.features[0, 4]
    assert f[IDX["loudness_n5_sone"]] == pytest.approx(5.0)
    assert f[IDX["f0_median_st"]] == pytest.approx(36.0)  # 220 Hz = 3 octaves above 27.5
    assert f[IDX["f0_range_st"]] == pytest.approx(0.0)
    assert f[IDX["speech_rate_syl_s"]] == pytest.approx(4.0)
    assert f[IDX["pause_ratio"]] == pytest.approx(0.0)
    assert f[IDX["sharpness_acum"]] == pytest.approx(1.2)
    assert f[IDX["aperiodicity"]] == pytest.approx(0.1)
    assert f[IDX["vowel_centroid_hz"]] == pytest.approx(900.0)
    assert f[IDX["vowel_tilt_db"]] == pytest.approx(6.0)
    assert f[IDX["f0_movement_st"]] == pytest.approx(0.0)  # a steady pitch does not move
    assert f[IDX["loudness_slope_sone_s"]] == pytest.approx(0.0)
    assert out.valid[:, 2:].all() and out.speech_s[0, 4] == pytest.approx(3.0)


def test_pitch_movement_and_loudness_slope_have_known_answers():
    g = grid(n_streams=1)
    t = g["loudness"].shape[1]
    g["f0_hz"][0] = 220.0 * 2 ** (np.where(np.arange(t) % 2, 0.5, 0.0) / 12)  # 0.5 st zigzag
    # A triangle: up 2 sone/s for half a second, down 2 sone/s for the next half.
    g["loudness"][0] = 5.0 + 2.0 * 0.01 * np.abs((np.arange(t) % 100) - 50)
    g["voiced"][0, 300:310] = False  # an unvoiced gap: no pitch step across it counts
    out = FeatureWindower(1).push(**g)
    f = out.features[0, 6]
    assert f[IDX["f0_movement_st"]] == pytest.approx(0.5)
    assert f[IDX["loudness_slope_sone_s"]] == pytest.approx(2.0, rel=0.02)


def syllable_contour(rate_hz, swing_steps, seconds=3.0, sone=5.0):
    """Loudness (sone) rising and falling ``swing_steps`` loudness-level steps (10 per
    doubling) around ``sone``, ``rate_hz`` times a second, on the 10 ms grid."""
    t = np.arange(round(seconds / 0.01)) * 0.01
    return sone * 2.0 ** (swing_steps / 20 * -np.cos(2 * np.pi * rate_hz * t))


def test_syllable_rate_counts_the_peaks_of_the_loudness_contour():
    g = grid(n_streams=1)
    g["loudness"][0] = syllable_contour(5.0, 10.0, seconds=10.0)
    out = FeatureWindower(1).push(**g)
    # a 3 s window holds 15 peaks; one at a window's edge may be cut
    assert out.features[0, 2:, IDX["syllable_rate_syl_s"]] == pytest.approx(5.0, abs=0.34)
    assert out.features[0, 2:, IDX["speech_rate_syl_s"]] == pytest.approx(4.0)  # nuclei input


@pytest.mark.parametrize("rate_hz", [3.0, 5.0, 8.0, 12.5])
def test_syllable_peaks_follow_the_rate_up_to_fast_speech(rate_hz):
    speech = np.ones((1, 300), bool)
    n = loudness_peaks(syllable_contour(rate_hz, 8.0)[None], speech)[0]
    assert abs(n - 3.0 * rate_hz) <= 1


def test_shallow_ripples_pauses_and_the_lines_gain_do_not_make_syllables():
    speech = np.ones((1, 300), bool)
    assert loudness_peaks(syllable_contour(5.0, 2.0)[None], speech)[0] == 0  # < 3 steps
    loud = syllable_contour(5.0, 8.0)[None]
    quieter = loudness_peaks(loud / 8.0, speech)[0]  # the same voice 18 dB down the line
    assert quieter == loudness_peaks(loud, speech)[0] == 15
    half = speech.copy()
    half[0, 150:] = False  # peaks outside speech (the caller, a noise) are not counted
    assert loudness_peaks(loud, half)[0] == pytest.approx(7, abs=1)
    # a peak within 60 ms of the last counted is not a syllable: 20 a second (60 in 3 s)
    # count well under 60, while 16.7 a second (60 ms apart) all count
    assert loudness_peaks(syllable_contour(20.0, 8.0)[None], speech)[0] <= 40
    assert loudness_peaks(syllable_contour(50 / 3, 8.0)[None], speech)[0] >= 49
    assert loudness_peaks(np.zeros((2, 3, 0)), np.zeros((2, 3, 0), bool)).shape == (2, 3)


def test_pauses_are_left_out_of_the_statistics():
    g = grid()
    t = np.arange(g["loudness"].shape[1])
    pause = (t // 5) % 2 == 1  # 50 ms of speech, 50 ms of pause
    g["speech"][:, pause] = False
    g["voiced"][:, pause] = False
    g["loudness"][:, pause] = 100.0  # loud non-speech (e.g. the caller) must not count
    g["nuclei"][:] = 0
    g["nuclei"][:, ::100] = 1  # one nucleus per second of time = 2 per second of speech
    out = FeatureWindower(2).push(**g)
    f = out.features[1, 5]
    assert f[IDX["loudness_mean_sone"]] == pytest.approx(5.0)
    assert f[IDX["pause_ratio"]] == pytest.approx(0.5)
    assert f[IDX["speech_rate_syl_s"]] == pytest.approx(2.0)


def test_pitch_range_and_windows_without_enough_speech():
    g = grid()
    g["f0_hz"][:, ::2] = 27.5 * 2 ** (40 / 12)
    g["f0_hz"][:, 1::2] = 27.5 * 2 ** (30 / 12)
    g["speech"][1, :] = False
    g["speech"][1, :50] = True  # half a second of speech only
    out = FeatureWindower(2, min_speech_s=1.0).push(**g)
    assert out.features[0, 5, IDX["f0_range_st"]] == pytest.approx(10.0)
    assert not out.valid[1].any() and np.isnan(out.features[1]).all()


def test_blocks_of_any_size_give_the_same_windows():
    g = grid(seconds=12.0)
    rng = np.random.default_rng(0)
    g["loudness"] = rng.uniform(1, 20, g["loudness"].shape)
    g["f0_hz"] = rng.uniform(100, 300, g["f0_hz"].shape)
    whole = FeatureWindower(2).push(**g)
    windower, parts, i, total = FeatureWindower(2), [], 0, g["speech"].shape[1]
    while i < total:
        n = int(rng.integers(1, 170))
        parts.append(windower.push(**{k: v[:, i : i + n] for k, v in g.items()}))
        i += n
    np.testing.assert_allclose(np.concatenate([p.features for p in parts], axis=1),
                               whole.features)


def test_missing_or_misshapen_inputs_are_refused():
    g = grid()
    del g["nuclei"]
    with pytest.raises(ValueError, match="nuclei"):
        FeatureWindower(2).push(**g)
    with pytest.raises(ValueError, match="streams=3"):
        FeatureWindower(3).push(**grid())


def test_spectral_balance_is_the_high_share():
    bark = np.linspace(0.1, 24.0, 240)
    spec = np.where(bark > 10.0, 1.0, 3.0)[None]
    assert spectral_balance(spec, bark)[0] == pytest.approx(140 / (140 + 3 * 100))
    assert spectral_balance(np.zeros((1, 240)), bark)[0] == 0.0


def test_a_feature_that_could_not_be_measured_invalidates_the_window():
    g = grid()
    g["fluctuation"][:, :200] = np.nan  # not measured during the first 2 s
    g["voiced"][1, :] = False  # stream 1: speech without a single voiced frame
    out = FeatureWindower(2).push(**g)
    assert not out.valid[0, :2].any() and out.valid[0, 4:].all()
    assert not out.valid[1].any()


def test_octave_errors_do_not_inflate_the_pitch_range():
    g = grid()
    rng = np.random.default_rng(3)
    f0 = 27.5 * 2 ** ((36 + rng.uniform(-1.5, 1.5, g["f0_hz"].shape)) / 12)
    jumps = rng.uniform(size=f0.shape) < 0.12  # 12 % of frames an octave off
    f0[jumps] *= np.where(rng.uniform(size=jumps.sum()) < 0.5, 2.0, 0.5)
    g["f0_hz"] = f0
    out = FeatureWindower(2).push(**g)
    assert out.features[0, 5, IDX["f0_range_st"]] < 3.5  # the true spread is 3 st
    assert out.features[0, 5, IDX["f0_median_st"]] == pytest.approx(36.0, abs=0.3)


def test_shared_sort_quantiles_equal_numpys_nanquantile():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(4, 7, 50))
    values[rng.random(values.shape) < 0.4] = np.nan
    values[0, 0] = np.nan  # an all-NaN row gives NaN, without a warning
    values[1, 1, 1:] = np.nan  # a single value is every quantile
    qs = [0.0, 0.1, 0.5, 0.95, 1.0]
    ours = _nanquantiles(values, qs)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        theirs = np.nanquantile(values, qs, axis=-1)
    for q, mine, ref in zip(qs, ours, theirs, strict=True):
        np.testing.assert_allclose(mine, ref, rtol=1e-12, equal_nan=True, err_msg=str(q))


def test_music_has_no_voices_rhythm_and_every_voice_has_one() -> None:
    """Windows of music that passed the voice detector (strings with their own swell, the
    only style that did here) have neither a voice's syllabic modulation nor its
    syllables; a calm, an agitated and a quiet, low synthetic voice have both."""
    from capture.audio import AudioClip
    from capture.synth import hold_music, speech_like
    from capture.telephone import telephone_channel
    from emotion.voice import analyse_clips
    from emotion.windows import rhythmless

    music = telephone_channel(hold_music(40.0, 16000, style="strings", dynamics=1.0, seed=1),
                              16000)
    voices = [speech_like(40.0, 8000, seed=2, agitated=agitated) for agitated in (False, True)]
    voices.append(speech_like(40.0, 8000, seed=3, level_dbfs=-34.0, f0_hz=120.0))
    clips = [AudioClip(x[None], 8000, f"clip{i}", "PCM_16", "WAV")
             for i, x in enumerate([music, *voices])]
    found = [r.windows.features[0][r.windows.valid[0]] for r in analyse_clips(clips)]
    assert len(found[0]) >= 5 and rhythmless(found[0]).all()
    for windows in found[1:]:
        assert len(windows) >= 20 and not rhythmless(windows).any()
    assert not rhythmless(np.full((2, len(FEATURE_NAMES)), np.nan)).any()
