"""The corpus protocol shared by ``voiceline train-model`` and ``benchmarks/detection.py``.

Protocol (issue 3, sections 4-5): per speaker, the neutral files sorted by path are
split by alternation — index 0, 2, 4 … calibrate, the rest are test-neutral (RAVDESS:
the calm files likewise, separately). Every file goes through the condition's channel
after one gain per *speaker* that brings their calibration speech to -26 dBov (P.56),
so that a loud anger stays loud:

- ``phone``: 300-3400 Hz, 8 kHz, G.711 μ-law, line noise drawn per file from
  -60..-45 dBFS, analysed with the ``g711-telephone`` level profile;
- ``clean``: the corpus audio at 16 kHz, analysed with the ``headset`` profile.

Each speaker's baseline is fitted from their calibration files by
:func:`emotion.baseline.fit_baseline` as at run time (only ``min_speech_s`` lowered), and
their other windows are robust-z'd against it.

The corpora's files are 2-3.5 s long, shorter than one 3 s feature window, so a speaker's
files of one role (calibration, test-neutral, one emotion) are joined in path order into
one stream, as if the speaker had said them in one call; each window belongs to the file
holding its centre. Data are read in place, never copied.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voiceline import __version__

CONDITIONS = ("phone", "clean")

CORPORA = ("emodb", "ravdess")
TARGET_LEVEL_DBOV = -26.0
NOISE_DBFS_RANGE = (-60.0, -45.0)
#: The corpora give 3-20 s of calibration speech per speaker (EmoDB speaker 10: two 2 s
#: files); run time asks for 30 s.
TRAIN_MIN_SPEECH_S = 2.0
#: Calibration audio shorter than this is cycled so that fit_baseline gets >= 10 windows.
CALIBRATION_STREAM_S = 16.0
#: Weight in training of a window of a levelled copy (see :func:`training_windows`):
#: half a recorded window's, so the loudness the recordings carry still counts. With
#: whole weight, within-RAVDESS anger AUC fell under 0.99; with half it held 0.990.
LEVELLED_COPY_WEIGHT = 0.5


def default_data_dir() -> Path:
    env = os.environ.get("VOICELINE_SHARED_DATA")
    return Path(env) if env else Path("..") / "shared" / "data"


@dataclass
class Item:
    """One recording of the protocol."""

    corpus: str
    speaker: str
    emotion: str
    path: Path
    role: str  # "calibration", "test-neutral" or the emotion name


@dataclass
class SpeakerWindows:
    """A speaker's z-scored test windows, with the file and role of each."""

    corpus: str
    speaker: str
    z: np.ndarray  # (n, F)
    role: list[str] = field(default_factory=list)
    file: list[str] = field(default_factory=list)
    calibration_speech_s: float = 0.0
    #: Per window: from a levelled training copy (:func:`training_windows`), never scored.
    copy: list[bool] = field(default_factory=list)
    #: The windows' features before z-scoring ``(n, F)``, and the speaker's baseline
    #: (:func:`corpus_windows`; the benchmarks judge a line's level from them).
    features: np.ndarray | None = None
    baseline: object = None

    def copies(self) -> np.ndarray:
        """Per window, True for a levelled training copy's (never scored)."""
        return np.asarray(self.copy or [False] * len(self.file), dtype=bool)

    def weights(self) -> np.ndarray:
        """Each window's weight in training: 1, or :data:`LEVELLED_COPY_WEIGHT`."""
        return np.where(self.copies(), LEVELLED_COPY_WEIGHT, 1.0)


def read_manifest(data_dir: Path, corpus: str) -> list[Item]:
    """The corpus's files with their protocol role (calibration / test-neutral / emotion)."""
    root = data_dir / corpus
    manifest = root / "manifest.csv"
    if not manifest.exists():
        from voiceline.cli import UserError

        raise UserError(f"{manifest} not found; pass --data DIR holding emodb/ and ravdess/ "
                        "(or set VOICELINE_SHARED_DATA)")
    with manifest.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"path", "speaker", "emotion"} - set(reader.fieldnames or ())
        rows = list(reader)
    if missing:
        from voiceline.cli import UserError

        raise UserError(f"{manifest}: a corpus manifest needs columns path,speaker,emotion "
                        f"(missing {', '.join(sorted(missing))})")
    items = []
    by_speaker: dict[str, list[dict]] = {}
    for row in rows:
        by_speaker.setdefault(row["speaker"], []).append(row)
    for speaker in sorted(by_speaker):
        rows_s = sorted(by_speaker[speaker], key=lambda r: r["path"])
        for emotion in sorted({r["emotion"] for r in rows_s}):
            chosen = [r for r in rows_s if r["emotion"] == emotion]
            for k, r in enumerate(chosen):
                if emotion in ("neutral", "calm"):
                    role = "calibration" if k % 2 == 0 else "test-neutral"
                else:
                    role = emotion
                items.append(Item(corpus, speaker, emotion, root / r["path"], role))
    return items


