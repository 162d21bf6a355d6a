"""Level calibration: digital full-scale samples to sound pressure in pascals.

A level profile states which peak sound pressure digital full scale (±1.0) stands
for. Profiles are JSON files named ``<name>.json`` in a ``levels`` directory, looked up
in this order:

1. ``$VOICELINE_CALIBRATION_DIR/levels`` (a site's own calibration directory),
2. the repository's ``calibration/levels`` (a source checkout),
3. the package data ``capture/calibration_levels`` (an installed wheel).

Decibel conventions used throughout Voiceline:

* **dBFS** is ``20·log10(RMS)`` of digital samples, RMS taken relative to full-scale
  amplitude 1.0. A full-scale square wave is 0 dBFS and a full-scale sine −3.01 dBFS —
  the ``dBov`` reference of ITU-T G.711 Appendix II and P.56. (AES17 calls a
  full-scale sine 0 dBFS instead: 3.01 dB higher numbers for the same signal.)
* **dB SPL** is ``20·log10(p_rms / 20 µPa)``.

So for any profile ``L_SPL = L_dBFS + 20·log10(full_scale_peak_pa / 20 µPa)``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.ndimage import maximum_filter1d
from scipy.signal import lfilter

__all__ = [
    "P_REF_PA",
    "CalibrationError",
    "LevelProfile",
    "active_speech_level_dbfs",
    "available_level_profiles",
    "level_profile_dirs",
    "load_level_profile",
]

P_REF_PA = 20e-6
"""Reference sound pressure for dB SPL, in Pa."""

ENV_CALIBRATION_DIR = "VOICELINE_CALIBRATION_DIR"
_REPO_LEVELS = Path(__file__).resolve().parents[2] / "calibration" / "levels"
_PACKAGE_LEVELS = Path(__file__).resolve().parent / "calibration_levels"
_ANCHOR_TOLERANCE_DB = 0.01


class CalibrationError(ValueError):
    """A calibration profile is unknown or malformed; the message says which and why."""


@dataclass(frozen=True)
class LevelProfile:
    """What sound pressure digital full scale represents on one kind of channel.

    Attributes
    ----------
    name : str
        Profile name, equal to its file's stem (e.g. ``'g711-telephone'``).
    description : str
        One line: which channel or test convention this is.
    full_scale_peak_pa : float
        Peak sound pressure in Pa that digital ±1.0 represents.
    provenance : str
        Where the number comes from (standards, measurements).
    rationale : str
        Why this mapping was chosen and what it is good for.
    path : pathlib.Path or None
        The JSON file the profile was loaded from, if any.
    """

    name: str
    description: str
    full_scale_peak_pa: float
    provenance: str = ""
    rationale: str = ""
    path: Path | None = None

    def __post_init__(self) -> None:
        peak = self.full_scale_peak_pa
        if isinstance(peak, bool) or not isinstance(peak, int | float) or not peak > 0:
            raise CalibrationError(
                f"level profile {self.name!r}: full_scale_peak_pa must be a positive number of "
                f"pascals, got {peak!r}"
            )
        if not math.isfinite(peak):
            raise CalibrationError(
                f"level profile {self.name!r}: full_scale_peak_pa must be finite, got {peak!r}"
            )

    @property
    def full_scale_db_spl(self) -> float:
        """SPL of a signal at 0 dBFS (RMS equal to full scale, e.g. a full-scale square wave)."""
        return 20.0 * math.log10(self.full_scale_peak_pa / P_REF_PA)

    @property
    def full_scale_sine_db_spl(self) -> float:
        """SPL of a full-scale sine (−3.01 dBFS)."""
        return self.full_scale_db_spl - 10.0 * math.log10(2.0)

    def to_pascals(self, x: ArrayLike) -> np.ndarray:
        """Convert digital samples (full scale ±1.0), any shape, to sound pressure in Pa."""
        return np.asarray(x, dtype=np.float64) * self.full_scale_peak_pa

    def from_pascals(self, p_pa: ArrayLike) -> np.ndarray:
        """Convert sound pressure in Pa, any shape, to digital samples (full scale ±1.0)."""
        return np.asarray(p_pa, dtype=np.float64) / self.full_scale_peak_pa

    def dbfs_to_db_spl(self, level_dbfs: ArrayLike) -> np.floating | np.ndarray:
        """Convert levels in dBFS (RMS re full scale, see module docs) to dB SPL."""
        return np.add(level_dbfs, self.full_scale_db_spl)

    def db_spl_to_dbfs(self, level_db_spl: ArrayLike) -> np.floating | np.ndarray:
        """Convert levels in dB SPL to dBFS (RMS re full scale)."""
        return np.subtract(level_db_spl, self.full_scale_db_spl)


def level_profile_dirs() -> list[Path]:
    """Directories searched for ``<name>.json`` level profiles, first match wins.

    Returns
    -------
    list of pathlib.Path
        ``$VOICELINE_CALIBRATION_DIR/levels`` when the variable is set, then the
        repository's ``calibration/levels``, then the packaged copy. Some may not exist.
    """
    dirs = []
    override = os.environ.get(ENV_CALIBRATION_DIR)
    if override:
        dirs.append(Path(override).expanduser() / "levels")
    dirs += [_REPO_LEVELS, _PACKAGE_LEVELS]
    return dirs


def available_level_profiles() -> list[str]:
    """Names of all level profiles found in :func:`level_profile_dirs`, sorted."""
    names = {
        path.stem
        for directory in level_profile_dirs()
        if directory.is_dir()
        for path in directory.glob("*.json")
    }
    return sorted(names)


def load_level_profile(name: str) -> LevelProfile:
    """Load the level profile called ``name`` (e.g. ``'g711-telephone'``).

    Parameters
    ----------
    name : str
        Profile name, the stem of a JSON file in one of :func:`level_profile_dirs`.

    Returns
    -------
    LevelProfile

    Raises
    ------
    CalibrationError
        If no such profile exists (the message lists the available ones and where it
        looked) or its file is malformed (the message names the file and the field).
    """
    if not name or any(sep in name for sep in ("/", "\\")) or name.endswith(".json"):
        raise CalibrationError(
            f"level profile name {name!r} should be a bare name such as 'g711-telephone'; to "
            f"use your own profile file, put it in <dir>/levels/ and set {ENV_CALIBRATION_DIR}"
            "=<dir>"
        )
    for directory in level_profile_dirs():
        path = directory / f"{name}.json"
        if path.is_file():
            return _parse_profile(path, name)
    searched = ", ".join(str(d) for d in level_profile_dirs())
    available = ", ".join(available_level_profiles()) or "none"
    raise CalibrationError(
        f"unknown level profile {name!r}; available: {available} (searched {searched}; set "
        f"{ENV_CALIBRATION_DIR} to a directory with a levels/ folder to add your own)"
    )


def _parse_profile(path: Path, name: str) -> LevelProfile:
    def fail(problem: str) -> CalibrationError:
        return CalibrationError(f"level profile file {path}: {problem}")

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise fail(f"is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise fail("must hold a JSON object with name, description and full_scale_peak_pa")
    missing = [key for key in ("name", "description", "full_scale_peak_pa") if key not in data]
    if missing:
        raise fail(f"missing required field(s) {', '.join(missing)}")
    if data["name"] != name:
        raise fail(f"its name field {data['name']!r} differs from the file name {name!r}")
    for key in ("description", "provenance", "rationale"):
        if not isinstance(data.get(key, ""), str):
            raise fail(f"field {key!r} must be a string")
    try:
        profile = LevelProfile(
            name=name,
            description=data["description"],
            full_scale_peak_pa=data["full_scale_peak_pa"],
            provenance=data.get("provenance", ""),
            rationale=data.get("rationale", ""),
            path=path,
        )
    except CalibrationError as err:
        raise fail(str(err)) from None
    if "anchor" in data:
        _check_anchor(profile, data["anchor"], fail)
    return profile


def _check_anchor(profile: LevelProfile, anchor: object, fail) -> None:
    """An optional ``anchor`` {level_dbfs, level_db_spl} must agree with full_scale_peak_pa."""
    keys = ("level_dbfs", "level_db_spl")
    if not isinstance(anchor, dict) or not all(
        isinstance(anchor.get(k), int | float) and not isinstance(anchor.get(k), bool) for k in keys
    ):
        raise fail("field 'anchor' must be an object with numbers level_dbfs and level_db_spl")
    implied_db_spl = float(profile.dbfs_to_db_spl(anchor["level_dbfs"]))
    if abs(implied_db_spl - anchor["level_db_spl"]) > _ANCHOR_TOLERANCE_DB:
        peak = P_REF_PA * 10 ** ((anchor["level_db_spl"] - anchor["level_dbfs"]) / 20)
        raise fail(
            f"full_scale_peak_pa {profile.full_scale_peak_pa} puts {anchor['level_dbfs']} dBFS "
            f"at {implied_db_spl:.2f} dB SPL, but its anchor says {anchor['level_db_spl']} dB "
            f"SPL; for that anchor full_scale_peak_pa should be {peak:.6g}"
        )


# --- ITU-T P.56 active speech level ------------------------------------------------------------

_P56_TIME_CONSTANT_S = 0.03  # P.56 B.1: envelope smoothing time constant
_P56_HANGOVER_S = 0.2  # P.56 B.1: hangover time H
_P56_MARGIN_DB = 15.9  # P.56 B.1: margin M between active level and threshold
_P56_THRESHOLDS = 2.0 ** np.arange(-15, 1)  # c_j: 2^j on the 16-bit scale, in full-scale units


def active_speech_level_dbfs(x: ArrayLike, fs_hz: float) -> float | np.ndarray:
    """Active speech level by ITU-T P.56 method B, in dBFS (RMS re full scale = dBov).

    The level of speech while it is active, not diluted by pauses: the mean power over
    samples whose smoothed envelope is within the margin M = 15.9 dB below that level,
    with 200 ms of hangover.

    Parameters
    ----------
    x : array_like
        Digital samples (full scale ±1.0) shaped ``(samples,)`` or ``(streams, samples)``.
    fs_hz : float
        Sample rate in Hz.

    Returns
    -------
    float or numpy.ndarray
        The level in dBFS per stream; ``-inf`` where nothing rises above 2^-15.
    """
    samples = np.asarray(x, dtype=np.float64)
    if not fs_hz > 0:
        raise ValueError(f"fs_hz must be a positive sample rate in Hz, got {fs_hz!r}")
    if samples.ndim == 2:
        return np.array([_p56_level_dbfs(row, fs_hz) for row in samples])
    if samples.ndim != 1:
        raise ValueError(f"expected (samples,) or (streams, samples), got shape {samples.shape}")
    return _p56_level_dbfs(samples, fs_hz)


def _p56_level_dbfs(x: np.ndarray, fs_hz: float) -> float:
    energy = float(np.dot(x, x))
    if energy == 0.0:
        return -math.inf
    g = math.exp(-1.0 / (fs_hz * _P56_TIME_CONSTANT_S))
    p = lfilter([1.0 - g], [1.0, -g], np.abs(x))  # p(i) = g·p(i-1) + (1-g)·|x(i)|
    q = lfilter([1.0 - g], [1.0, -g], p)  # q(i) = g·q(i-1) + (1-g)·p(i)
    # a_j counts samples with q ≥ c_j or within the hangover H after one: those whose
    # running maximum of q over the last H samples and itself reaches c_j.
    hangover = math.ceil(_P56_HANGOVER_S * fs_hz)
    recent_max = maximum_filter1d(
        q, size=hangover + 1, mode="constant", cval=0.0, origin=hangover - (hangover + 1) // 2
    )
    active_counts = np.array([np.count_nonzero(recent_max >= c) for c in _P56_THRESHOLDS])
    valid = active_counts > 0
    if not valid.any():
        return -math.inf
    a_db = np.full(len(_P56_THRESHOLDS), np.inf)
    a_db[valid] = 10 * np.log10(energy / active_counts[valid])  # A_j
    c_db = 20 * np.log10(_P56_THRESHOLDS)  # C_j
    delta = a_db - c_db
    crossing = np.flatnonzero(valid & (delta <= _P56_MARGIN_DB))
    if crossing.size == 0:
        return float(a_db[np.flatnonzero(valid)[-1]])
    j = int(crossing[0])
    if j == 0:
        return float(a_db[0])
    t = (delta[j - 1] - _P56_MARGIN_DB) / (delta[j - 1] - delta[j])
    return float(a_db[j - 1] + t * (a_db[j] - a_db[j - 1]))
