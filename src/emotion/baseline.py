"""Per-agent voice baselines: robust statistics of an agent's ordinary speech.

A :class:`Baseline` holds, per feature, the median, the MAD-based robust standard
deviation and quantiles of an agent's feature windows, plus a shrunk covariance of
their robust z-scores, and the metadata that makes it auditable (speech seconds used,
channel type, level profile, software and schema version, date). Scoring turns a
window into robust z per feature against it.

Baselines are per agent *and per channel type* ("8k" telephone, "16k" wideband): a
telephone line removes everything above 3.4 kHz, so the same voice has different
sharpness on the two (benchmarks/RESULTS.md, telephone band).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from emotion.windows import FEATURE_NAMES

SCHEMA_VERSION = 2
#: MAD of a normal distribution times this is its standard deviation.
MAD_TO_SIGMA = 1.4826
QUANTILES = (0.05, 0.25, 0.75, 0.95)
CHANNEL_TYPES = ("8k", "16k")
#: Largest magnitude a baseline's statistic may have. Every feature is a loudness, a
#: pitch, a rate or a frequency of a few thousand at most; 1e308 is a damaged file, and
#: squared in a report it overflowed.
MAX_MAGNITUDE = 1e6
#: Calibration below this much speech is refused: the statistics would not be stable.
MIN_SPEECH_S = 30.0
#: Typical within-speaker robust sigma of each feature (:data:`emotion.windows.FEATURE_NAMES`
#: order) per channel type: the median over the training speakers with at least 10 s of
#: calibration speech (RAVDESS + EmoDB through the detection protocol: 22 of 34 on the
#: phone line, 23 of 34 clean; benchmarks/RESULTS.md, fifth round). The others' median
#: is lower on 13 of 15 features (by 4-63 %): a MAD over few windows underestimates the
#: spread, and z-scores against it run large. (They are all EmoDB speakers, so corpus
#: and calibration length are confounded in that comparison.) syllable_rate_syl_s's
#: entry was measured the same way when it was added (seventh round).
WITHIN_SPEAKER_SIGMA = {
    "8k": (2.2147, 1.0408, 0.0371, 0.0904, 0.4565, 1.3231, 1.6517, 0.5514, 0.1334, 0.0257,
           0.0239, 0.0292, 33.8999, 1.6378, 10.5603, 0.7691),
    "16k": (2.1248, 1.3721, 0.1223, 0.1591, 0.4746, 1.4293, 1.96, 0.6165, 0.1483, 0.0397,
            0.0233, 0.0256, 43.4001, 1.9434, 10.089, 0.7012),
}
#: How much :func:`fit_baseline` trusts that prior, in 3 s windows of speech: an agent's
#: variance is ``(n s² + k p²) / (n + k)`` with ``n`` = speech seconds / 3 (independent
#: windows' worth), ``s`` their own sigma, ``p`` the prior. At the 30 s minimum the
#: agent's own spread weighs 77 %; at 5 min, 97 %.
PRIOR_WINDOWS = 3.0
#: Speech seconds per independent window in that count (the feature windows' length).
PRIOR_WINDOW_S = 3.0


class BaselineError(ValueError):
    """A baseline cannot be fitted, read or used; the message says why and what to do."""


@dataclass(frozen=True, eq=False)
class Baseline:
    """Robust statistics of one agent's feature windows on one channel type.

    Attributes
    ----------
    agent_id : str
    channel_type : {"8k", "16k"}
    feature_names : tuple of str
    median, sigma : ndarray, shape (F,)
        Per-feature median and robust standard deviation (1.4826 · MAD, floored).
    quantiles : dict of str to ndarray (F,)
        ``"q05"``, ``"q25"``, ``"q75"``, ``"q95"``.
    covariance : ndarray, shape (F, F)
        Ledoit-Wolf shrunk covariance of the robust z-scores (1 on the diagonal for
        well-behaved features).
    n_windows : int
    speech_s : float
        Seconds of speech the windows cover.
    level_profile : str
        Level calibration the features were measured with.
    source : {"agent", "population"}
    created, updated : str
        ISO 8601 UTC timestamps.
    software_version : str
    """

    agent_id: str
    channel_type: str
    feature_names: tuple[str, ...]
    median: np.ndarray
    sigma: np.ndarray
    quantiles: dict[str, np.ndarray]
    covariance: np.ndarray
    n_windows: int
    speech_s: float
    level_profile: str
    source: str = "agent"
    created: str = ""
    updated: str = ""
    software_version: str = ""
    notes: dict = field(default_factory=dict)

    def z(self, windows: np.ndarray) -> np.ndarray:
        """Robust z-scores ``(…, F)`` of feature windows ``(…, F)`` against this baseline."""
        x = np.asarray(windows, dtype=np.float64)
        if x.shape[-1] != len(self.feature_names):
            raise BaselineError(
                f"windows have {x.shape[-1]} features, the baseline of {self.agent_id} has "
                f"{len(self.feature_names)} ({', '.join(self.feature_names)})"
            )
        return (x - self.median) / self.sigma

    def to_json(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "agent_id": self.agent_id,
            "channel_type": self.channel_type,
            "source": self.source,
            "feature_names": list(self.feature_names),
            "median": self.median.tolist(),
            "sigma": self.sigma.tolist(),
            "quantiles": {k: v.tolist() for k, v in self.quantiles.items()},
            "covariance": self.covariance.tolist(),
            "n_windows": self.n_windows,
            "speech_s": round(self.speech_s, 3),
            "level_profile": self.level_profile,
            "created": self.created,
            "updated": self.updated,
            "software_version": self.software_version,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, doc: dict, where: str = "baseline") -> Baseline:
        """Parse and check a baseline document; errors name ``where`` and the field.

        Anything that is not a baseline (``null``, a list, a field of the wrong kind) is
        a :class:`BaselineError` too, never a ``TypeError`` from deep inside: one bad
        file in a calibration folder must cost only its own agent.
        """
        if not isinstance(doc, dict):
            raise BaselineError(f"{where}: not a readable baseline (a JSON "
                                f"{type(doc).__name__}, not an object)")
        try:
            return cls._from_json(doc, where)
        except BaselineError:
            raise
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise BaselineError(f"{where}: not a readable baseline ({exc})") from None

    @classmethod
    def _from_json(cls, doc: dict, where: str) -> Baseline:
        def need(key):
            if key not in doc:
                raise BaselineError(f"{where}: missing field {key!r}")
            return doc[key]

        version = need("schema_version")
        if version != SCHEMA_VERSION:
            raise BaselineError(
                f"{where}: schema version {version} is not supported (this Voiceline reads "
                f"version {SCHEMA_VERSION}, whose features differ); recalibrate the agent "
                "with 'voiceline calibrate'"
            )
        names = need("feature_names")
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
            raise BaselineError(f"{where}: feature_names must be a list of names")
        names = tuple(names)
        n = len(names)

        def vector(key, values):
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape != (n,) or not np.all(np.abs(arr) <= MAX_MAGNITUDE):
                raise BaselineError(f"{where}: {key} must be {n} finite numbers of at most "
                                    f"{MAX_MAGNITUDE:g}")
            return arr

        quantiles = need("quantiles")
        if not isinstance(quantiles, dict):
            raise BaselineError(f"{where}: quantiles must be an object of named vectors")
        notes = doc.get("notes", {})
        if not isinstance(notes, dict):
            raise BaselineError(f"{where}: notes must be an object")

        sigma = vector("sigma", need("sigma"))
        if np.any(sigma <= 0):
            raise BaselineError(f"{where}: sigma must be positive")
        cov = np.asarray(need("covariance"), dtype=np.float64)
        if cov.shape != (n, n) or not np.all(np.abs(cov) <= MAX_MAGNITUDE):
            raise BaselineError(f"{where}: covariance must be {n}x{n} finite numbers")
        channel = need("channel_type")
        if channel not in CHANNEL_TYPES:
            raise BaselineError(f"{where}: channel_type must be one of {CHANNEL_TYPES}")
        return cls(
            agent_id=str(need("agent_id")), channel_type=channel, feature_names=names,
            median=vector("median", need("median")), sigma=sigma,
            quantiles={str(k): vector(k, v) for k, v in quantiles.items()},
            covariance=cov, n_windows=int(need("n_windows")), speech_s=float(need("speech_s")),
            level_profile=str(need("level_profile")), source=str(doc.get("source", "agent")),
            created=str(doc.get("created", "")), updated=str(doc.get("updated", "")),
            software_version=str(doc.get("software_version", "")),
            notes=notes,
        )


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def ledoit_wolf(z: np.ndarray) -> np.ndarray:
    """Ledoit & Wolf (2004) covariance shrunk towards a scaled identity.

    Σ = (1 − δ) S + δ μ I with S the sample covariance, μ = tr(S)/p, and δ the
    estimated optimal intensity (their Lemma 3.3, Theorem 3.1).
    """
    x = z - z.mean(axis=0)
    n, p = x.shape
    s = x.T @ x / n
    mu = np.trace(s) / p
    d2 = np.sum((s - mu * np.eye(p)) ** 2)  # ‖S − μI‖²
    b2 = sum(np.sum((np.outer(row, row) - s) ** 2) for row in x) / n**2
    delta = 0.0 if d2 == 0 else min(b2, d2) / d2
    return (1.0 - delta) * s + delta * mu * np.eye(p)


def fit_baseline(
    windows: np.ndarray,
    feature_names: list[str] | tuple[str, ...],
    *,
    agent_id: str,
    channel_type: str,
    speech_s: float,
    level_profile: str,
    sigma_floor: np.ndarray | None = None,
    min_speech_s: float = MIN_SPEECH_S,
    software_version: str = "",
    prior_windows: float = PRIOR_WINDOWS,
) -> Baseline:
    """Fit a baseline to feature windows ``(n_windows, F)`` of ordinary speech.

    Parameters
    ----------
    sigma_floor : ndarray (F,), optional
        Smallest robust sigma per feature, so that a near-constant feature cannot turn
        tiny wobbles into huge z-scores; default 1e-6.
    prior_windows : float
        Weight of :data:`WITHIN_SPEAKER_SIGMA` in the sigma, in windows' worth of
        speech (see :data:`PRIOR_WINDOWS`); 0 uses the agent's own spread alone. Applies
        to the product's features (:data:`emotion.windows.FEATURE_NAMES`); the agent's
        own sigma is kept in ``notes["sigma_own"]``.

    Raises
    ------
    BaselineError
        Too little speech (under ``min_speech_s``), too few windows, a wrong shape,
        non-finite values, or an unknown channel type.
    """
    x = np.asarray(windows, dtype=np.float64)
    names = tuple(feature_names)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise BaselineError(f"windows must be (n_windows, {len(names)}), got {x.shape}")
    if channel_type not in CHANNEL_TYPES:
        raise BaselineError(f"channel_type must be one of {CHANNEL_TYPES}, got {channel_type!r}")
    if speech_s < min_speech_s:
        raise BaselineError(
            f"only {speech_s:.1f} s of speech for agent {agent_id}; a baseline needs at least "
            f"{min_speech_s:.0f} s of ordinary speech (about a minute is better): add recordings"
        )
    if x.shape[0] < 10:
        raise BaselineError(f"only {x.shape[0]} feature windows for agent {agent_id}; need ≥ 10")
    if not np.all(np.isfinite(x)):
        raise BaselineError("feature windows contain NaN or inf; drop those windows first")
    floor = np.full(len(names), 1e-6) if sigma_floor is None else np.asarray(sigma_floor, float)
    median = np.median(x, axis=0)
    own = np.maximum(MAD_TO_SIGMA * np.median(np.abs(x - median), axis=0), floor)
    sigma, notes = own, {}
    if prior_windows > 0 and names == FEATURE_NAMES:
        prior = np.asarray(WITHIN_SPEAKER_SIGMA[channel_type])
        n = speech_s / PRIOR_WINDOW_S
        sigma = np.maximum(np.sqrt((n * own**2 + prior_windows * prior**2)
                                   / (n + prior_windows)), floor)
        notes = {"sigma_own": [float(v) for v in own],
                 "sigma_prior_windows": prior_windows}
    quantiles = {f"q{round(q * 100):02d}": np.quantile(x, q, axis=0) for q in QUANTILES}
    stamp = _now()
    return Baseline(
        agent_id=agent_id, channel_type=channel_type, feature_names=names, median=median,
        sigma=sigma, quantiles=quantiles, covariance=ledoit_wolf((x - median) / sigma),
        n_windows=int(x.shape[0]), speech_s=float(speech_s), level_profile=level_profile,
        source="agent", created=stamp, updated=stamp, software_version=software_version,
        notes=notes,
    )


def update_baseline(
    base: Baseline,
    windows: np.ndarray,
    *,
    flagged: np.ndarray | None = None,
    rate: float = 0.05,
    max_step_sigma: float = 0.1,
) -> Baseline:
    """Let a baseline follow slow, genuine change in a voice, never flagged stretches.

    The median moves towards the new windows' median by ``rate`` of the gap, at most
    ``max_step_sigma`` sigmas per update; sigma moves the same way in log terms, at most
    by a factor e^(±max_step_sigma). Windows marked in ``flagged`` (alerts, QA flags)
    are left out, so an agitated week cannot teach the baseline that agitation is usual.
    """
    x = np.asarray(windows, dtype=np.float64)
    if flagged is not None:
        x = x[~np.asarray(flagged, dtype=bool)]
    if x.ndim != 2 or x.shape[1] != len(base.feature_names) or x.shape[0] < 10:
        return base  # too little ordinary speech to learn from
    new_median = np.median(x, axis=0)
    new_sigma = np.maximum(MAD_TO_SIGMA * np.median(np.abs(x - new_median), axis=0), 1e-12)
    step = np.clip(rate * (new_median - base.median), -max_step_sigma * base.sigma,
                   max_step_sigma * base.sigma)
    log_step = np.clip(rate * np.log(new_sigma / base.sigma), -max_step_sigma, max_step_sigma)
    # The quantiles move with the median and widen or narrow with sigma, so that the
    # bands drawn from them (the console, the reports, the line) stay around the median.
    quantiles = {k: base.median + step + (q - base.median) * np.exp(log_step)
                 for k, q in base.quantiles.items()}
    return replace(
        base, median=base.median + step, sigma=base.sigma * np.exp(log_step),
        quantiles=quantiles, n_windows=base.n_windows + int(x.shape[0]), updated=_now(),
        notes=dict(base.notes),
    )


def population_baseline(baselines: list[Baseline], *, channel_type: str) -> Baseline:
    """A baseline for agents who have none: the median agent of a channel type.

    Its sigma combines the typical within-agent spread with the spread between agents'
    medians, so that a stranger's ordinary voice does not look extreme.
    """
    chosen = [b for b in baselines if b.channel_type == channel_type]
    if not chosen:
        raise BaselineError(f"no agent baselines on channel type {channel_type} to pool")
    names = chosen[0].feature_names
    if any(b.feature_names != names for b in chosen):
        raise BaselineError("agent baselines have different features; recalibrate them alike")
    medians = np.stack([b.median for b in chosen])
    within = np.median(np.stack([b.sigma for b in chosen]), axis=0)
    between = MAD_TO_SIGMA * np.median(np.abs(medians - np.median(medians, axis=0)), axis=0)
    sigma = np.sqrt(within**2 + between**2)
    median = np.median(medians, axis=0)
    # The bands widen with sigma: the typical agent's offsets of each quantile from their
    # median, scaled by how much wider the population is than one voice. The median
    # agent's own band alone (pitch 28.4-30.0 st among agents at 21.6-36.6 st) put a
    # stranger's calm voice "above the usual range" all call long.
    widen = sigma / np.maximum(within, 1e-12)
    stamp = _now()
    return Baseline(
        agent_id="population", channel_type=channel_type, feature_names=names,
        median=median, sigma=sigma,
        quantiles={k: median + widen * np.median(np.stack([b.quantiles[k] - b.median
                                                           for b in chosen]), axis=0)
                   for k in chosen[0].quantiles},
        covariance=np.mean(np.stack([b.covariance for b in chosen]), axis=0),
        n_windows=sum(b.n_windows for b in chosen),
        speech_s=sum(b.speech_s for b in chosen), level_profile=chosen[0].level_profile,
        source="population", created=stamp, updated=stamp,
        software_version=chosen[0].software_version,
        notes={"agents": len(chosen)},
    )


def check_agent_id(agent_id: str) -> str:
    """``agent_id`` when a baseline file can be named after it: letters, digits, ``-_.``,
    starting with a letter or digit (``.`` and ``..`` made hidden files ``..json`` and
    ``...json``, which no listing shows).

    One rule wherever an agent id enters (calibration, the admin API, live calls), so
    that every agent the store knows can have a baseline.
    """
    safe = "".join(c for c in agent_id if c.isalnum() or c in "-_.")
    if not safe or safe != agent_id:
        raise BaselineError(
            f"agent id {agent_id!r} must be letters, digits, '-', '_' or '.' only"
        )
    if not agent_id[0].isalnum():
        raise BaselineError(f"agent id {agent_id!r} must start with a letter or a digit")
    return agent_id


def baseline_path(directory: str | Path, agent_id: str, channel_type: str) -> Path:
    """``DIR/<agent>.json`` for 8 kHz (the main case), ``DIR/<agent>.16k.json`` otherwise."""
    check_agent_id(agent_id)
    suffix = "" if channel_type == "8k" else f".{channel_type}"
    return Path(directory) / f"{agent_id}{suffix}.json"


def kept_copy_path(folder: Path, path: Path, stamp: str) -> Path:
    """A free name in ``folder`` for a kept copy of the baseline file ``path``:
    ``<name>.<stamp>.json``, or ``<name>.<stamp>-2.json``… (stamps have whole seconds:
    two within one second keep both). Creates ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    name = path.name.removesuffix(".json")
    kept, n = folder / f"{name}.{stamp}.json", 1
    while kept.exists():
        n += 1
        kept = folder / f"{name}.{stamp}-{n}.json"
    return kept


