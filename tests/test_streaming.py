"""The streaming psychoacoustics used by live monitoring: calibration, agreement with the
reference path on known signals, chunk invariance, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from capture.synth import am_tone, speech_like, tone
from emotion.psychoacoustics import loudness_zwtv, roughness_dw
from emotion.psychoacoustics._zwicker_core import (
    specific_loudness_frame_means,
    specific_loudness_from_core_loudness,
)
from emotion.psychoacoustics.streaming import StreamingPsychoacoustics

WARMUP_FRAMES = 25  # 2.5 s: the 2 s fluctuation-strength frames are full from here


def run(signal_pa: np.ndarray, fs_hz: int, block: int | None = None):
    x = np.atleast_2d(signal_pa)
    engine = StreamingPsychoacoustics(x.shape[0], fs_hz)
    if block is None:
        return engine.process(x)
    parts = [engine.process(x[:, i : i + block]) for i in range(0, x.shape[1], block)]
    return parts


@pytest.mark.parametrize("fs_hz", [8000, 16000])
def test_defining_sounds_read_one_unit(fs_hz):
    # 1 sone: 1 kHz at 40 dB; 1 asper: 1 kHz 60 dB 100 % AM at 70 Hz; 1 vacil: at 4 Hz.
    out = run(tone(1000, 40, 3.0, fs_hz), fs_hz)
    assert np.mean(out.loudness_sone[0, 100:]) == pytest.approx(1.0, rel=0.05)
    out = run(am_tone(1000, 70, 60, 4.0, fs_hz), fs_hz)
    assert np.mean(out.roughness_asper[0, 5:]) == pytest.approx(1.0, rel=0.05)
    out = run(am_tone(1000, 4, 60, 6.0, fs_hz), fs_hz)
    assert np.mean(out.fluctuation_vacil[0, WARMUP_FRAMES:]) == pytest.approx(1.0, rel=0.05)


def test_unmodulated_tone_is_neither_rough_nor_fluctuating():
    out = run(tone(1000, 60, 4.0, 8000), 8000)
    assert np.max(out.roughness_asper[0, 5:]) < 0.02
    assert np.max(out.fluctuation_vacil[0, WARMUP_FRAMES:]) < 0.02


def test_silence_gives_zeros():
    out = run(np.zeros((2, 8000 * 3)), 8000)
    for key in ("loudness_sone", "sharpness_acum", "roughness_asper"):
        assert np.all(getattr(out, key) == 0.0), key
    # Fluctuation strength needs 2 s of signal: NaN (not measured) before, then 0.
    assert np.isnan(out.fluctuation_vacil[:, :19]).all()
    assert np.all(out.fluctuation_vacil[:, 20:] == 0.0)


def test_roughness_peaks_near_70_hz_and_fluctuation_near_4_hz():
    rough = {fm: np.mean(run(am_tone(1000, fm, 60, 2.0, 8000), 8000).roughness_asper[0, 5:])
             for fm in (20, 40, 70, 100, 150)}
    assert max(rough, key=rough.get) in (70, 100)
    assert rough[20] < 0.5 * rough[70] and rough[150] < 0.6 * rough[70]
    fluct = {fm: np.mean(run(am_tone(1000, fm, 60, 6.0, 8000), 8000)
                         .fluctuation_vacil[0, WARMUP_FRAMES:]) for fm in (1, 4, 16)}
    assert fluct[4] > 2.5 * fluct[1] and fluct[4] > 2.5 * fluct[16]


@pytest.mark.parametrize(("freq_hz", "level_db"), [(1000, 60), (500, 70), (3000, 50)])
def test_loudness_of_tones_matches_the_reference_path(freq_hz, level_db):
    x = tone(freq_hz, level_db, 3.0, 8000)
    streamed = np.mean(run(x, 8000).loudness_sone[0, 100:])
    n_ref = loudness_zwtv(resample_poly(x, 6, 1), 48000)[0]
    assert streamed == pytest.approx(np.mean(n_ref[500:]), rel=0.05)


def test_roughness_of_am_tone_stays_near_the_reference_path():
    for fc, fm in ((1000, 70), (2000, 70), (1000, 40), (500, 70)):
        x = am_tone(fc, fm, 60, 2.0, 8000)
        streamed = np.mean(run(x, 8000).roughness_asper[0, 5:])
        reference = np.mean(roughness_dw(resample_poly(x, 6, 1), 48000)[0][1:-1])
        # The 8 ms spectrum frame sees beats between components up to ~250 Hz apart;
        # off the 1 kHz anchor the streaming value departs by up to ~0.2 asper.
        assert abs(streamed - reference) < 0.25, (fc, fm, streamed, reference)


@pytest.mark.parametrize("fs_hz", [8000, 16000])
def test_blocks_of_any_size_give_the_same_frames_as_whole(fs_hz):
    x = np.stack([np.ravel(speech_like(5.0, fs_hz, seed=s)) * 0.3 for s in (1, 2, 3)])
    whole = run(x, fs_hz)
    engine = StreamingPsychoacoustics(3, fs_hz)
    rng = np.random.default_rng(0)
    parts, i = [], 0
    while i < x.shape[1]:
        n = int(rng.integers(1, fs_hz // 2))
        parts.append(engine.process(x[:, i : i + n]))
        i += n
    assert parts[0].first_frame == 0
    for key in ("loudness_sone", "sharpness_acum", "roughness_asper", "fluctuation_vacil"):
        chunked = np.concatenate([getattr(p, key) for p in parts], axis=1)
        np.testing.assert_allclose(chunked, getattr(whole, key), rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    times = np.concatenate([p.time_s for p in parts])
    np.testing.assert_allclose(times, whole.time_s)


def test_sharpness_holds_when_streams_times_frames_is_240():
    # 48 streams and a 0.5 s block make 48 x 5 = 240 (stream, frame) pairs, the length
    # of the Bark axis: the sharpness of those frames was once read as one time-varying
    # series (240 steps) and came out wrong. Every block size must give the same values.
    x = np.stack([np.ravel(speech_like(1.5, 8000, seed=s)) * g
                  for s, g in zip(range(48), np.linspace(0.1, 0.6, 48), strict=True)])

    def sharpness(block):
        engine = StreamingPsychoacoustics(48, 8000)
        return np.concatenate([engine.process(x[:, i : i + block]).sharpness_acum
                               for i in range(0, x.shape[1], block)], axis=1)

    small, half_second = sharpness(800), sharpness(4000)
    assert half_second.shape == (48, 15) and np.nanmax(small) > 0.5
    np.testing.assert_array_equal(half_second, small)


def test_a_longer_roughness_step_holds_the_analyses_it_makes():
    # With 0.2 s updates, the 200 ms frames end at 0.1, 0.3, 0.5 s ...: exactly the even
    # frames of the 0.1 s step, each held for two output frames, fed in any blocks.
    x = np.ravel(speech_like(3.0, 8000, seed=4, agitated=True))[None] * 0.3
    every = run(x, 8000).roughness_asper
    engine = StreamingPsychoacoustics(1, 8000, roughness_update_s=0.2)
    held = np.concatenate([engine.process(x[:, i : i + 1234]).roughness_asper
                           for i in range(0, x.shape[1], 1234)], axis=1)
    assert held.shape == every.shape == (1, 30)
    assert every[0, 5:].max() > 0.1  # the voice is rough: the comparison means something
    np.testing.assert_allclose(held, every[:, (np.arange(30) // 2) * 2], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="multiple of hop_s"):
        StreamingPsychoacoustics(1, 8000, roughness_update_s=0.15)


def test_frame_means_of_specific_loudness_equal_the_mean_of_every_step():
    # The streaming path averages N'(z) over 0.1 s in the slopes kernel; fed in two
    # pieces that cut a frame, it equals Table A.8/A.9's N' at every step, averaged.
    core = np.random.default_rng(2).gamma(2.0, 0.5, size=(2, 57, 21))
    core[..., -1] = 0.0
    n_every, spec_every = specific_loudness_from_core_loudness(core)
    acc = np.zeros((2, 240))
    n_a, mean_a, phase = specific_loudness_frame_means(core[:, :23], 10, acc, 0)
    n_b, mean_b, phase = specific_loudness_frame_means(core[:, 23:], 10, acc, phase)
    assert (mean_a.shape[1], mean_b.shape[1], phase) == (2, 3, 7)
    np.testing.assert_allclose(np.concatenate([n_a, n_b], axis=1), n_every, rtol=1e-12)
    expected = spec_every[:, :50].reshape(2, 5, 10, 240).mean(axis=2)
    np.testing.assert_allclose(np.concatenate([mean_a, mean_b], axis=1), expected,
                               rtol=1e-12, atol=1e-12)


def test_streams_are_independent():
    a = np.ravel(speech_like(3.0, 8000, seed=5)) * 0.3
    b = np.ravel(speech_like(3.0, 8000, seed=6, agitated=True)) * 0.3
    both = run(np.stack([a, b]), 8000)
    alone = run(a[None], 8000)
    np.testing.assert_allclose(both.roughness_asper[0], alone.roughness_asper[0], atol=1e-6)
    np.testing.assert_allclose(both.loudness_sone[0], alone.loudness_sone[0], rtol=1e-5)


def test_frames_share_one_clock():
    out = run(np.zeros((1, 8000 * 2 + 123)), 8000)
    assert out.time_s[-1] == pytest.approx(2.0)
    assert out.loudness_time_s[-1] == pytest.approx(2.01)
    assert out.specific_loudness.shape == (1, 20, 240)
    assert out.roughness_asper.shape == out.fluctuation_vacil.shape == (1, 20)


def test_bad_input_is_refused_clearly():
    engine = StreamingPsychoacoustics(2, 8000)
    with pytest.raises(ValueError, match="shaped"):
        engine.process(np.zeros((3, 100)))
    with pytest.raises(ValueError, match="NaN or inf"):
        engine.process(np.full((2, 100), np.nan))
    with pytest.raises(ValueError, match="8000 or 16000"):
        StreamingPsychoacoustics(1, 44100)
    with pytest.raises(ValueError, match=r"multiple of 0\.01"):
        StreamingPsychoacoustics(1, 8000, hop_s=0.015)
    # The refused blocks did not disturb the engine.
    out = engine.process(np.zeros((2, 800)))
    assert out.time_s.tolist() == pytest.approx([0.1])


def test_short_time_power_is_the_spectrum_of_each_hann_frame_fed_in_any_blocks():
    # The fused framing (frames written straight into the transform's input) must give
    # exactly |rfft(frame * hann)|² of the frames ending every hop, zeros before the start.
    from emotion.psychoacoustics._framing import ShortTimePower

    x = (np.stack([np.ravel(speech_like(0.5, 8000, seed=s)) for s in (1, 2)]) * 0.3
         ).astype(np.float32)
    frame_len, hop = 64, 16
    padded = np.concatenate([np.zeros((2, frame_len - hop), np.float32), x], axis=1)
    starts = np.arange(0, padded.shape[1] - frame_len + 1, hop)
    frames = padded[:, starts[:, None] + np.arange(frame_len)]
    expected = np.abs(np.fft.rfft(frames * np.hanning(frame_len + 1)[:-1], axis=-1)) ** 2
    short = ShortTimePower(2, frame_len, hop)
    got = np.concatenate([short.process(x[:, i : i + 999]) for i in range(0, x.shape[1], 999)],
                         axis=1)
    assert got.shape == expected.shape == (2, 250, 33)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6 * expected.max())
