"""Compact per-call summaries of an agent's voice against their baseline (for reports).

A call's scored windows (live or from a recording) are reduced to a small JSON-ready
dict: how much of the speech stayed inside the agent's usual range (see
:func:`in_usual_range`), each reported
feature's quantiles and the share of windows above or below the baseline's 5-95 % band,
a histogram of its z, the shares of agitated and low-energy windows, and the same
medians per 5-minute segment of the call (drift within long calls). No audio and no
per-window rows: a day of calls costs a few kilobytes per agent.
"""

from __future__ import annotations

import numpy as np

from emotion.baseline import Baseline
from emotion.windows import FEATURE_NAMES

#: Features an agent's report shows (and their summaries keep).
REPORT_FEATURES = ("loudness_mean_sone", "sharpness_acum", "roughness_asper",
                   "fluctuation_vacil", "f0_median_st", "f0_range_st", "speech_rate_syl_s")
#: Edges of the z histogram (open-ended outer bins).
Z_EDGES = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
#: Probability at or above which a window counts as agitated / low in energy.
HOT = 0.7
SEGMENT_S = 300.0
#: Share of the agent's own calibration speech that the usual range holds.
USUAL_COVERAGE = 0.90
#: 2: the usual range is joint (Mahalanobis, :func:`in_usual_range`); version 1 counted
#: a window in range only when all seven features sat in their own 5-95 % bands at once,
#: which holds for about half of a voice identical to its calibration (0.9^7 = 0.48).
SUMMARY_VERSION = 2


def in_usual_range(z: np.ndarray, covariance: np.ndarray,
                   coverage: float = USUAL_COVERAGE) -> np.ndarray:
    """Whether each window lies in the usual range of the baseline, jointly over features.

    A window is in range when its squared Mahalanobis distance from the baseline's
    median, ``z Σ⁻¹ zᵀ`` over the robust z of the features with Σ their (shrunk)
    covariance, is at most the χ² quantile that a voice behaving as in its calibration
    stays within ``coverage`` of the time. Features that move together (loud speech is
    sharper) are judged together: one feature far out, or several a little out in an
    unusual combination, leave the range. On 12 simulated agents (300 s calibrations):
    0.89 of the calibration windows, 0.85-0.87 of other calm speech, 0.00 of agitated
    and 0.04 of low-energy speech are in range; benchmarks/RESULTS.md, twenty-second round.

    Parameters
    ----------
    z : ndarray (W, k)
        Robust z-scores of the windows' features (:meth:`emotion.baseline.Baseline.z`).
    covariance : ndarray (k, k)
        The baseline's covariance of those features' z.
    """
    from scipy.special import chdtri

    z = np.asarray(z, dtype=np.float64)
    k = z.shape[1]
    cov = np.asarray(covariance, dtype=np.float64)
    # A tiny ridge keeps a degenerate covariance (a constant feature) invertible.
    cov = cov + 1e-9 * max(float(np.trace(cov)) / k, 1e-12) * np.eye(k)
    d2 = np.einsum("ij,ij->i", z, np.linalg.solve(cov, z.T).T)
    return d2 <= chdtri(k, 1.0 - coverage)


def _r(x: float, digits: int = 3) -> float | None:
    return round(float(x), digits) if np.isfinite(x) else None


def summarise_call(t_s: np.ndarray, features: np.ndarray, agitation: np.ndarray,
                   low_energy: np.ndarray, baseline: Baseline, *,
                   speech_s: np.ndarray | None = None, hop_s: float = 1.0) -> dict:
    """Summary of one call's windows against the baseline they were scored with.

    Parameters
    ----------
    t_s : ndarray (W,)
        Window end times, call time.
    features : ndarray (W, F)
        :data:`emotion.windows.FEATURE_NAMES`; rows with NaN (no evidence) are left out.
    agitation, low_energy : ndarray (W,)
        The model's probabilities for those windows.
    baseline : Baseline
    speech_s : ndarray (W,), optional
        Speech in each window; the summary's ``speech_s`` counts ``hop_s`` of it per
        window (windows overlap), default ``hop_s`` per valid window.
    """
    feats = np.asarray(features, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
    ok = np.all(np.isfinite(feats), axis=1)
    t = np.asarray(t_s, dtype=np.float64)[ok]
    x = feats[ok]
    agit = np.asarray(agitation, dtype=np.float64)[ok]
    low = np.asarray(low_energy, dtype=np.float64)[ok]
    n = int(x.shape[0])
    out: dict = {"version": SUMMARY_VERSION, "windows": n, "baseline": baseline.source,
                 "baseline_agent": baseline.agent_id}
    if speech_s is not None:
        share = np.clip(np.asarray(speech_s, float)[ok] / 3.0, 0, 1)
        out["speech_s"] = _r(float(np.sum(share) * hop_s), 1)
    else:
        out["speech_s"] = _r(n * hop_s, 1)
    if n == 0:
        out.update(in_range_share=None, features={}, agitated_share=None,
                   low_energy_share=None, segments=[])
        return out
    idx = [FEATURE_NAMES.index(f) for f in REPORT_FEATURES]
    lo = baseline.quantiles["q05"][idx]
    hi = baseline.quantiles["q95"][idx]
    sub = x[:, idx]
    z = baseline.z(x)[:, idx]
    inside = in_usual_range(z, baseline.covariance[np.ix_(idx, idx)])
    edges = np.concatenate([[-np.inf], Z_EDGES, [np.inf]])
    per_feature = {}
    for k, name in enumerate(REPORT_FEATURES):
        v = sub[:, k]
        q = np.quantile(v, (0.05, 0.25, 0.5, 0.75, 0.95))
        per_feature[name] = {
            "q05": _r(q[0]), "q25": _r(q[1]), "median": _r(q[2]), "q75": _r(q[3]),
            "q95": _r(q[4]), "mean": _r(v.mean()),
            "above": _r(np.mean(v > hi[k])), "below": _r(np.mean(v < lo[k])),
            "z_median": _r(np.median(z[:, k])),
            "z_hist": np.histogram(z[:, k], bins=edges)[0].astype(int).tolist(),
        }
    segments = []
    for start in np.arange(0.0, float(t.max()) + 1e-9, SEGMENT_S):
        m = (t > start) & (t <= start + SEGMENT_S)
        if m.sum() < 5:
            continue
        segments.append({"start_s": float(start), "windows": int(m.sum()),
                         "in_range_share": _r(np.mean(inside[m])),
                         "medians": {name: _r(np.median(sub[m, k]))
                                     for k, name in enumerate(REPORT_FEATURES)}})
    out.update(in_range_share=_r(np.mean(inside)), features=per_feature,
               agitated_share=_r(np.mean(agit >= HOT)) if np.isfinite(agit).any() else None,
               low_energy_share=_r(np.mean(low >= HOT)) if np.isfinite(low).any() else None,
               segments=segments)
    return out
