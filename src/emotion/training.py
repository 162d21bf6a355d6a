"""Fitting the scoring model and writing it as ONNX (training time only).

The model is two L2-regularised logistic regressions over robust z-scores (one per
head), fitted by iteratively reweighted least squares. Writing the ONNX graph needs the
``onnx`` package (extra ``train``); running it needs onnxruntime only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emotion.scoring import HEADS

#: Ridge of both heads, towards :data:`HEAD_PRIORS`. Chosen once, on EmoDB and RAVDESS
#: over the phone line, as the value that keeps leave-one-speaker-out AUC within each
#: corpus at >= 0.99 while a head trained on one corpus still ranks the other's anger
#: (cross-corpus AUC ~0.97); benchmarks/detection.py reports both.
L2 = 70.0
#: Directions each head shrinks towards, in logit per robust sigma: the cues the vocal
#: expression literature finds for anger and for low arousal across studies and
#: languages (Juslin & Laukka 2003, Psychol. Bull. 129; Scherer 2003, Speech Commun.
#: 40) — anger: higher intensity, higher F0 level, more high-frequency energy, faster
#: voice onsets; sadness/boredom: lower F0 level, less F0 movement, slower speech and
#: slower voice onsets. Training on one corpus moves the weights away from these only
#: as far as its data insist, so a cue a corpus happens to lack (EmoDB's peak-normalised
#: loudness) is not unlearned.
HEAD_PRIORS = {
    "agitation": {"loudness_n5_sone": 1.0, "f0_median_st": 1.0, "sharpness_acum": 1.0,
                  "spectral_balance": 1.0, "vowel_tilt_db": -1.0,
                  "loudness_slope_sone_s": 1.0},
    "low_energy": {"f0_median_st": -1.0, "f0_movement_st": -1.0, "speech_rate_syl_s": -1.0,
                   "loudness_slope_sone_s": -1.0},
}


#: Features a head may not learn from these corpora, with the reason: their weight stays
#: at the prior (0). The only low-arousal data (EmoDB sadness and boredom) are
#: peak-normalised file by file, which makes a sad file as loud as a neutral one, so
#: the corpus would teach the low-energy head that loudness does not matter — or,
#: through the normalisation, that louder means sadder.
HEAD_EXCLUDED = {
    "agitation": (),
    "low_energy": ("loudness_n5_sone", "loudness_mean_sone"),
}


def head_inputs(head: str, z: np.ndarray, feature_names) -> np.ndarray:
    """``z`` with the head's :data:`HEAD_EXCLUDED` columns zeroed (for fitting)."""
    out = np.array(z, dtype=np.float64, copy=True)
    for name in HEAD_EXCLUDED[head]:
        out[..., list(feature_names).index(name)] = 0.0
    return out


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
    """Write ``sigmoid(z @ W.T + b)`` as an ONNX model, plus its JSON card beside it.

    Parameters
    ----------
    weights : ndarray, shape (2, F)
        One row per head (:data:`emotion.scoring.HEADS`).
    biases : ndarray, shape (2,)
    card : dict
        Training data, protocol and metrics, stored in the JSON next to the model.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.asarray(weights, dtype=np.float32)
    b = np.asarray(biases, dtype=np.float32)
    n_features = w.shape[1]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["z", "W"], ["logits_raw"]),
            helper.make_node("Add", ["logits_raw", "b"], ["logits"]),
            helper.make_node("Sigmoid", ["logits"], ["probabilities"]),
        ],
        "voice_scoring",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(HEADS)])],
        initializer=[numpy_helper.from_array(w.T.copy(), "W"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, producer_name="voiceline",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by onnxruntime releases of the last years
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    meta = {"heads": list(HEADS), "feature_names": list(feature_names),
            "weights": w.astype(float).tolist(), "biases": b.astype(float).tolist(), **card}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return path
