"""Replayed stereo calls built from acted speech (RAVDESS, EmoDB) for the detection section.

Per speaker, the protocol of ``benchmarks/detection.py`` (:mod:`voiceline.corpus_protocol`):
neutral files sorted by path, every other one from index 0 calibrates (RAVDESS: calm
files likewise), the rest are test-neutral; every file goes through the phone channel
(300-3400 Hz, 8 kHz, G.711 μ-law, line noise) after one gain per speaker that brings the
calibration speech to -26 dBov (:func:`~voiceline.corpus_protocol.condition_audio`). The
speaker's baseline is fitted from their calibration files, cycled to 16 s as the protocol
does, with :func:`emotion.baseline.fit_baseline` (only ``min_speech_s`` lowered: these
speakers have 3-13 s of calibration speech by the VAD, median ~10 s; run time asks for
30 s).

Calls, agent on channel 0, caller on channel 1: turns alternate, caller first; an agent
turn is 1-3 files with 0.15-0.5 s between them, a caller turn 1-2 files of another
speaker of the same corpus, 0.3-1.5 s between turns (the simulator's timing), line noise
at -60 dBFS under everything.

- **onset calls**: agent turns of test-neutral files until at least ``PRE_S`` of call
  time, then agent turns of the speaker's angry files for ``EPISODE_S``, then neutral
  turns for ``AFTER_S``. The onset is the first 10 ms frame of speech of the first angry
  file (frame RMS within 25 dB of the file's loudest frame), so exactly when anger can
  first be heard.
- **neutral calls**: test-neutral turns only, the speaker's few test-neutral files looped
  (reshuffled each pass) for ``neutral_call_s``.
- **burst calls**: neutral turns with, every ``BURST_EVERY_S``, one agent turn holding a
  single loud second (the loudest ``BURST_S`` of one of the speaker's angry files) and
  two neutral files, the burst opening the turn (right after the caller) or in its
  middle, in alternation: does one loud second open an alert?

The shipped scoring model was trained on these same files (anger against test-neutral,
leave-one-speaker-out only in its evaluation), so these calls test the alert rules and
the live path on real voices, not the model's generalisation.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FS_HZ = 8000
SEED = 0
PRE_S = 22.0
EPISODE_S = 30.0
AFTER_S = 12.0
NOISE_DBFS = -60.0
ONSET_RANGE_DB = 25.0
BURST_S = 1.0
BURST_EVERY_S = 35.0


def data_dir(given: str | None = None) -> Path:
    """``given``, else ``$VOICELINE_SHARED_DATA``, else ``/work/shared/data`` beside the repo."""
    if given:
        return Path(given)
    env = os.environ.get("VOICELINE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def missing_reason(root: Path) -> str | None:
    """Why the corpus calls cannot be built from ``root``, or None if they can."""
    from voiceline.corpus_protocol import CORPORA

    absent = [c for c in CORPORA if not (root / c / "manifest.csv").exists()]
    if absent:
        return (f"no {' or '.join(f'{c}/manifest.csv' for c in absent)} under {root} "
                "(pass --data DIR or set VOICELINE_SHARED_DATA)")
    return None


def speech_start_s(y: np.ndarray, fs_hz: int = FS_HZ) -> float:
    """Start of speech in a file: its first 10 ms frame within ``ONSET_RANGE_DB`` of its
    loudest frame, s."""
    n = fs_hz // 100
    frames = y[: y.size // n * n].reshape(-1, n)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return float(np.argmax(level >= level.max() - ONSET_RANGE_DB) * n / fs_hz)


def _baselines(items, audio) -> tuple[dict, dict]:
    """Each speaker's baseline from their calibration files, and its speech seconds."""
    from capture.levels import load_level_profile
    from emotion.baseline import fit_baseline
    from emotion.voice import StreamingVoiceAnalyzer, channel_type, default_level_profile
    from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR
    from voiceline import __version__
    from voiceline.corpus_protocol import TRAIN_MIN_SPEECH_S, condition_streams

    calib = [(i, y) for i, y in zip(items, audio, strict=True) if i.role == "calibration"]
    repeats: dict[str, int] = {}
    streams, spans = condition_streams([i for i, _ in calib], [y for _, y in calib], FS_HZ,
                                       repeats)
    n = max(s.size for s in streams)
    samples = np.zeros((len(streams), n))
    for row, s in enumerate(streams):
        samples[row, : s.size] = s
    profile = load_level_profile(default_level_profile(FS_HZ))
    analyzer = StreamingVoiceAnalyzer(len(streams), FS_HZ, level_profile=profile)
    analyzer.count_until_s[:] = [s.size / FS_HZ for s in streams]
    block = 10 * FS_HZ
    parts = [analyzer.process(samples[:, i : i + block]) for i in range(0, n, block)]
    end_s = np.concatenate([p.end_s for p in parts])
    features = np.concatenate([p.features for p in parts], axis=1)
    valid = np.concatenate([p.valid for p in parts], axis=1)
    bases, speech = {}, {}
    for row, span in enumerate(spans):
        item = span[0][0]
        key = f"{item.corpus}-{item.speaker}"
        keep = valid[row] & (end_s <= streams[row].size / FS_HZ)
        speech[key] = float(analyzer.speech_s[row]) / repeats[item.speaker]
        bases[key] = fit_baseline(
            features[row][keep], FEATURE_NAMES, agent_id=key, channel_type=channel_type(FS_HZ),
            speech_s=speech[key], level_profile=profile.name,
            sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR), min_speech_s=TRAIN_MIN_SPEECH_S,
            software_version=__version__)
    return bases, speech


