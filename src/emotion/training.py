"""Fitting the scoring model and writing it as ONNX (training time only).

The model is three L2-regularised logistic regressions over robust z-scores
(:data:`SUBHEADS`), fitted by iteratively reweighted least squares: **agitation**, and
two ways of being low in energy — **subdued** (sad: quieter, lower, slower) and
**flat** (bored: monotonous, slow loudness and pitch changes). Their cues pull in
opposite directions on some features (EmoDB's sad files are more aperiodic, its bored
ones less), so one linear head cannot hold both: the low-energy probability is the
larger of the two (leave-one-speaker-out file AUC on EmoDB 0.74 with one head, 0.83
with two). Writing the ONNX graph needs the ``onnx`` package (extra ``train``); running
it needs onnxruntime only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emotion.scoring import HEADS

#: Sub-heads of the model: (name, training positives, output head it feeds).
SUBHEADS = (
    ("agitation", ("anger",), "agitation"),
    ("subdued", ("sadness",), "low_energy"),
    ("flat", ("boredom",), "low_energy"),
)
#: Ridge of every sub-head, towards :data:`HEAD_PRIORS`. Chosen once, on EmoDB and
#: RAVDESS over the phone line, as the value that keeps leave-one-speaker-out anger AUC
#: within each corpus at >= 0.99 while a head trained on one corpus still ranks the
#: other's anger (cross-corpus AUC ~0.97); benchmarks/detection.py reports both.
L2 = 70.0
#: Directions each sub-head shrinks towards, in logit per robust sigma: cues the vocal
#: expression literature finds across studies and languages (Juslin & Laukka 2003,
#: Psychol. Bull. 129; Scherer 2003, Speech Commun. 40). Anger: higher intensity, higher
#: F0 level, more high-frequency energy, faster voice onsets. Sadness: lower intensity,
#: lower F0, slower speech and voice onsets. Boredom: less pitch movement, slower
#: voice onsets. Training on one corpus moves the weights away from these only as far as
#: its data insist, so a cue a corpus happens to lack (EmoDB's peak-normalised loudness)
#: is not unlearned.
HEAD_PRIORS = {
    "agitation": {"loudness_n5_sone": 1.0, "f0_median_st": 1.0, "sharpness_acum": 1.0,
                  "spectral_balance": 1.0, "vowel_tilt_db": -1.0,
                  "loudness_slope_sone_s": 1.0},
    "subdued": {"loudness_n5_sone": -1.0, "f0_median_st": -1.0, "speech_rate_syl_s": -1.0,
                "loudness_slope_sone_s": -1.0},
    "flat": {"f0_movement_st": -1.0, "loudness_slope_sone_s": -1.0},
}
#: Features a sub-head may not learn from these corpora: their weight stays at the prior
#: (0). The only bored speech (EmoDB) is peak-normalised file by file, which makes bored
#: files read *louder* than neutral ones (file AUC 0.65); real boredom is not louder.
#: (Sad files stay quieter even so, and the subdued head keeps loudness.)
HEAD_EXCLUDED = {
    "agitation": ("syllable_rate_syl_s",),
    "subdued": ("syllable_rate_syl_s",),
    "flat": ("loudness_n5_sone", "loudness_mean_sone", "syllable_rate_syl_s"),
}


def head_inputs(head: str, z: np.ndarray, feature_names) -> np.ndarray:
    """``z`` with the sub-head's :data:`HEAD_EXCLUDED` columns zeroed (for fitting)."""
    out = np.array(z, dtype=np.float64, copy=True)
    for name in HEAD_EXCLUDED[head]:
        out[..., list(feature_names).index(name)] = 0.0
    return out


def combine_subheads(p: np.ndarray) -> np.ndarray:
    """``(..., 2)`` head probabilities from ``(..., 3)`` sub-head probabilities."""
    return np.stack([p[..., 0], np.maximum(p[..., 1], p[..., 2])], axis=-1)


