"""Each test agent's voice baseline, fitted from their calibration files alone.

Per speaker, the corpus protocol's calibration files (every other neutral file; RAVDESS
calm too) are laid out as a recording, put through the same telephone line as the test
calls at the nominal level, analysed as ``voiceline calibrate`` analyses a file, and
fitted with :func:`emotion.baseline.fit_baseline`. These speakers have 3-12 s of such
speech, below the 30 s the product asks for (``emotion.baseline.MIN_SPEECH_S``), so the
minimum is lowered as the corpus protocol lowers it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from _qa_calls import LINE_FS_HZ, NOISE_DBFS, PAUSE_S, join_utterances
from _qa_corpus import FS_HZ, Speaker

CALIBRATION_STREAM_S = 16.0
#: voiceline.corpus_protocol.TRAIN_MIN_SPEECH_S; the product's own is 30 s.
BASELINE_MIN_SPEECH_S = 2.0


def calibration_audio(rng: np.random.Generator, agent: Speaker,
                      layout: str = "turns") -> tuple[np.ndarray, int]:
    """The agent's calibration files as one recording (16 kHz), and how often they recur.

    ``"turns"``: the agent's side of a call, as a baseline is fitted in service (from
    recordings of the agent's calls): turns of 1-3 files with the caller's 2-6 s between
    them, so that windows at the edges of turns look as they do in calls. ``"stream"``:
    the files back to back (0.1-0.35 s pauses), as the corpus protocol joins them. Either
    way the files (path order) recur until there are :data:`CALIBRATION_STREAM_S` of
    speech (fit_baseline needs >= 10 windows); the speech is counted once.
    """
    files = sorted(agent.calibration, key=lambda u: u.path)
    once_s = sum(u.duration_s for u in files)
    reps = int(np.ceil(CALIBRATION_STREAM_S / once_s))
    queue = files * reps
    parts = []
    while queue:
        n = len(queue) if layout == "stream" else int(rng.integers(1, 4))
        turn, _ = join_utterances(rng, queue[:n])
        queue = queue[n:]
        gap = rng.uniform(2.0, 6.0) if layout == "turns" else rng.uniform(*PAUSE_S)
        parts += [turn, np.zeros(int(gap * FS_HZ))]
    return np.concatenate(parts), reps


def write_baselines(agents: list[Speaker], base_dir: Path, seed: int,
                    layout: str = "turns") -> dict:
    """Fit and save each agent's 8 kHz baseline from their calibration files alone.

    The recording (:func:`calibration_audio`) goes through the same line as the calls at
    the nominal level and is analysed as ``voiceline calibrate`` analyses a file; the
    baseline is fitted with ``min_speech_s`` lowered to :data:`BASELINE_MIN_SPEECH_S`.
    """
    from capture.audio import AudioClip
    from capture.telephone import telephone_channel
    from emotion.baseline import fit_baseline, save_baseline
    from emotion.voice import analyse_clips
    from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR
    from voiceline import __version__

    rng = np.random.default_rng(seed)
    clips, repeats = [], []
    for agent in agents:
        x, reps = calibration_audio(rng, agent, layout)
        y = telephone_channel(x, FS_HZ, law="ulaw", noise_dbfs=float(rng.uniform(*NOISE_DBFS)),
                              seed=int(rng.integers(2**31)))
        clips.append(AudioClip(y[None], LINE_FS_HZ, f"calibration {agent.key}", "FLOAT"))
        repeats.append(reps)
    info = {}
    for agent, fa, reps in zip(agents, analyse_clips(clips), repeats, strict=True):
        base = fit_baseline(
            fa.windows.features[0][fa.windows.valid[0]], FEATURE_NAMES, agent_id=agent.key,
            channel_type=fa.channel_type, speech_s=fa.speech_s / reps,
            level_profile=fa.level_profile, sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR),
            min_speech_s=BASELINE_MIN_SPEECH_S, software_version=__version__,
        )
        save_baseline(base, base_dir)
        info[agent.key] = {"files": sorted(u.path for u in agent.calibration), "layout": layout,
                           "speech_s": round(base.speech_s, 1), "windows": base.n_windows,
                           "cycled": reps}
    return info
