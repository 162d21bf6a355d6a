"""``voiceline train-model``: fit the scoring model on EmoDB and RAVDESS over a phone line.

The protocol (calibration split, levels, phone channel, joined streams, baselines) is
:mod:`voiceline.corpus_protocol`; this module fits the two logistic heads on the
speakers' z-scored windows, picks the ridge by leave-one-speaker-out AUC, and writes the
ONNX model with its card.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from voiceline import __version__
from voiceline.corpus_protocol import (
    CALIBRATION_STREAM_S,
    CORPORA,
    NOISE_DBFS_RANGE,
    TARGET_LEVEL_DBOV,
    TRAIN_MIN_SPEECH_S,
    SpeakerWindows,
    auc,
    corpus_windows,
    default_data_dir,
    read_manifest,
)

AGITATION_POSITIVE = ("anger",)
LOW_ENERGY_POSITIVE = ("sadness", "boredom")
#: Emotions that neither head trains on (they are neither target nor "ordinary").
EXCLUDED = ("happiness", "fear", "disgust")
FILE_SCORE = "mean"


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


def loso(x, y, groups, l2: float, prior: np.ndarray | None = None) -> np.ndarray:
    """Leave-one-speaker-out probabilities of every window."""
    from emotion.training import fit_logistic

    p = np.full(y.size, np.nan)
    for g in np.unique(groups):
        train = groups != g
        if len(np.unique(y[train])) < 2:
            continue
        w, b = fit_logistic(x[train], y[train], l2=l2, sample_weight=_balanced(y[train]),
                            prior=prior)
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
    from emotion.training import (
        HEAD_EXCLUDED,
        HEAD_PRIORS,
        L2,
        export_onnx,
        fit_logistic,
        head_inputs,
        prior_weights,
    )
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
        x = head_inputs(head, x, FEATURE_NAMES)
        prior = prior_weights(head, FEATURE_NAMES)
        metrics = _metrics(loso(x, y, groups, L2, prior), y, corpora, files)
        w, b = fit_logistic(x, y, l2=L2, sample_weight=_balanced(y), prior=prior)
        weights.append(w)
        biases.append(b)
        card_heads[head] = {
            "positive": list(positive), "negative": ["test-neutral (neutral, RAVDESS calm)"],
            "l2": L2, "prior": HEAD_PRIORS[head], "not_learned": list(HEAD_EXCLUDED[head]),
            "loso": metrics, "train_windows": int(y.size), "train_positive": int(y.sum()),
        }
        log(f"{head}: l2={L2}, LOSO " + ", ".join(
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
            "fit": "logistic regression (IRLS), classes weighted to balance, ridge l2 towards "
                   "the head's prior direction (emotion.training.HEAD_PRIORS: cues the "
                   "vocal-expression literature finds across languages); l2 fixed, see "
                   "emotion.training.L2",
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
