"""``voiceline train-model``: fit the scoring model on EmoDB and RAVDESS over a phone line.

Protocol (issue 3, sections 4-5): per speaker, the neutral files sorted by path are
split by alternation — index 0, 2, 4 … calibrate, the rest are test-neutral (RAVDESS:
the calm files likewise, separately). Every file goes through a simulated telephone line
(300-3400 Hz, 8 kHz, G.711 μ-law, line noise drawn per file from -60..-45 dBFS) after one
gain per *speaker* that brings their calibration speech to -26 dBov (P.56), so that a
loud anger stays loud. Each speaker's baseline is fitted from their calibration files by
:func:`emotion.baseline.fit_baseline` as at run time (only ``min_speech_s`` lowered), and
training windows are the speaker's other windows, robust-z'd against it.

The corpora's files are 2-3.5 s long, shorter than one 3 s feature window, so a speaker's
files of one role (calibration, test-neutral, one emotion) are joined in path order into
one stream, as if the speaker had said them in one call; each window belongs to the file
holding its centre. Data are read in place, never copied.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voiceline import __version__

CORPORA = ("emodb", "ravdess")
TARGET_LEVEL_DBOV = -26.0
NOISE_DBFS_RANGE = (-60.0, -45.0)
#: The corpora give 3-20 s of calibration speech per speaker (EmoDB speaker 10: two 2 s
#: files); run time asks for 30 s.
TRAIN_MIN_SPEECH_S = 2.0
L2_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)
AGITATION_POSITIVE = ("anger",)
LOW_ENERGY_POSITIVE = ("sadness", "boredom")
#: Emotions that neither head trains on (they are neither target nor "ordinary").
EXCLUDED = ("happiness", "fear", "disgust")
FILE_SCORE = "mean"
#: Calibration audio shorter than this is cycled so that fit_baseline gets >= 10 windows.
CALIBRATION_STREAM_S = 16.0


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


def read_manifest(data_dir: Path, corpus: str) -> list[Item]:
    """The corpus's files with their protocol role (calibration / test-neutral / emotion)."""
    root = data_dir / corpus
    manifest = root / "manifest.csv"
    if not manifest.exists():
        from voiceline.cli import UserError

        raise UserError(f"{manifest} not found; pass --data DIR holding emodb/ and ravdess/ "
                        "(or set VOICELINE_SHARED_DATA)")
    with manifest.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
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


def _phone_streams(items: list[Item], seed: int, repeats: dict[str, int]):
    """Per speaker and role, the files through a phone line, joined into one 8 kHz stream.

    Returns the streams and, per stream, ``[(item, start_s, end_s), ...]``; ``repeats``
    receives how often each speaker's calibration audio was cycled.
    """
    from capture.audio import read_audio
    from capture.levels import active_speech_level_dbfs
    from capture.telephone import LINE_FS_HZ, telephone_channel

    rng = np.random.default_rng(seed)
    audio = {}
    for item in items:
        clip = read_audio(item.path)
        audio[id(item)] = (clip.samples[0], clip.fs_hz)
    streams, spans = [], []
    for speaker in sorted({i.speaker for i in items}):
        mine = [i for i in items if i.speaker == speaker]
        calib = [audio[id(i)] for i in mine if i.role == "calibration"]
        level = active_speech_level_dbfs(np.concatenate([x for x, _ in calib]), calib[0][1])
        gain = 10 ** ((TARGET_LEVEL_DBOV - level) / 20)
        for role in sorted({i.role for i in mine}):
            parts, span, t = [], [], 0.0
            for item in (i for i in mine if i.role == role):
                x, fs_hz = audio[id(item)]
                noise = float(rng.uniform(*NOISE_DBFS_RANGE))
                y = telephone_channel(gain * x, fs_hz, law="ulaw", noise_dbfs=noise,
                                      seed=int(rng.integers(2**31)))
                parts.append(y)
                span.append((item, t, t + y.size / LINE_FS_HZ))
                t += y.size / LINE_FS_HZ
            if role == "calibration":
                # fit_baseline needs >= 10 windows; a speaker with two 2 s neutral files
                # has 2. Cycle their calibration audio (same order) to CALIBRATION_STREAM_S;
                # the speech seconds are counted once (see corpus_windows).
                unique = np.concatenate(parts)
                reps = int(np.ceil(CALIBRATION_STREAM_S * LINE_FS_HZ / unique.size))
                parts = [unique] * reps
                span = [(span[0][0], 0.0, reps * t)]
                repeats[speaker] = reps
            streams.append(np.concatenate(parts))
            spans.append(span)
    return streams, spans