class _Cycle:
    """Files drawn in a fresh random order each pass."""

    def __init__(self, files: list[np.ndarray], rng: np.random.Generator) -> None:
        self.files, self.rng, self.order = files, rng, []
        self.distinct_s = sum(f.size for f in files) / FS_HZ

    def next(self) -> np.ndarray:
        if not self.order:
            self.order = list(self.rng.permutation(len(self.files)))
        return self.files[self.order.pop()]


def loudest_second(y: np.ndarray, fs_hz: int = FS_HZ) -> np.ndarray:
    """The loudest ``BURST_S`` of a file (by energy), 10 ms raised-cosine edges."""
    n = round(BURST_S * fs_hz)
    energy = np.convolve(y**2, np.ones(n), mode="valid")
    start = int(np.argmax(energy))
    out = y[start : start + n].copy()
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fs_hz // 100))
    out[: ramp.size] *= ramp
    out[-ramp.size :] *= ramp[::-1]
    return out


def _layout(plan: list[tuple[str, _Cycle, float]], callers: _Cycle,
            rng: np.random.Generator) -> tuple[np.ndarray, list]:
    """Lay out agent turns from each ``(style, files, seconds)`` phase, caller turns between.

    A "burst" phase is one agent turn: the burst (its files' next one) and two neutral
    files (the ``seconds`` entry is then that cycle), the burst first or in the middle in
    alternation. Returns int16 ``(2, samples)`` and the agent's pieces as ``(style,
    start_s, y)``.
    """
    from capture.telephone import line_noise

    pieces, agent, t, bursts = [], [], 0.0, 0
    for style, files, seconds in plan:
        phase_end = t + (0.0 if style == "burst" else seconds)
        first = True
        while first or t < phase_end:
            first = False
            for _ in range(int(rng.integers(1, 3))):  # the caller's turn
                y = callers.next()
                pieces.append((1, t, y))
                t += y.size / FS_HZ + float(rng.uniform(0.15, 0.5))
            t += float(rng.uniform(0.3, 1.5))
            if style == "burst":
                turn = [("burst", files.next()), ("neutral", seconds.next()),
                        ("neutral", seconds.next())]
                if bursts % 2:
                    turn[:2] = turn[1::-1]
                bursts += 1
            else:
                turn = [(style, files.next()) for _ in range(int(rng.integers(1, 4)))]
            for piece_style, y in turn:  # the agent's turn
                pieces.append((0, t, y))
                agent.append((piece_style, t, y))
                t += y.size / FS_HZ + float(rng.uniform(0.15, 0.5))
            t += float(rng.uniform(0.3, 1.5))
    n = int(np.ceil(t * FS_HZ))
    whole_s = int(np.ceil(t))  # a smooth FFT length for the noise
    out = line_noise((2, whole_s * FS_HZ), FS_HZ, NOISE_DBFS,
                     seed=int(rng.integers(2**31)))[:, :n]
    for channel, start_s, y in pieces:
        at = round(start_s * FS_HZ)
        out[channel, at : at + y.size] += y
    return np.clip(np.rint(out * 32768.0), -32768, 32767).astype(np.int16), agent