def save_baseline(base: Baseline, directory: str | Path) -> Path:
    """Write the baseline atomically (temporary file, then rename); returns its path."""
    path = baseline_path(directory, base.agent_id, base.channel_type)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary file of this writer's own: two commands writing one agent's baseline at
    # once each rename a whole file (a shared name failed 6-17 times in 3 parallel writers).
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(json.dumps(base.to_json(), indent=1))
        # The mode the file had (an administrator's chmod stays), else 0644: mkstemp's
        # 0600 would hide a new baseline from a server running as another user.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def load_baseline(directory: str | Path, agent_id: str, channel_type: str = "8k", *,
                  features: tuple[str, ...] | None = FEATURE_NAMES) -> Baseline:
    """Read ``agent_id``'s baseline for ``channel_type``; a clear error if absent or bad,
    or (unless ``features`` is None) made with other features than ``features``."""
    path = baseline_path(directory, agent_id, channel_type)
    if not path.exists():
        raise BaselineError(
            f"no {channel_type} baseline for agent {agent_id} in {directory} (expected "
            f"{path.name}); run 'voiceline calibrate --agent {agent_id}' or use the "
            "population baseline"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        raise BaselineError(f"{path}: not a readable baseline ({exc})") from None
    except RecursionError:  # [[[[…]]]]
        raise BaselineError(f"{path}: not a readable baseline (JSON nested too deeply)"
                            ) from None
    base = Baseline.from_json(doc, where=str(path))
    if base.agent_id != agent_id:
        raise BaselineError(f"{path}: holds agent {base.agent_id}, not {agent_id}")
    _check_features(base, features, path)
    return base


def _check_features(base: Baseline, features: tuple[str, ...] | None, path: Path) -> None:
    if features is not None and base.feature_names != tuple(features):
        raise BaselineError(
            f"{path}: made with {len(base.feature_names)} features, not the "
            f"{len(features)} this Voiceline measures; recalibrate the agent with "
            "'voiceline calibrate'")



def load_all_baselines(directory: str | Path, channel_type: str,
                       problems: dict[str, str] | None = None, *,
                       features: tuple[str, ...] | None = FEATURE_NAMES) -> list[Baseline]:
    """Every readable agent baseline of ``channel_type`` in ``directory``.

    Files that do not read (corrupt, an older schema, other features) are skipped; where
    ``problems`` is given, it receives ``{file name: reason}`` for each, so a caller can
    say why an agent's own baseline was not used.
    """
    found = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            base = Baseline.from_json(json.loads(path.read_text(encoding="utf-8")),
                                      where=str(path))
            _check_features(base, features, path)
        except BaselineError as exc:  # an older schema, a missing field …
            if problems is not None:
                problems[path.name] = str(exc)
            continue
        except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
            if problems is not None:
                problems[path.name] = f"{path}: not a readable baseline ({exc})"
            continue
        except RecursionError:  # [[[[…]]]]
            if problems is not None:
                problems[path.name] = f"{path}: not a readable baseline (JSON nested too deeply)"
            continue
        if base.channel_type != channel_type or base.source != "agent":
            continue
        expected = baseline_path(directory, base.agent_id, base.channel_type).name
        if path.name != expected:  # a copy kept beside it ("A1.old.json") is not read
            if problems is not None:
                problems[path.name] = (f"{path}: holds {base.agent_id}'s baseline but is not "
                                       f"named {expected}; only {expected} is read (move "
                                       "copies into history/)")
            continue
        found.append(base)
    return found
