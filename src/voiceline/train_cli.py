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
    LEVELLED_COPY_WEIGHT,
    NOISE_DBFS_RANGE,
    TARGET_LEVEL_DBOV,
    TRAIN_MIN_SPEECH_S,
    SpeakerWindows,
    auc,
    default_data_dir,
    read_manifest,
    training_windows,
)

AGITATION_POSITIVE = ("anger",)
LOW_ENERGY_POSITIVE = ("sadness", "boredom")
#: Emotions that neither head trains on (they are neither target nor "ordinary").
EXCLUDED = ("happiness", "fear", "disgust")
FILE_SCORE = "mean"


NEGATIVE = "test-neutral"


def all_windows(speakers: list[SpeakerWindows]):
    """``z, role, group, corpus, file, weight`` of every window of every speaker (a
    levelled copy's weigh :data:`LEVELLED_COPY_WEIGHT` and are not to be scored)."""
    rows = [(z, role, k, sw.corpus, f, w) for k, sw in enumerate(speakers)
            for z, role, f, w in zip(sw.z, sw.role, sw.file, sw.weights(), strict=True)]
    z, roles, groups, corpora, files, w = zip(*rows, strict=True)
    return (np.array(z), np.array(roles), np.array(groups), np.array(corpora),
            np.array(files), np.array(w))


def _balanced(y: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """Per-window weights that give both classes the same total (times ``weight``)."""
    w = np.ones(y.size) if weight is None else weight
    n_pos = max((w * y).sum(), 1e-12)
    n_neg = max((w * (1 - y)).sum(), 1e-12)
    total = w.sum()
    return w * np.where(y > 0, total / (2 * n_pos), total / (2 * n_neg))


def fit_subheads(z: np.ndarray, roles: np.ndarray, weight: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(3, F)`` and biases of :data:`emotion.training.SUBHEADS`, each fitted on
    its positives against the test-neutral windows, as the product fits them
    (``weight``: each window's, default 1; classes are balanced on top of it)."""
    from emotion.training import L2, SUBHEADS, fit_logistic, head_inputs, prior_weights
    from emotion.windows import FEATURE_NAMES

    weights, biases = [], []
    for name, positive, _ in SUBHEADS:
        sel = np.isin(roles, positive) | (roles == NEGATIVE)
        y = np.isin(roles[sel], positive).astype(float)
        each = np.ones(y.size) if weight is None else np.asarray(weight, float)[sel]
        w, b = fit_logistic(head_inputs(name, z[sel], FEATURE_NAMES), y, l2=L2,
                            sample_weight=_balanced(y, each),
                            prior=prior_weights(name, FEATURE_NAMES))
        weights.append(w)
        biases.append(b)
    return np.stack(weights), np.array(biases)


def head_probabilities(weights: np.ndarray, biases: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``(n, 2)`` agitation and low-energy probabilities, as the ONNX model computes them."""
    from emotion.training import combine_subheads

    return combine_subheads(1 / (1 + np.exp(-(z @ weights.T + biases))))


def loso_probabilities(z: np.ndarray, roles: np.ndarray, groups: np.ndarray,
                       weight: np.ndarray | None = None) -> np.ndarray:
    """Leave-one-speaker-out ``(n, 2)`` probabilities of every window (a speaker's
    levelled copies are held out with them)."""
    p = np.full((z.shape[0], 2), np.nan)
    w = np.ones(z.shape[0]) if weight is None else weight
    for g in np.unique(groups):
        train = groups != g
        weights, biases = fit_subheads(z[train], roles[train], w[train])
        p[~train] = head_probabilities(weights, biases, z[~train])
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
    from emotion.training import HEAD_EXCLUDED, HEAD_PRIORS, L2, SUBHEADS, export_onnx
    from emotion.windows import FEATURE_NAMES

    start = time.perf_counter()
    speakers: list[SpeakerWindows] = []
    n_files = {}
    manifests = {corpus: read_manifest(data_dir, corpus) for corpus in CORPORA}  # both
    # read before either is analysed: a missing one is named at once, not minutes later
    for corpus in CORPORA:
        items = manifests[corpus]
        if limit_speakers:
            keep = sorted({i.speaker for i in items})[:limit_speakers]
            items = [i for i in items if i.speaker in keep]
        n_files[corpus] = len(items)
        t0 = time.perf_counter()
        speakers += training_windows(items, seed)
        log(f"{corpus}: {len(items)} files (and their levelled copies) analysed in "
            f"{time.perf_counter() - t0:.1f} s")
    x, roles, groups, corpora, files, w = all_windows(speakers)
    weights, biases = fit_subheads(x, roles, w)
    p = loso_probabilities(x, roles, groups, w)
    recorded = ~np.concatenate([sw.copies() for sw in speakers])  # the copies only train
    card_heads = {}
    for k, (head, positive) in enumerate((("agitation", AGITATION_POSITIVE),
                                          ("low_energy", LOW_ENERGY_POSITIVE))):
        sel = (np.isin(roles, positive) | (roles == NEGATIVE)) & recorded
        y = np.isin(roles[sel], positive).astype(float)
        metrics = _metrics(p[sel, k], y, corpora[sel], files[sel])
        subs = [(name, pos) for name, pos, out_head in SUBHEADS if out_head == head]
        card_heads[head] = {
            "positive": list(positive), "negative": ["test-neutral (neutral, RAVDESS calm)"],
            "subheads": {name: {"positive": list(pos), "prior": HEAD_PRIORS[name],
                                "not_learned": list(HEAD_EXCLUDED[name])} for name, pos in subs},
            "l2": L2, "loso": metrics, "windows": int(y.size), "positive_windows": int(y.sum()),
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
            "levelled_copies": "every non-calibration file also trains as a copy brought to "
                               f"{TARGET_LEVEL_DBOV:.0f} dBov on its own (a line's level "
                               f"control), each window weighing {LEVELLED_COPY_WEIGHT}; the "
                               "copies are never scored (LOSO metrics: recordings only)",
            "excluded": f"{', '.join(EXCLUDED)} train no sub-head; each sub-head learns "
                        "its positives against test-neutral only",
            "fit": "three logistic sub-heads (IRLS), classes weighted to balance, ridge l2 "
                   "towards each sub-head's prior direction (emotion.training.HEAD_PRIORS: "
                   "cues the vocal-expression literature finds across languages); l2 "
                   "fixed, see emotion.training.L2; low energy = max(subdued, flat)",
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
    export_onnx(weights, biases, FEATURE_NAMES, out, card)
    log(f"wrote {out} and {out.with_suffix('.json').name} in {elapsed:.1f} s")
    return card


def run_train_model(args: argparse.Namespace) -> int:
    from voiceline.cli import output_file

    data = Path(args.data) if args.data else default_data_dir()
    out = output_file(args.out)  # before minutes of training, not after
    train(data, out, seed=args.seed, limit_speakers=args.limit_speakers,
          log=lambda msg: print(msg, file=sys.stderr))
    return 0