def corpus_calls(root: Path, plan: dict) -> tuple[list[dict], dict, dict]:
    """Onset, neutral and loud-second calls of every speaker, their baselines, and what
    they hold.

    ``plan``: ``speakers`` per corpus (None = all), ``onset_calls`` per speaker,
    ``neutral_call_s``, ``bursts`` (loud seconds in the speaker's burst call). Returns
    the calls (as the detection section's synthetic ones, with ``kind``, ``corpus``,
    ``episode_end_s`` and ``bursts_s``), the baselines by agent id, and per agent the
    calibration speech and distinct test-neutral audio, s.
    """
    from voiceline.corpus_protocol import CORPORA, condition_audio, read_manifest

    calls, bases, info = [], {}, {}
    for corpus in CORPORA:
        items = read_manifest(root, corpus)
        speakers = sorted({i.speaker for i in items})[: plan["speakers"]]
        items = [i for i in items if i.speaker in speakers]
        audio = condition_audio(items, SEED, "phone")
        found, speech = _baselines(items, audio)
        bases |= found
        for s_index, speaker in enumerate(speakers):
            agent = f"{corpus}-{speaker}"
            other = speakers[(s_index + 1) % len(speakers)]
            mine = [(i, y) for i, y in zip(items, audio, strict=True) if i.speaker == speaker]
            neutral = [y for i, y in mine if i.role == "test-neutral"]
            angry = [y for i, y in mine if i.emotion == "anger"]
            caller_files = [y for i, y in zip(items, audio, strict=True)
                            if i.speaker == other and i.role in ("calibration", "test-neutral")]
            info[agent] = {"calibration_speech_s": speech[agent],
                           "neutral_distinct_s": sum(y.size for y in neutral) / FS_HZ,
                           "neutral_files": len(neutral)}
            bursts = [loudest_second(y) for y in angry]
            for k in range(plan["onset_calls"] + 2):
                rng = np.random.default_rng([SEED, CORPORA.index(corpus), s_index, k])
                callers, neutral_c = _Cycle(caller_files, rng), _Cycle(neutral, rng)
                if k < plan["onset_calls"]:
                    kind = "onset"
                    phases = [("neutral", neutral_c, PRE_S),
                              ("angry", _Cycle(angry, rng), EPISODE_S),
                              ("neutral", neutral_c, AFTER_S)]
                elif k == plan["onset_calls"]:
                    kind = "neutral"
                    phases = [("neutral", neutral_c, plan["neutral_call_s"])]
                else:
                    kind = "burst"
                    phases = [("neutral", neutral_c, PRE_S)]
                    burst_c = _Cycle(bursts, rng)
                    for _ in range(plan["bursts"]):
                        phases += [("burst", burst_c, neutral_c),
                                   ("neutral", neutral_c, BURST_EVERY_S)]
                pcm, agent_files = _layout(phases, callers, rng)
                onset = end = None
                hot = [(t, y) for style, t, y in agent_files if style == "angry"]
                if hot:
                    onset = hot[0][0] + speech_start_s(hot[0][1])
                    end = hot[-1][0] + hot[-1][1].size / FS_HZ
                calls.append({"call_id": f"{agent}-{k}", "seat_id": f"C{len(calls):03d}",
                              "agent": agent, "corpus": corpus, "kind": kind, "audio": pcm,
                              "onset_s": onset, "heard_s": onset, "episode_end_s": end,
                              "bursts_s": [t for style, t, _ in agent_files if style == "burst"],
                              "duration_s": pcm.shape[1] / FS_HZ})
    return calls, bases, info