def corpus_windows(items: list[Item], seed: int) -> list[SpeakerWindows]:
    """Analyse one corpus (all its streams at once) and z-score each speaker's windows."""
    from capture.levels import load_level_profile
    from capture.telephone import LINE_FS_HZ
    from emotion.baseline import fit_baseline
    from emotion.scoring import Z_LIMIT
    from emotion.voice import StreamingVoiceAnalyzer
    from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR

    repeats: dict[str, int] = {}
    streams, spans = _phone_streams(items, seed, repeats)
    n = max(s.size for s in streams)
    samples = np.zeros((len(streams), n))
    for row, s in enumerate(streams):
        samples[row, : s.size] = s
    profile = load_level_profile("g711-telephone")
    analyzer = StreamingVoiceAnalyzer(len(streams), LINE_FS_HZ, level_profile=profile)
    analyzer.count_until_s[:] = [s.size / LINE_FS_HZ for s in streams]
    block = 10 * LINE_FS_HZ
    parts = [analyzer.process(samples[:, i: i + block]) for i in range(0, n, block)]
    end_s = np.concatenate([p.end_s for p in parts])
    features = np.concatenate([p.features for p in parts], axis=1)
    valid = np.concatenate([p.valid for p in parts], axis=1)
    window_s = analyzer.windower.window * 0.01

    out = []
    for speaker in sorted({i.speaker for i in items}):
        rows = [r for r, span in enumerate(spans) if span[0][0].speaker == speaker]
        calib = [r for r in rows if spans[r][0][0].role == "calibration"]
        cal_x = np.concatenate([features[r][valid[r] & (end_s <= streams[r].size / LINE_FS_HZ)]
                                for r in calib])
        cal_speech = float(sum(analyzer.speech_s[r] for r in calib)) / repeats[speaker]
        base = fit_baseline(
            cal_x, FEATURE_NAMES, agent_id=f"{items[0].corpus}-{speaker}", channel_type="8k",
            speech_s=cal_speech, level_profile=profile.name,
            sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR), min_speech_s=TRAIN_MIN_SPEECH_S,
            software_version=__version__,
        )
        sw = SpeakerWindows(items[0].corpus, speaker, np.zeros((0, len(FEATURE_NAMES))),
                            calibration_speech_s=cal_speech)
        zs = []
        for r in rows:
            if r in calib:
                continue
            for w in np.flatnonzero(valid[r] & (end_s <= streams[r].size / LINE_FS_HZ)):
                centre = end_s[w] - window_s / 2
                item = next((it for it, a, b in spans[r] if a <= centre < b), spans[r][-1][0])
                zs.append(base.z(features[r, w]))
                sw.role.append(item.role)
                sw.file.append(str(item.path))
        sw.z = np.clip(np.array(zs), -Z_LIMIT, Z_LIMIT)
        out.append(sw)
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


def head_data(speakers: list[SpeakerWindows], positive: tuple[str, ...]):
    """``x, y, group, corpus, file`` of one head: positives vs test-neutral windows."""
    xs, ys, groups, corpora, files = [], [], [], [], []
    negative = ("test-neutral",)
    for k, sw in enumerate(speakers):
        for z, role, f in zip(sw.z, sw.role, sw.file, strict=True):
            if role in positive or role in negative:
                xs.append(z)
                ys.append(role in positive)
                groups.append(k)
                corpora.append(sw.corpus)
                files.append(f)
    return (np.array(xs), np.array(ys, float), np.array(groups), np.array(corpora),
            np.array(files))


def _balanced(y: np.ndarray) -> np.ndarray:
    n_pos = max(y.sum(), 1)
    n_neg = max((1 - y).sum(), 1)
    return np.where(y > 0, y.size / (2 * n_pos), y.size / (2 * n_neg))


def loso(x, y, groups, l2: float) -> np.ndarray:
    """Leave-one-speaker-out probabilities of every window."""
    from emotion.training import fit_logistic

    p = np.full(y.size, np.nan)
    for g in np.unique(groups):
        train = groups != g
        if len(np.unique(y[train])) < 2:
            continue
        w, b = fit_logistic(x[train], y[train], l2=l2, sample_weight=_balanced(y[train]))
        p[~train] = 1 / (1 + np.exp(-(x[~train] @ w + b)))
    return p


def _metrics(p, y, corpora, files) -> dict:
    ok = np.isfinite(p)
    out = {}
    for name, sel in [("pooled", ok)] + [(c, ok & (corpora == c)) for c in CORPORA]:
        window_auc = auc(p[sel], y[sel] > 0)
        names = np.unique(files[sel])
        fmean = np.array([p[sel][files[sel] == f].mean() for f in names])
        fmax = np.array([p[sel][files[sel] == f].max() for f in names])
        fy = np.array([y[sel][files[sel] == f][0] > 0 for f in names])
        out[name] = {
            "window_auc": _round(window_auc), "file_auc_mean": _round(auc(fmean, fy)),
            "file_auc_max": _round(auc(fmax, fy)),
            "windows": int(sel.sum()), "files": int(names.size),
            "positive_files": int(fy.sum()),
        }
    return out


def _round(v):
    return None if v is None else round(v, 4)


