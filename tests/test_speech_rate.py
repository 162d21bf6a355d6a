"""Speaking rate: syllable nuclei, rates and pauses on synthetic syllable trains with known
answers, streaming = whole, bad input, and RAVDESS's 7-syllable sentences."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from capture.resample import resample
from conftest import shared_path
from emotion.prosody import (
    StreamingPitch,
    StreamingSpeechRate,
    pitch_track,
    speaking_rate,
    summarise_rate,
)

LEAD_S, PAUSE_S, TAIL_S = 0.3, 0.6, 0.4


def syllable_train(fs_hz, *, phrases=3, per_phrase=5, rate_hz=4.0, f0_hz=130.0,
                   carrier="voice", depth=1.0):
    """Phrases of sin²-shaped syllables on a harmonic voice (or noise), with pauses.

    Returns the signal and the centre time of every syllable.
    """
    rng = np.random.default_rng(0)
    syllable = np.sin(np.pi * np.arange(round(fs_hz / rate_hz)) / (fs_hz / rate_hz)) ** 2
    syllable = 1 - depth + depth * syllable
    parts, centres, t_s = [np.zeros(round(LEAD_S * fs_hz))], [], LEAD_S
    for p in range(phrases):
        for _ in range(per_phrase):
            parts.append(syllable)
            centres.append(t_s + 0.5 / rate_hz)
            t_s += 1 / rate_hz
        gap_s = PAUSE_S if p < phrases - 1 else TAIL_S
        parts.append(np.zeros(round(gap_s * fs_hz)))
        t_s += gap_s
    envelope = np.concatenate(parts)
    t = np.arange(envelope.size) / fs_hz
    if carrier == "voice":
        wave = sum(np.sin(2 * np.pi * k * f0_hz * t + k) / k
                   for k in range(1, int(3500 / f0_hz)))
    else:
        wave = np.random.default_rng(1).standard_normal(t.size)
    return 0.2 * envelope * wave * (1 + 0.001 * rng.standard_normal(t.size)), np.array(centres)


@pytest.mark.parametrize("fs_hz", [8000, 16000])
def test_syllable_train_gives_its_count_rates_and_pauses(fs_hz):
    x, centres = syllable_train(fs_hz)
    rate = speaking_rate(x, fs_hz)
    duration_s = x.size / fs_hz
    assert rate.nuclei.tolist() == [15]
    np.testing.assert_allclose(rate.nucleus_time_s[0], centres, atol=0.02)
    assert rate.duration_s == pytest.approx(duration_s, abs=0.01)
    assert rate.speech_rate_per_s[0] == pytest.approx(15 / duration_s, rel=0.01)
    # Pauses: the lead, two phrase breaks and the tail (1.9 s), plus the few ms where a
    # syllable's sin² edge is 25 dB below its peak.
    pause_s = LEAD_S + 2 * PAUSE_S + TAIL_S
    assert rate.pause_ratio[0] == pytest.approx(pause_s / duration_s, abs=0.03)
    assert rate.articulation_rate_per_s[0] == pytest.approx(4.0, rel=0.05)


def test_rate_follows_the_syllable_rate():
    for rate_hz in (3.0, 5.0, 7.0):
        x, centres = syllable_train(8000, phrases=2, per_phrase=8, rate_hz=rate_hz)
        rate = speaking_rate(x, 8000)
        assert rate.nuclei[0] == centres.size, rate_hz
        assert rate.articulation_rate_per_s[0] == pytest.approx(rate_hz, rel=0.1), rate_hz


def test_unvoiced_bursts_and_shallow_ripples_are_not_syllables():
    noise, _ = syllable_train(8000, carrier="noise")
    assert speaking_rate(noise, 8000).nuclei[0] == 0
    # A 2 dB ripple on one long vowel stays below the 3 dB dip a nucleus needs.
    ripple, _ = syllable_train(8000, phrases=1, per_phrase=6, depth=0.2)
    assert speaking_rate(ripple, 8000).nuclei[0] <= 1


def test_syllables_far_below_the_speaker_are_silence():
    loud, _ = syllable_train(8000, phrases=1)
    quiet, _ = syllable_train(8000, phrases=1)
    rate = speaking_rate(np.concatenate([loud, quiet * 10 ** (-35 / 20)]), 8000)
    assert rate.nuclei[0] == 5
    assert rate.pause_ratio[0] > 0.5


def test_silence_has_no_rate():
    rate = speaking_rate(np.zeros((2, 16000)), 8000)
    assert rate.nuclei.tolist() == [0, 0]
    np.testing.assert_array_equal(rate.pause_ratio, 1.0)
    assert np.isnan(rate.articulation_rate_per_s).all()


def test_streaming_in_blocks_gives_the_same_nuclei_and_windows_as_whole():
    a, _ = syllable_train(16000)
    b, _ = syllable_train(16000, rate_hz=5.0, f0_hz=210.0)
    n = min(a.size, b.size)
    x = np.stack([a[:n], b[:n]])
    pitch_whole, rate_whole = StreamingPitch(2, 16000), StreamingSpeechRate(2)
    whole = rate_whole.update(pitch_whole.process(x))
    pitch, rate = StreamingPitch(2, 16000), StreamingSpeechRate(2)
    sizes = np.random.default_rng(2).choice([0, 3, 160, 999, 4000], 100)
    parts, start = [], 0
    for size in sizes:
        parts.append(rate.update(pitch.process(x[:, start : start + size])))
        start += size
    parts.append(rate.update(pitch.process(x[:, start:])))
    streamed = np.concatenate([p.nucleus_time_s for p in parts], axis=1)
    np.testing.assert_array_equal(streamed, whole.nucleus_time_s)
    np.testing.assert_array_equal(np.concatenate([p.sounding for p in parts], axis=1),
                                  whole.sounding)
    for window_s in (1.0, 2.5, 100.0):
        w_stream, w_whole = rate.window(window_s), rate_whole.window(window_s)
        np.testing.assert_array_equal(w_stream.nuclei, w_whole.nuclei)
        np.testing.assert_array_equal(w_stream.pause_ratio, w_whole.pause_ratio)
    total = summarise_rate(whole)
    np.testing.assert_array_equal(total.nuclei, speaking_rate(x, 16000).nuclei)


def test_window_counts_the_recent_syllables():
    x, centres = syllable_train(8000)
    tracker = StreamingSpeechRate(1)
    tracker.update(pitch_track(x[None], 8000))
    end_s = x.size / 8000
    recent = tracker.window(2.0)
    expected = np.sum(centres > end_s - 2.0 - 0.025)  # frame centres lag ends by 25 ms
    assert recent.nuclei[0] == expected
    assert recent.duration_s == pytest.approx(2.0)
    assert tracker.window(1000.0).nuclei[0] == 15  # the whole history


def test_streams_are_independent():
    a, _ = syllable_train(8000)
    b, _ = syllable_train(8000, phrases=2, rate_hz=6.0)
    pair = speaking_rate(np.stack([a[: b.size], b]), 8000)
    alone = speaking_rate(b, 8000)
    assert pair.nuclei[1] == alone.nuclei[0]
    np.testing.assert_array_equal(pair.nucleus_time_s[1], alone.nucleus_time_s[0])


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="n_streams"):
        StreamingSpeechRate(0)
    with pytest.raises(ValueError, match="silence_db"):
        StreamingSpeechRate(1, silence_db=10)
    tracker = StreamingSpeechRate(2)
    frames = pitch_track(np.zeros((1, 800)), 8000)
    with pytest.raises(ValueError, match="2 streams"):
        tracker.update(frames)
    pitch = StreamingPitch(2, 8000)
    first = pitch.process(np.zeros((2, 800)))
    second = pitch.process(np.zeros((2, 800)))
    with pytest.raises(ValueError, match="in order"):
        tracker.update(second)
    with pytest.raises(ValueError, match="hop_s"):
        StreamingSpeechRate(2, hop_s=0.02).update(first)
    with pytest.raises(ValueError, match="no frame"):
        StreamingSpeechRate(1).window(1.0)
    with pytest.raises(ValueError, match="shaped"):
        speaking_rate(np.zeros((1, 1, 80)), 8000)


@pytest.mark.shared_data
def test_ravdess_sentences_have_about_seven_syllables():
    # "Kids are talking by the door" / "Dogs are sitting by the door": 7 syllables each.
    # Over all 672 files (benchmarks/prosody.py) the count is off by 0.79 on average
    # (clean; 0.74 on the telephone line) and 98 % of files read 5–10, so each of these
    # 8 files must read 4–10 and their mean 6–8.5, on clean 16 kHz audio and on the
    # telephone band at 8 kHz alike.
    import soundfile as sf

    root = shared_path("ravdess")
    with open(root / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["emotion"] in ("neutral", "calm")][::23][:8]
    sos = butter(4, [300, 3400], "bandpass", fs=16000, output="sos")
    for condition in ("clean", "phone"):
        counts = []
        for row in rows:
            x, fs = sf.read(root / row["path"])
            if condition == "phone":
                x, fs = resample(sosfilt(sos, x), fs, 8000), 8000
            counts.append(int(speaking_rate(x, fs).nuclei[0]))
        assert all(4 <= c <= 10 for c in counts), (condition, counts)
        assert 6.0 <= np.mean(counts) <= 8.5, (condition, counts)


@pytest.mark.shared_data
@pytest.mark.xfail(strict=True, reason=(
    "known limit: 1.6x faster speech (WSOLA, pitch kept) measures ~1.4x (1.37x on this "
    "subset): syllable nuclei merge, and no change of dip (2-4 dB), minimum gap, voicing "
    "rule or contour window tried kept them apart without adding nuclei at normal rates "
    "or costing the low-energy head"))
def test_speech_played_1_6_times_faster_measures_1_5_to_1_7_times_the_rate():
    # The batch check's fast-speech events are WSOLA-compressed turns; a speaking-rate
    # measure must see most of the compression. The sentence is the same, so the rate
    # ratio is 1.6 x (nuclei of the fast sentence) / (nuclei of the normal one).
    import sys
    from pathlib import Path

    from capture.audio import read_audio
    from capture.levels import active_speech_level_dbfs
    from capture.telephone import telephone_channel

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _qa_corpus import trim_to_speech, wsola

    def nuclei(x):
        line = telephone_channel(x, 8000, law="ulaw", noise_dbfs=-60.0, seed=1)
        return int(speaking_rate(line, 8000).nuclei[0])

    for corpus, step in (("ravdess", 12), ("emodb", 3)):
        root = shared_path(corpus)
        with open(root / "manifest.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["emotion"] in ("neutral", "calm")]
        ratios = []
        for row in rows[::step]:
            x = trim_to_speech(read_audio(root / row["path"], target_fs_hz=8000).samples[0])
            x = x * 10 ** ((-26.0 - active_speech_level_dbfs(x, 8000)) / 20)
            normal = nuclei(x)
            if normal:
                ratios.append(1.6 * nuclei(wsola(x, 1.6)) / normal)
        assert len(ratios) >= 20, corpus
        assert 1.5 <= np.median(ratios) <= 1.7, (corpus, np.median(ratios))


def loudness_syllables(x: np.ndarray) -> int:
    """Loudness-peak syllables (``syllable_rate_syl_s``'s count) of one 8 kHz recording,
    from the analyser's own 10 ms loudness and speech grid."""
    from emotion.voice import StreamingVoiceAnalyzer
    from emotion.windows import loudness_peaks

    analyser = StreamingVoiceAnalyzer(1, 8000)
    grids = []
    push = analyser.windower.push

    def keep(**grid):
        grids.append((grid["loudness"], grid["speech"]))
        return push(**grid)

    analyser.windower.push = keep
    analyser.process(np.concatenate([x, np.zeros(8000)])[None])
    loudness = np.concatenate([g[0] for g in grids], axis=-1)
    speech = np.concatenate([g[1] for g in grids], axis=-1) > 0.5
    return int(loudness_peaks(loudness, speech)[0])


@pytest.mark.shared_data
def test_loudness_peaks_count_syllables_and_see_most_of_faster_speech():
    # syllable_rate_syl_s (fast_speech's rate): RAVDESS's 7-syllable sentences read 7.3
    # on average over the telephone line, and the same sentences played 1.6x faster
    # ~1.36x more syllables per second of the original (benchmarks/RESULTS.md, seventh
    # round). Below 1.3x, fast_speech would miss most of qa_bench's fast turns.
    import sys
    from pathlib import Path

    from capture.audio import read_audio
    from capture.levels import active_speech_level_dbfs
    from capture.telephone import telephone_channel

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _qa_corpus import trim_to_speech, wsola

    def line(x):
        return telephone_channel(x, 8000, law="ulaw", noise_dbfs=-60.0, seed=1)

    for corpus, step in (("ravdess", 12), ("emodb", 3)):
        root = shared_path(corpus)
        with open(root / "manifest.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["emotion"] in ("neutral", "calm")]
        counts, ratios = [], []
        for row in rows[::step]:
            x = trim_to_speech(read_audio(root / row["path"], target_fs_hz=8000).samples[0])
            x = x * 10 ** ((-26.0 - active_speech_level_dbfs(x, 8000)) / 20)
            normal = loudness_syllables(line(x))
            counts.append(normal)
            if normal:
                ratios.append(1.6 * loudness_syllables(line(wsola(x, 1.6))) / normal)
        if corpus == "ravdess":
            assert 6.0 <= np.mean(counts) <= 8.5, counts
        assert len(ratios) >= 20 and np.median(ratios) >= 1.3, (corpus, np.median(ratios))