def condition_rate_hz(condition: str) -> int:
    """Sample rate the condition's audio is analysed at."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; choose from {CONDITIONS}")
    return 8000 if condition == "phone" else 16000


def condition_audio(items: list[Item], seed: int, condition: str = "phone", *,
                    levelled: bool = False) -> list[np.ndarray]:
    """Each item's audio through the condition's channel (digital, ±1.0), in item order.

    One gain per speaker brings their calibration files to :data:`TARGET_LEVEL_DBOV`.
    ``levelled``: every other file is brought to that level too, one gain per file, as a
    line's level control would (the training copies of :func:`training_windows`; the line
    noise is drawn anew).
    """
    from capture.audio import read_audio
    from capture.levels import active_speech_level_dbfs
    from capture.resample import resample
    from capture.telephone import telephone_channel

    fs_out = condition_rate_hz(condition)
    rng = np.random.default_rng(seed + 1 if levelled else seed)
    raw = [read_audio(item.path) for item in items]
    gains = {}
    for speaker in sorted({i.speaker for i in items}):
        calib = [c for i, c in zip(items, raw, strict=True)
                 if i.speaker == speaker and i.role == "calibration"]
        level = active_speech_level_dbfs(np.concatenate([c.samples[0] for c in calib]),
                                         calib[0].fs_hz)
        gains[speaker] = 10 ** ((TARGET_LEVEL_DBOV - level) / 20)
    out = []
    for item, clip in zip(items, raw, strict=True):
        x = gains[item.speaker] * clip.samples[0]
        if levelled and item.role != "calibration":
            x = x * 10 ** ((TARGET_LEVEL_DBOV - active_speech_level_dbfs(x, clip.fs_hz)) / 20)
        noise = float(rng.uniform(*NOISE_DBFS_RANGE))
        noise_seed = int(rng.integers(2**31))
        if condition == "phone":
            out.append(telephone_channel(x, clip.fs_hz, law="ulaw", noise_dbfs=noise,
                                         seed=noise_seed))
        else:
            y = x if clip.fs_hz == fs_out else resample(x, clip.fs_hz, fs_out)
            out.append(np.clip(y, -1.0, 32767 / 32768))
    return out


def condition_streams(items: list[Item], audio: list[np.ndarray], fs_hz: int,
                      repeats: dict[str, int]):
    """Per speaker and role, the items' audio joined in path order into one stream.

    Returns the streams and, per stream, ``[(item, start_s, end_s), ...]``; ``repeats``
    receives how often each speaker's calibration audio was cycled.
    """
    by_item = {id(i): y for i, y in zip(items, audio, strict=True)}
    streams, spans = [], []
    for speaker in sorted({i.speaker for i in items}):
        mine = [i for i in items if i.speaker == speaker]
        for role in sorted({i.role for i in mine}):
            parts, span, t = [], [], 0.0
            for item in (i for i in mine if i.role == role):
                y = by_item[id(item)]
                parts.append(y)
                span.append((item, t, t + y.size / fs_hz))
                t += y.size / fs_hz
            if role == "calibration":
                # fit_baseline needs >= 10 windows; a speaker with two 2 s neutral files
                # has 2. Cycle their calibration audio (same order) to CALIBRATION_STREAM_S;
                # the speech seconds are counted once (see corpus_windows).
                unique = np.concatenate(parts)
                reps = int(np.ceil(CALIBRATION_STREAM_S * fs_hz / unique.size))
                parts = [unique] * reps
                span = [(span[0][0], 0.0, reps * t)]
                repeats[speaker] = reps
            streams.append(np.concatenate(parts))
            spans.append(span)
    return streams, spans


@dataclass
class AnalysisCost:
    """What the feature analysis of a corpus cost: CPU seconds for seconds of audio."""

    audio_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def x_realtime(self) -> float:
        return self.audio_s / self.cpu_s if self.cpu_s > 0 else float("nan")


def corpus_windows(items: list[Item], seed: int, condition: str = "phone", *,
                   audio: list[np.ndarray] | None = None,
                   cost: AnalysisCost | None = None) -> list[SpeakerWindows]:
    """Analyse one corpus (all its streams at once) and z-score each speaker's windows.

    ``audio`` (from :func:`condition_audio`) is computed if not given; ``cost`` receives
    the CPU time of the feature analysis alone and the seconds of audio it covered.
    """
    from capture.levels import load_level_profile
    from emotion.baseline import fit_baseline
    from emotion.scoring import Z_LIMIT
    from emotion.voice import StreamingVoiceAnalyzer, channel_type, default_level_profile
    from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR

    fs_hz = condition_rate_hz(condition)
    if audio is None:
        audio = condition_audio(items, seed, condition)
    repeats: dict[str, int] = {}
    streams, spans = condition_streams(items, audio, fs_hz, repeats)
    n = max(s.size for s in streams)
    samples = np.zeros((len(streams), n))
    for row, s in enumerate(streams):
        samples[row, : s.size] = s
    profile = load_level_profile(default_level_profile(fs_hz))
    cpu0 = time.process_time()
    analyzer = StreamingVoiceAnalyzer(len(streams), fs_hz, level_profile=profile)
    analyzer.count_until_s[:] = [s.size / fs_hz for s in streams]
    block = 10 * fs_hz
    parts = [analyzer.process(samples[:, i: i + block]) for i in range(0, n, block)]
    if cost is not None:
        cost.cpu_s += time.process_time() - cpu0
        cost.audio_s += sum(s.size for s in streams) / fs_hz
    end_s = np.concatenate([p.end_s for p in parts])
    features = np.concatenate([p.features for p in parts], axis=1)
    valid = np.concatenate([p.valid for p in parts], axis=1)
    window_s = analyzer.windower.window * 0.01

    out = []
    for speaker in sorted({i.speaker for i in items}):
        rows = [r for r, span in enumerate(spans) if span[0][0].speaker == speaker]
        calib = [r for r in rows if spans[r][0][0].role == "calibration"]
        cal_x = np.concatenate([features[r][valid[r] & (end_s <= streams[r].size / fs_hz)]
                                for r in calib])
        cal_speech = float(sum(analyzer.speech_s[r] for r in calib)) / repeats[speaker]
        base = fit_baseline(
            cal_x, FEATURE_NAMES, agent_id=f"{items[0].corpus}-{speaker}",
            channel_type=channel_type(fs_hz),
            speech_s=cal_speech, level_profile=profile.name,
            sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR), min_speech_s=TRAIN_MIN_SPEECH_S,
            software_version=__version__,
        )
        sw = SpeakerWindows(items[0].corpus, speaker, np.zeros((0, len(FEATURE_NAMES))),
                            calibration_speech_s=cal_speech)
        zs, raw = [], []
        for r in rows:
            if r in calib:
                continue
            for w in np.flatnonzero(valid[r] & (end_s <= streams[r].size / fs_hz)):
                centre = end_s[w] - window_s / 2
                item = next((it for it, a, b in spans[r] if a <= centre < b), spans[r][-1][0])
                zs.append(base.z(features[r, w]))
                raw.append(features[r, w])
                sw.role.append(item.role)
                sw.file.append(str(item.path))
        sw.z = np.clip(np.array(zs), -Z_LIMIT, Z_LIMIT)
        sw.features, sw.baseline = np.array(raw), base
        out.append(sw)
    return out


def training_windows(items: list[Item], seed: int, condition: str = "phone", *,
                     audio: list[np.ndarray] | None = None,
                     cost: AnalysisCost | None = None) -> list[SpeakerWindows]:
    """:func:`corpus_windows` of the files as recorded, and of a levelled copy of each.

    The copy's windows (``copy`` True, file ``<path>#levelled``) train the heads at
    :data:`LEVELLED_COPY_WEIGHT` and are never scored. A line's level control, or a
    corpus normalised file by file (this EmoDB copy), takes away the loudness that
    acted anger carries (RAVDESS); seeing its anger also at the speaker's usual level
    makes a head lean on the cues that survive: trained on RAVDESS alone, its EmoDB
    anger TPR at 5 % FPR rose from 0.88 to 0.98 (benchmarks/RESULTS.md, tenth round).
    """
    out = corpus_windows(items, seed, condition, audio=audio, cost=cost)
    copies = corpus_windows(items, seed, condition,
                            audio=condition_audio(items, seed, condition, levelled=True))
    for sw, cp in zip(out, copies, strict=True):
        n = len(sw.file)
        sw.z = np.vstack([sw.z, cp.z])
        sw.features = np.vstack([sw.features, cp.features])
        sw.role = [*sw.role, *cp.role]
        sw.file = [*sw.file, *(f"{f}#levelled" for f in cp.file)]
        sw.copy = [False] * n + [True] * len(cp.file)
    return out


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks); None if one class is empty."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    n_pos, n_neg = labels.sum(), (~labels).sum()
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size)
    sorted_s = scores[order]
    i = 0
    while i < sorted_s.size:
        j = i
        while j + 1 < sorted_s.size and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i: j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