def prior_weights(head: str, feature_names) -> np.ndarray:
    """:data:`HEAD_PRIORS` of ``head`` as a weight vector over ``feature_names``."""
    prior = HEAD_PRIORS[head]
    return np.array([prior.get(name, 0.0) for name in feature_names])


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, sample_weight: np.ndarray | None = None,
    iterations: int = 50, prior: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton/IRLS; returns ``(w, b)``.

    Minimises Σ s_i · logloss(y_i, σ(x_i·w + b)) + l2/2 ‖w − w₀‖² (the intercept is not
    penalised), with ``w₀ = prior`` (default 0): a ridge that shrinks towards a
    direction known from outside the training data rather than towards nothing.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, f = x.shape
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    a = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(f + 1)
    penalty = np.full(f + 1, l2)
    penalty[-1] = 0.0
    anchor = np.zeros(f + 1)
    if prior is not None:
        anchor[:-1] = np.asarray(prior, dtype=np.float64)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ theta, -50.0, 50.0)))
        grad = a.T @ (s * (p - y)) + penalty * (theta - anchor)
        hess = (a * (s * p * (1 - p))[:, None]).T @ a + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def export_onnx(
    weights: np.ndarray, biases: np.ndarray, feature_names, path: str | Path, card: dict
) -> Path:
    """Write the model as ONNX, plus its JSON card beside it.

    ``probabilities = [σ(z·w₀+b₀), max(σ(z·w₁+b₁), σ(z·w₂+b₂))]``: agitation and low
    energy from the three :data:`SUBHEADS`.

    Parameters
    ----------
    weights : ndarray, shape (3, F)
        One row per sub-head, in :data:`SUBHEADS` order.
    biases : ndarray, shape (3,)
    card : dict
        Training data, protocol and metrics, stored in the JSON next to the model.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.asarray(weights, dtype=np.float32)
    b = np.asarray(biases, dtype=np.float32)
    if w.shape[0] != len(SUBHEADS) or b.shape != (len(SUBHEADS),):
        raise ValueError(f"weights must be ({len(SUBHEADS)}, F) and biases "
                         f"({len(SUBHEADS)},), got {w.shape} and {b.shape}")
    n_features = w.shape[1]

    def const(name, values):
        return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["z", "W"], ["logits_raw"]),
            helper.make_node("Add", ["logits_raw", "b"], ["logits"]),
            helper.make_node("Sigmoid", ["logits"], ["sub"]),
            helper.make_node("Slice", ["sub", "s0", "s1", "axis1"], ["agitation"]),
            helper.make_node("Slice", ["sub", "s1", "s3", "axis1"], ["low_parts"]),
            helper.make_node("ReduceMax", ["low_parts"], ["low_energy"], axes=[1],
                             keepdims=1),
            helper.make_node("Concat", ["agitation", "low_energy"], ["probabilities"],
                             axis=1),
        ],
        "voice_scoring",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(HEADS)])],
        initializer=[numpy_helper.from_array(w.T.copy(), "W"), numpy_helper.from_array(b, "b"),
                     const("s0", [0]), const("s1", [1]), const("s3", [3]),
                     const("axis1", [1])],
    )
    model = helper.make_model(graph, producer_name="voiceline",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by onnxruntime releases of the last years
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    head_rows = np.stack([w[0], w[1:].mean(axis=0)])
    meta = {"heads": list(HEADS), "feature_names": list(feature_names),
            # Per output head, for explanations: low energy's row is the mean of its two
            # sub-heads; "subheads" holds each exactly.
            "weights": head_rows.astype(float).tolist(),
            "subheads": [{"name": name, "head": head, "positive": list(positive),
                          "weights": w[k].astype(float).tolist(), "bias": float(b[k])}
                         for k, (name, positive, head) in enumerate(SUBHEADS)],
            **card}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return path
