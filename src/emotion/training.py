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


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, sample_weight: np.ndarray | None = None,
    iterations: int = 50,
) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton/IRLS; returns ``(w, b)``.

    Minimises Σ s_i · logloss(y_i, σ(x_i·w + b)) + l2/2 ‖w‖² (the intercept is not
    penalised).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, f = x.shape
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    a = np.hstack([x, np.ones((n, 1))])
    theta = np.zeros(f + 1)
    penalty = np.full(f + 1, l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a @ theta)))
        grad = a.T @ (s * (p - y)) + penalty * theta
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
