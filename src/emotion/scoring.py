"""Scoring: a window's departure from the agent's baseline, in probabilities and words.

Robust z per feature against the agent's own :class:`~emotion.baseline.Baseline` go
into a small model (ONNX, run by onnxruntime) with two heads: the probability that the
voice is **agitated** and the probability of **low energy** (fatigue, monotony). Both
heads are logistic over the z-scores, so each feature's contribution is exact
(weight × z) and the explanation lists the features that pushed the score up, in the
agent's own terms: "loudness +2.6 σ above A1001's usual".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion.baseline import Baseline
from emotion.windows import LEVEL_BOUND_FEATURES

HEADS = ("agitation", "low_energy")
#: Words for each feature in explanations.
FEATURE_WORDS = {
    "loudness_n5_sone": "loudness peaks",
    "loudness_mean_sone": "loudness",
    "sharpness_acum": "sharpness",
    "roughness_asper": "roughness",
    "fluctuation_vacil": "fluctuation",
    "f0_median_st": "pitch",
    "f0_range_st": "pitch range",
    "speech_rate_syl_s": "speaking rate",
    "pause_ratio": "pauses",
    "spectral_balance": "brightness",
    "aperiodicity": "hoarseness",
    "f0_movement_st": "pitch movement",
    "vowel_centroid_hz": "vowel openness",
    "vowel_tilt_db": "voice softness",
    "loudness_slope_sone_s": "loudness attack",
    "syllable_rate_syl_s": "syllable rate",
}
#: z-scores are limited to this many sigmas before the model (a clipped mic or a
#: mis-detected pitch must not dominate).
Z_LIMIT = 6.0


class ModelError(RuntimeError):
    """The scoring model is missing or does not fit the features."""


@dataclass(frozen=True)
class Score:
    """Scores of windows ``(..., )`` against one baseline.

    Attributes
    ----------
    agitation, low_energy : ndarray
        Probabilities 0..1.
    z : ndarray, shape (..., F)
        Robust z-scores (limited to ±Z_LIMIT).
    contributions : ndarray, shape (..., 2, F)
        Per-head weight × z: what pushed each score up (positive) or down.
    baseline_source : str
        "agent" or "population": which baseline judged these windows.
    feature_names : tuple of str
    """

    agitation: np.ndarray
    low_energy: np.ndarray
    z: np.ndarray
    contributions: np.ndarray
    baseline_source: str
    feature_names: tuple[str, ...]


class VoiceModel:
    """The ONNX scoring model and its card (``models/voice_scoring.onnx`` + ``.json``)."""

    def __init__(self, path: str | Path) -> None:
        import onnxruntime as ort

        path = Path(path)
        meta_path = path.with_suffix(".json")
        if not path.exists():
            raise ModelError(
                f"scoring model not found at {path} (with {meta_path.name}); "
                "train one with 'voiceline train-model'"
            )
        if not meta_path.exists():  # the card says which features, in which order
            raise ModelError(
                f"{path} has no model card beside it ({meta_path.name} is missing): copy "
                "the card together with the model, or retrain with 'voiceline train-model'"
            )
        try:
            self._read_card(meta_path)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ModelError(f"{meta_path}: not a readable model card ({exc}); retrain "
                             "with 'voiceline train-model' or restore the file") from None
        except RecursionError:
            raise ModelError(f"{meta_path}: not a readable model card (nested too deeply)"
                             ) from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own kinds (InvalidProtobuf, …)
            raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__}: "
                             f"{str(exc)[:200]}); retrain with 'voiceline train-model' or "
                             "restore the file") from None
        self._input = self.session.get_inputs()[0].name

    def _read_card(self, meta_path: Path) -> None:
        self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        self.feature_names = tuple(self.meta["feature_names"])
        self.weights = np.asarray(self.meta["weights"], dtype=np.float64)  # (2, F)
        if self.weights.shape != (len(HEADS), len(self.feature_names)):
            raise ValueError(f"weights must be {len(HEADS)} rows of "
                             f"{len(self.feature_names)} numbers")
        # Low energy is the larger of two sub-heads; a window's low-energy explanation
        # uses the weights of the one that won.
        subheads = self.meta.get("subheads", [])
        self._low_parts = np.asarray([h["weights"] for h in subheads if h["head"] == HEADS[1]],
                                     dtype=np.float64).reshape(-1, len(self.feature_names))
        self._low_bias = np.asarray([h["bias"] for h in subheads if h["head"] == HEADS[1]])

    def probabilities(self, z: np.ndarray) -> np.ndarray:
        """``(N, 2)`` probabilities (agitation, low energy) of z-scores ``(N, F)``."""
        x = np.ascontiguousarray(z, dtype=np.float32).reshape(-1, len(self.feature_names))
        return self.session.run(None, {self._input: x})[0].astype(np.float64)

    def score(self, windows: np.ndarray, baseline: Baseline,
              level_unknown: np.ndarray | None = None) -> Score:
        """Score feature windows ``(..., F)`` (NaN rows give NaN scores).

        ``level_unknown`` (bool, ``(...)``) marks windows whose level is the line's fault
        (clipped, or too quiet for the line): their
        :data:`~emotion.windows.LEVEL_BOUND_FEATURES` count as usual (z = 0), so the
        voice is judged on what the gain does not change.
        """
        if baseline.feature_names != self.feature_names:
            raise ModelError(
                f"baseline of {baseline.agent_id} has features {baseline.feature_names}, the "
                f"model expects {self.feature_names}; recalibrate with this Voiceline"
            )
        z = np.clip(baseline.z(windows), -Z_LIMIT, Z_LIMIT)
        if level_unknown is not None and np.any(level_unknown):
            bound = [self.feature_names.index(n) for n in LEVEL_BOUND_FEATURES
                     if n in self.feature_names]
            fault = np.asarray(level_unknown, dtype=bool)
            z[..., bound] = np.where(fault[..., None] & np.isfinite(z[..., bound]), 0.0,
                                     z[..., bound])
        lead = z.shape[:-1]
        flat = z.reshape(-1, z.shape[-1])
        ok = np.all(np.isfinite(flat), axis=-1)
        probs = np.full((flat.shape[0], 2), np.nan)
        if ok.any():
            probs[ok] = self.probabilities(flat[ok])
        probs = probs.reshape(*lead, 2)
        weights = np.broadcast_to(self.weights, (*lead, *self.weights.shape)).copy()
        if self._low_parts.shape[0] > 1:
            winner = np.argmax(np.nan_to_num(z) @ self._low_parts.T + self._low_bias, axis=-1)
            weights[..., 1, :] = self._low_parts[winner]
        return Score(
            agitation=probs[..., 0], low_energy=probs[..., 1], z=z,
            contributions=z[..., None, :] * weights, baseline_source=baseline.source,
            feature_names=self.feature_names,
        )


def explain(score: Score, index, agent_id: str, head: str = "agitation", top: int = 3) -> str:
    """Plain words for one window: the features that pushed ``head`` up, largest first.

    ``"loudness +2.6 σ above A1001's usual, speaking rate +1.9 σ"``
    """
    h = HEADS.index(head)
    contrib = np.asarray(score.contributions[index])[h]
    z = np.asarray(score.z[index])
    order = [i for i in np.argsort(-contrib) if contrib[i] > 0][:top]
    whose = "the usual" if score.baseline_source == "population" else f"{agent_id}'s usual"
    parts = []
    for rank, i in enumerate(order):
        name = score.feature_names[i]
        word = FEATURE_WORDS.get(name, name)
        direction = "above" if z[i] > 0 else "below"
        text = f"{word} {z[i]:+.1f} σ"
        parts.append(f"{text} {direction} {whose}" if rank == 0 else text)
    return ", ".join(parts) if parts else f"no feature stands out from {whose}"