def train(data_dir: Path, out: Path, *, seed: int = 0, limit_speakers: int | None = None,
          log=print) -> dict:
    """Run the whole protocol and write the model; returns the card."""
    from emotion.training import export_onnx, fit_logistic
    from emotion.windows import FEATURE_NAMES

    start = time.perf_counter()
    speakers: list[SpeakerWindows] = []
    n_files = {}
    for corpus in CORPORA:
        items = read_manifest(data_dir, corpus)
        if limit_speakers:
            keep = sorted({i.speaker for i in items})[:limit_speakers]
            items = [i for i in items if i.speaker in keep]
        n_files[corpus] = len(items)
        t0 = time.perf_counter()
        speakers += corpus_windows(items, seed)
        log(f"{corpus}: {len(items)} files analysed in {time.perf_counter() - t0:.1f} s")
    card_heads, weights, biases = {}, [], []
    for head, positive in (("agitation", AGITATION_POSITIVE),
                           ("low_energy", LOW_ENERGY_POSITIVE)):
        x, y, groups, corpora, files = head_data(speakers, positive)
        results = {}
        for l2 in L2_GRID:
            p = loso(x, y, groups, l2)
            results[l2] = (auc(p[np.isfinite(p)], y[np.isfinite(p)] > 0) or 0.0, p)
        best = max(L2_GRID, key=lambda v: results[v][0])
        metrics = _metrics(results[best][1], y, corpora, files)
        w, b = fit_logistic(x, y, l2=best, sample_weight=_balanced(y))
        weights.append(w)
        biases.append(b)
        card_heads[head] = {
            "positive": list(positive), "negative": ["test-neutral (neutral, RAVDESS calm)"],
            "l2": best, "loso_window_auc_by_l2": {str(k): _round(v[0])
                                                  for k, v in results.items()},
            "loso": metrics, "train_windows": int(y.size), "train_positive": int(y.sum()),
        }
        log(f"{head}: l2={best}, LOSO " + ", ".join(
            f"{c} window {m['window_auc']} file {m['file_auc_mean']}"
            for c, m in metrics.items()))
    elapsed = time.perf_counter() - start
    card = {
        "model": "voice_scoring", "software_version": __version__,
        "training_data": {
            "corpora": {
                "emodb": "Berlin Database of Emotional Speech (Burkhardt et al. 2005), 10 "
                         "speakers, German; this copy is cut to 2 s and peak-normalised",
                "ravdess": "RAVDESS speech (Livingstone & Russo 2018), 24 actors, English; "
                           "this copy holds neutral, calm, happy and angry only",
            },
            "files": n_files, "speakers": {c: sum(s.corpus == c for s in speakers)
                                           for c in CORPORA},
            "condition": "phone: 300-3400 Hz, 8 kHz, G.711 mu-law, pink line noise "
                         f"{NOISE_DBFS_RANGE[0]:.0f}..{NOISE_DBFS_RANGE[1]:.0f} dBFS per file",
        },
        "features": list(FEATURE_NAMES),
        "protocol": {
            "calibration": "per speaker, neutral files sorted by path, every other from "
                           "index 0 (RAVDESS: calm files likewise); never trained on or scored",
            "level": f"one gain per speaker bringing the calibration files to "
                     f"{TARGET_LEVEL_DBOV:.0f} dBov active speech level (ITU-T P.56)",
            "baseline": "fit_baseline with FEATURE_SIGMA_FLOOR as at run time, but "
                        f"min_speech_s={TRAIN_MIN_SPEECH_S} (these corpora give only about "
                        "3-20 s of calibration speech per speaker; run time asks for 30 s)",
            "calibration_cycling": "a speaker's calibration audio (EmoDB: 2-6 files of 2 s) "
                                   f"is cycled to {CALIBRATION_STREAM_S:.0f} s so that "
                                   "fit_baseline gets its minimum of 10 windows; its speech "
                                   "seconds are counted once",
            "streams": "a speaker's files of one role joined in path order into one stream "
                       "(files are shorter than a 3 s window); a window belongs to the file "
                       "holding its centre",
            "examples": "valid windows of non-calibration files, robust z against the "
                        "speaker's own baseline, limited to +-Z_LIMIT",
            "excluded": f"{', '.join(EXCLUDED)} train neither head; sadness and boredom "
                        "are not negatives of the agitation head, nor anger of the "
                        "low-energy head",
            "fit": "L2 logistic regression (IRLS), classes weighted to balance; l2 chosen "
                   "by leave-one-speaker-out window AUC pooled over both corpora",
            "file_score": f"{FILE_SCORE} of the file's window probabilities",
            "seed": seed, "limit_speakers": limit_speakers,
        },
        "metrics": card_heads,
        "training_time_s": round(elapsed, 1),
        "licence": "EmoDB and RAVDESS are licensed for research / non-commercial use "
                   "(RAVDESS: CC BY-NC-SA 4.0). This model is trained on them; clear the "
                   "licences before any commercial use, or retrain on licensed data.",
        "retrain": "voiceline train-model --data ../shared/data --out "
                   f"models/voice_scoring.onnx --seed {seed}",
    }
    export_onnx(np.stack(weights), np.array(biases), FEATURE_NAMES, out, card)
    log(f"wrote {out} and {out.with_suffix('.json').name} in {elapsed:.1f} s")
    return card


def run_train_model(args: argparse.Namespace) -> int:
    data = Path(args.data) if args.data else default_data_dir()
    train(data, Path(args.out), seed=args.seed, limit_speakers=args.limit_speakers,
          log=lambda msg: print(msg, file=sys.stderr))
    return 0
