"""Voice activity detection: known answers on synthetic speech and noise, streaming contracts.

The synthetic voice is ``capture.synth.speech_like`` (pauses are digital silence), so which
30 ms frames hold speech is known from the clean signal.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import scipy.signal
import soundfile as sf
import webrtcvad

from capture.g711 import ulaw_decode, ulaw_encode
from capture.levels import active_speech_level_dbfs
from capture.resample import resample
from capture.synth import speech_like
from conftest import shared_path
from emotion.vad import QUIET_STRIDE, StreamingVAD, VadFrames, vad_segments

BURST_STARTS_S = (2.0, 6.0, 10.0, 14.0)


def _webrtcvad_alone(x: np.ndarray, fs_hz: int, mode: int = 1) -> np.ndarray:
    """webrtcvad's own decision on each whole 30 ms frame of float or int16 samples."""
    pcm = x if x.dtype == np.int16 else np.clip(np.rint(x * 32768), -32768, 32767)
    frame = 3 * fs_hz // 100
    pcm = pcm[: pcm.size // frame * frame].astype(np.int16).reshape(-1, frame)
    vad = webrtcvad.Vad(mode)
    return np.array([vad.is_speech(f.tobytes(), fs_hz) for f in pcm])


def _bursts(fs_hz: int) -> np.ndarray:
    """Four 2 s bursts of synthetic speech at -26 dBov, 2 s of digital silence between."""
    parts = []
    for k, _ in enumerate(BURST_STARTS_S):
        parts += [np.zeros(2 * fs_hz), speech_like(2.0, fs_hz, seed=k, f0_hz=120 + 30 * k)]
    return np.concatenate([*parts, np.zeros(2 * fs_hz)])


def _white(n: int, level_dbfs: float, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n) * 10 ** (level_dbfs / 20)


def _frame_levels_db(x: np.ndarray, frame_len: int, n_frames: int) -> np.ndarray:
    frames = x[: n_frames * frame_len].reshape(n_frames, frame_len)
    return 10 * np.log10(np.maximum(np.mean(frames**2, axis=1), 1e-12))


def _concat(parts: list[VadFrames]) -> dict[str, np.ndarray]:
    return {
        "time": np.concatenate([p.frame_time_s for p in parts]),
        **{k: np.concatenate([getattr(p, k) for p in parts], axis=1)
           for k in ("speech", "webrtc_speech", "level_dbfs", "noise_floor_dbfs")},
    }


@pytest.mark.parametrize("fs_hz", [8000, 16000])
def test_speech_bursts_in_white_noise_at_20_db_snr(fs_hz):
    clean = _bursts(fs_hz)
    asl = active_speech_level_dbfs(clean, fs_hz)
    out = StreamingVAD(1, fs_hz).process((clean + _white(clean.size, asl - 20))[None])
    speech = out.speech[0]
    levels = _frame_levels_db(clean, fs_hz * 30 // 1000, speech.size)
    audible = levels >= asl - 25  # speech frames within 25 dB of the active level
    assert audible.sum() > 150
    assert speech[audible].mean() >= 0.90
    # noise-only stretches: from 0.3 s after each burst (the hangover) to the next burst
    t = out.frame_time_s
    near_speech = np.zeros(t.size, dtype=bool)
    for start in BURST_STARTS_S:
        near_speech |= (t > start) & (t <= start + 2.3)
    assert (~speech[~near_speech]).mean() >= 0.95
    # and the floor found the noise: white noise at asl - 20 dBFS
    assert np.median(out.noise_floor_dbfs[0, ~near_speech]) == pytest.approx(asl - 20, abs=1.5)


@pytest.mark.parametrize("fs_hz", [8000, 16000])
def test_moderate_white_noise_is_not_speech_though_webrtcvad_alone_says_it_is(fs_hz):
    noise = _white(5 * fs_hz, -30.0)
    out = StreamingVAD(1, fs_hz).process(noise[None])
    assert _webrtcvad_alone(noise, fs_hz).mean() >= 0.9  # the gate is what rejects it
    assert out.speech.mean() <= 0.02
    # and webrtcvad is asked only about a sample of the frames of noise that never
    # rises above its floor (which keeps its noise model in touch with the line)
    assert out.webrtc_speech.mean() <= 1 / QUIET_STRIDE + 0.01


def test_level_of_a_tone_is_its_rms_in_dbfs_for_float_and_int16_input():
    fs = 8000
    tone = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(fs) / fs)  # RMS -23.01 dBFS
    pcm = np.round(tone * 32768).astype(np.int16)
    a = StreamingVAD(1, fs).process(tone[None])
    b = StreamingVAD(1, fs).process(pcm[None])
    np.testing.assert_allclose(a.level_dbfs[0, 4:], 20 * np.log10(0.1 / np.sqrt(2)), atol=0.02)
    np.testing.assert_allclose(a.level_dbfs, b.level_dbfs, atol=1e-3)
    np.testing.assert_allclose(a.frame_time_s, np.arange(1, 34) * 0.03)


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_blocks_of_any_size_give_the_same_decisions_as_whole(frame_ms):
    fs = 8000
    clean = _bursts(fs)[: 9 * fs]
    streams = np.stack([clean + _white(clean.size, -46, seed=s) for s in range(3)])
    streams[2] *= 0.2  # a quieter seat
    whole = _concat([StreamingVAD(3, fs, frame_ms=frame_ms).process(streams)])
    vad, parts, i = StreamingVAD(3, fs, frame_ms=frame_ms), [], 0
    rng = np.random.default_rng(7)
    while i < streams.shape[1]:
        n = int(rng.choice([0, 1, 7, 80, 239, 241, 1000, 3333]))
        parts.append(vad.process(streams[:, i : i + n]))
        i += n
    chunked = _concat(parts)
    assert whole["speech"].any() and not whole["speech"].all()
    for key in ("speech", "webrtc_speech", "time"):
        np.testing.assert_array_equal(chunked[key], whole[key])
    for key in ("level_dbfs", "noise_floor_dbfs"):
        np.testing.assert_allclose(chunked[key], whole[key], rtol=0, atol=1e-9)


def test_streams_do_not_influence_each_other():
    fs = 8000
    clean = _bursts(fs)[: 8 * fs]
    streams = np.stack([clean + _white(clean.size, -46), _white(clean.size, -25, seed=2),
                        0.3 * clean + _white(clean.size, -60, seed=3)])
    together = StreamingVAD(3, fs).process(streams)
    for s in range(3):
        alone = StreamingVAD(1, fs).process(streams[s : s + 1])
        np.testing.assert_array_equal(together.speech[s], alone.speech[0])
        np.testing.assert_allclose(together.noise_floor_dbfs[s], alone.noise_floor_dbfs[0])


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_digital_silence_leaves_no_subnormal_numbers_in_the_filter(dtype):
    # A silence-suppressed leg records exact zeros; a plain high-pass would decay into
    # subnormal numbers there and stay (a limit cycle), each sample ~20 times slower.
    fs = 8000
    speech = speech_like(2.0, fs, seed=4)
    block = np.concatenate([speech, np.zeros(60 * fs)])[None, :]
    if dtype == np.int16:
        block = np.rint(block * 32768).astype(np.int16)
    vad = StreamingVAD(1, fs)
    frames = [vad.process(part.astype(dtype)) for part in np.array_split(block, 31, axis=1)]
    state = np.abs(vad._zi)
    assert np.all((state == 0) | (state >= np.finfo(np.float64).tiny)), state
    levels = _concat(frames)["level_dbfs"][0]
    n_speech = 2 * 100 // 3
    assert levels[: n_speech].max() > -40
    np.testing.assert_array_equal(levels[n_speech + 10 :], -120.0)


@pytest.mark.parametrize(("old_line_dbfs", "new_line_dbfs"), [(-20, -50), (-90, -36)])
def test_reset_starts_one_seat_afresh_and_leaves_the_others_alone(old_line_dbfs, new_line_dbfs):
    fs = 8000
    old_call = _white(3 * fs + 100, old_line_dbfs)  # not a whole number of frames
    talk = _bursts(fs)[2 * fs : 8 * fs]  # the new caller talks at once
    new_call = talk + _white(talk.size, new_line_dbfs, seed=4)
    other = _bursts(fs)[: old_call.size + new_call.size] * 0.5

    def run(reset: bool) -> VadFrames:
        vad = StreamingVAD(2, fs)
        vad.process(np.stack([old_call, other[: old_call.size]]))
        if reset:
            vad.reset(0)
        return vad.process(np.stack([new_call, other[old_call.size :]]))

    after = run(reset=True)
    # stream 0 is a new seat: its buffered part-frame became zeros, nothing else remains
    pending = old_call.size % 240
    fresh = StreamingVAD(1, fs).process(np.concatenate([np.zeros(pending), new_call])[None])
    for key in ("speech", "webrtc_speech", "noise_floor_dbfs"):
        np.testing.assert_array_equal(getattr(after, key)[0], getattr(fresh, key)[0])
    # stream 1 went on as if nothing happened
    uninterrupted = StreamingVAD(1, fs).process(other[None]).speech[0]
    np.testing.assert_array_equal(after.speech[1], uninterrupted[-after.speech.shape[1] :])
    # without the reset, the old line's noise floor misleads the first seconds of the new call
    stale = run(reset=False)
    assert np.sum(stale.speech[0, :70] != fresh.speech[0, :70]) >= 10


def test_skipping_silence_keeps_the_frame_clock_and_a_reset_stream_decides_as_after_it():
    """The live engine skips its caller detector while no call has a caller: the frames
    must then end where they would have, and a stream reset for its call decide the same."""
    x = np.stack([_bursts(8000)[: 5 * 8000], _white(5 * 8000, -50.0)])
    heard, skipped = StreamingVAD(2, 8000), StreamingVAD(2, 8000)
    heard.process(np.zeros((2, 1000)))
    skipped.skip(1000)
    for vad in (heard, skipped):
        vad.reset(0)
        vad.reset(1)
    a, b = heard.process(x), skipped.process(x)
    assert a.first_frame == b.first_frame == 1000 // heard.frame_len
    assert np.array_equal(a.frame_time_s, b.frame_time_s)
    assert np.array_equal(a.speech, b.speech) and a.speech[0].any()
    assert np.array_equal(a.level_dbfs, b.level_dbfs)
    with pytest.raises(ValueError, match=">= 0"):
        skipped.skip(-1)


def test_vad_segments_match_streaming_and_the_bursts():
    fs = 16000
    clean = _bursts(fs)
    x = clean + _white(clean.size, -46)
    mask, segments = vad_segments(x, fs)
    streamed = StreamingVAD(1, fs).process(x[None]).speech[0]
    np.testing.assert_array_equal(mask, streamed)
    assert mask.size == x.size // 480
    assert segments.shape[1] == 2 and np.all(segments[:, 1] > segments[:, 0])
    np.testing.assert_allclose(
        sum(end - start for start, end in segments), mask.sum() * 0.03, atol=1e-9)
    for start, end in segments:  # every segment lies in a burst (plus the hangover)
        assert any(b <= start and end <= b + 2.0 + 0.2 for b in BURST_STARTS_S), (start, end)
    for b in BURST_STARTS_S:  # every burst is found
        assert any(b <= start < b + 0.5 for start, _ in segments), b

    both, per_stream = vad_segments(np.stack([x, 0.5 * x]), fs, frame_ms=20)
    assert both.shape == (2, x.size // 320) and len(per_stream) == 2


def test_bad_input_is_refused_with_a_reason_and_changes_nothing():
    fs = 8000
    x = _bursts(fs)[: 4 * fs][None] + _white(4 * fs, -46)
    vad, reference = StreamingVAD(1, fs), StreamingVAD(1, fs)
    first = vad.process(x[:, :1000])
    reference.process(x[:, :1000])
    bad = x[:, 1000:2000].copy()
    bad[0, 17] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vad.process(bad)
    with pytest.raises(ValueError, match=r"streams=1, samples"):
        vad.process(x[0, 1000:2000])
    with pytest.raises(ValueError, match=r"streams=1, samples"):
        vad.process(np.vstack([x[:, 1000:2000]] * 2))
    with pytest.raises(ValueError, match="divide by 32768"):
        vad.process(x[:, 1000:2000] * 32768)
    with pytest.raises(ValueError, match="int16"):
        vad.process(np.zeros((1, 100), dtype=np.int32))
    rest, expected = vad.process(x[:, 1000:]), reference.process(x[:, 1000:])
    assert first.first_frame == 0 and rest.first_frame == expected.first_frame == 1000 // 240
    np.testing.assert_array_equal(rest.speech, expected.speech)
    np.testing.assert_array_equal(rest.noise_floor_dbfs, expected.noise_floor_dbfs)


def test_bad_settings_are_refused_with_a_reason():
    with pytest.raises(ValueError, match=r"8000 or 16000 Hz.*resample"):
        StreamingVAD(2, 44100)
    with pytest.raises(ValueError, match="8000 or 16000"):
        vad_segments(np.zeros(4410), 44100)
    with pytest.raises(ValueError, match="frame_ms"):
        StreamingVAD(2, 8000, frame_ms=25)
    with pytest.raises(ValueError, match="aggressiveness"):
        StreamingVAD(2, 8000, aggressiveness=4)
    with pytest.raises(ValueError, match="n_streams"):
        StreamingVAD(0, 8000)
    with pytest.raises(ValueError, match="hangover_ms"):
        StreamingVAD(1, 8000, hangover_ms=-10)
    with pytest.raises(IndexError, match="out of range"):
        StreamingVAD(2, 8000).reset(2)


@pytest.mark.shared_data
def test_real_telephone_speech_on_a_hot_noisy_line():
    """RAVDESS speech, 300-3400 Hz, 8 kHz, μ-law, -16 dBov, white noise at 10 dB SNR.

    webrtcvad alone calls nearly every frame speech at this noise level; the gate does not.
    """
    root = shared_path("ravdess")
    with open(root / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["speaker"] == "Actor_02"][:4]
    fs = 8000
    parts = []
    for r in rows:
        x, fs_in = sf.read(root / r["path"], dtype="float64")
        parts += [np.zeros(fs // 2), resample(x, fs_in, fs)]
    clean = _telephone_band(np.concatenate(parts), fs)
    clean *= 10 ** ((-16 - active_speech_level_dbfs(clean, fs)) / 20)
    noise = _telephone_band(_white(clean.size, 0.0), fs)
    noise *= 10 ** (-26 / 20) / np.sqrt(np.mean(noise**2))  # 10 dB below the speech
    pcm = np.clip(np.round((clean + noise) * 32768), -32768, 32767).astype(np.int16)
    pcm = ulaw_decode(ulaw_encode(pcm))
    out = StreamingVAD(1, fs).process(pcm[None])
    labels = _frame_levels_db(clean, 240, out.speech.shape[1]) >= -16 - 35
    alone = _webrtcvad_alone(pcm, fs)[: labels.size]
    assert alone[~labels].mean() > 0.9
    assert out.speech[0, ~labels].mean() < 0.15
    assert out.speech[0, labels].mean() > 0.6


def _telephone_band(x: np.ndarray, fs_hz: int) -> np.ndarray:
    sos = scipy.signal.butter(6, (300, 3400), btype="bandpass", fs=fs_hz, output="sos")
    return scipy.signal.sosfiltfilt(sos, x)
