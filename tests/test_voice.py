"""The voice analyser: the same windows for a file and a live stream, sensible features."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from capture.synth import speech_like
from emotion.voice import StreamingVoiceAnalyzer, analyse_file
from emotion.windows import FEATURE_NAMES

IDX = {name: i for i, name in enumerate(FEATURE_NAMES)}


@pytest.fixture(scope="module")
def calm_then_agitated():
    calm = np.ravel(speech_like(12.0, 8000, seed=11))
    agitated = np.ravel(speech_like(12.0, 8000, seed=12, agitated=True))
    return np.concatenate([calm, agitated])


def test_file_and_live_stream_give_the_same_windows(tmp_path, calm_then_agitated):
    path = tmp_path / "call.wav"
    sf.write(path, calm_then_agitated, 8000, subtype="FLOAT")
    from_file = analyse_file(str(path))
    live = StreamingVoiceAnalyzer(1, 8000)
    rng = np.random.default_rng(0)
    parts, i, x = [], 0, calm_then_agitated[None]
    while i < x.shape[1]:
        n = int(rng.integers(80, 4000))  # 10 ms .. 0.5 s packets, as a network delivers
        parts.append(live.process(x[:, i : i + n]))
        i += n
    streamed = np.concatenate([p.features for p in parts], axis=1)
    n = from_file.windows.features.shape[1]
    # The pitch stage runs in float32, so medians of tiny frame-to-frame pitch steps
    # (f0_movement_st) agree to ~1e-5 relative; everything else to ~1e-7.
    np.testing.assert_allclose(streamed[:, :n], from_file.windows.features, rtol=1e-4)
    assert from_file.windows.valid.sum() >= 18


def test_an_agitated_stretch_reads_louder_higher_and_faster(tmp_path, calm_then_agitated):
    path = tmp_path / "call.wav"
    sf.write(path, calm_then_agitated, 8000, subtype="FLOAT")
    f = analyse_file(str(path)).windows.features[0]
    calm, agitated = np.nanmedian(f[3:11], axis=0), np.nanmedian(f[15:23], axis=0)
    assert agitated[IDX["loudness_mean_sone"]] > 1.3 * calm[IDX["loudness_mean_sone"]]
    assert agitated[IDX["f0_median_st"]] > calm[IDX["f0_median_st"]] + 2.0
    assert agitated[IDX["speech_rate_syl_s"]] > calm[IDX["speech_rate_syl_s"]]


def test_streams_do_not_leak_into_each_other(calm_then_agitated):
    x = calm_then_agitated[: 8000 * 8]
    both = StreamingVoiceAnalyzer(2, 8000).process(np.stack([x, np.zeros_like(x)]))
    alone = StreamingVoiceAnalyzer(1, 8000).process(x[None])
    np.testing.assert_allclose(both.features[0], alone.features[0], rtol=1e-6)
    assert not both.valid[1].any()  # silence has no windows


def test_files_analysed_together_get_the_windows_they_get_alone(tmp_path):
    from emotion.voice import analyse_files

    paths = []
    for i, seconds in enumerate((6.0, 9.0)):
        path = tmp_path / f"f{i}.wav"
        sf.write(path, np.ravel(speech_like(seconds, 8000, seed=20 + i)), 8000,
                 subtype="FLOAT")
        paths.append(str(path))
    together = analyse_files(paths)
    for path, batch in zip(paths, together, strict=True):
        alone = analyse_file(path)
        assert batch.windows.end_s.tolist() == alone.windows.end_s.tolist()
        np.testing.assert_allclose(batch.windows.features, alone.windows.features, rtol=1e-6)
        assert batch.speech_s == pytest.approx(alone.speech_s)
