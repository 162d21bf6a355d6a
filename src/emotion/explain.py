"""Why an alert opened, in the agent's own terms: the drivers and their plain words.

An alert's drivers are the features whose mean robust z over its windows pushed that
kind's model head up most (weight × z); :func:`explain_drivers` says them in English or
Chinese against the agent's own usual ("louder (+2.6 σ) … than A1001's usual"). The live
alerts (:mod:`emotion.alerts`), the pre-inspection flags (:mod:`qa.checks`) and the
agents' reports use the same words, and the console mirrors them (``i18n.js``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emotion.scoring import HEADS, Z_LIMIT, ModelError
from emotion.windows import FEATURE_NAMES

KINDS = HEADS
#: Card of the shipped scoring model, whose head weights tell which way each feature
#: pushes each kind.
DEFAULT_MODEL_CARD = Path(__file__).resolve().parents[2] / "models" / "voice_scoring.json"
#: Per feature: words for a z above and below the agent's usual.
FEATURE_WORDS = {
    "en": {
        "loudness_n5_sone": ("louder", "quieter"),
        "loudness_mean_sone": ("louder", "quieter"),
        "sharpness_acum": ("sharper", "duller"),
        "roughness_asper": ("rougher", "smoother"),
        "fluctuation_vacil": ("more uneven", "steadier"),
        "f0_median_st": ("higher-pitched", "lower-pitched"),
        "f0_range_st": ("more varied pitch", "flatter pitch"),
        "speech_rate_syl_s": ("faster", "slower"),
        "pause_ratio": ("more pauses", "fewer pauses"),
        "spectral_balance": ("brighter", "darker"),
        "aperiodicity": ("hoarser", "clearer"),
        "f0_movement_st": ("jumpier pitch", "steadier pitch"),
        "vowel_centroid_hz": ("more open, effortful vowels", "more muffled vowels"),
        "vowel_tilt_db": ("softer voice quality", "more pressed voice"),
        "loudness_slope_sone_s": ("more abrupt loudness changes", "gentler loudness changes"),
        "syllable_rate_syl_s": ("quicker syllables", "slower syllables"),
    },
    "zh": {
        "loudness_n5_sone": ("音量更大", "音量更小"),
        "loudness_mean_sone": ("音量更大", "音量更小"),
        "sharpness_acum": ("声音更尖", "声音更闷"),
        "roughness_asper": ("声音更粗糙", "声音更平滑"),
        "fluctuation_vacil": ("起伏更不均匀", "更平稳"),
        "f0_median_st": ("音调更高", "音调更低"),
        "f0_range_st": ("音调变化更大", "音调更平"),
        "speech_rate_syl_s": ("语速更快", "语速更慢"),
        "pause_ratio": ("停顿更多", "停顿更少"),
        "spectral_balance": ("音色更亮", "音色更暗"),
        "aperiodicity": ("声音更沙哑", "声音更清亮"),
        "f0_movement_st": ("音调跳动更多", "音调更稳"),
        "vowel_centroid_hz": ("元音更开、更用力", "元音更闷"),
        "vowel_tilt_db": ("发声更松", "发声更紧"),
        "loudness_slope_sone_s": ("音量变化更急", "音量变化更缓"),
        "syllable_rate_syl_s": ("吐字更快", "吐字更慢"),
    },
}


def head_weights(card_path: str | Path = DEFAULT_MODEL_CARD,
                 feature_names: tuple[str, ...] = FEATURE_NAMES) -> np.ndarray:
    """Weights ``(kinds, F)`` of the scoring model's heads, read from its JSON card."""
    card_path = Path(card_path)
    if not card_path.exists():
        raise ModelError(f"model card not found at {card_path}; pass weights= to AlertRules "
                         "(e.g. VoiceModel(path).weights)")
    card = json.loads(card_path.read_text())
    if tuple(card.get("heads", ())) != KINDS or tuple(card.get("feature_names", ())) != tuple(
            feature_names):
        raise ModelError(f"model card {card_path} has heads {card.get('heads')} and features "
                         f"{card.get('feature_names')}, expected {KINDS} and {feature_names}")
    return np.asarray(card["weights"], dtype=np.float64)


def top_drivers(mean_z: np.ndarray, weights: np.ndarray,
                feature_names: tuple[str, ...] = FEATURE_NAMES,
                top: int = 3) -> tuple[tuple[str, float], ...]:
    """Features that pushed a head up most: weight × z > 0, largest first.

    Parameters
    ----------
    mean_z, weights : ndarray, shape (F,)
        Mean robust z of the alert's windows, and the head's weights.

    Returns
    -------
    tuple of (feature name, mean z), at most ``top``.
    """
    contribution = np.asarray(weights) * np.asarray(mean_z)
    order = [i for i in np.argsort(-contribution, kind="stable") if contribution[i] > 0]
    return tuple((feature_names[i], float(mean_z[i])) for i in order[:top])


def sigma_text(z: float) -> str:
    """``"+2.6 σ"``; a mean z at the scores' limit (every window at ±:data:`Z_LIMIT`) is
    ``"≥ +6.0 σ"``: the voice was at least that far out, not exactly that far."""
    if abs(z) >= Z_LIMIT - 0.05:
        return f"{'≥' if z > 0 else '≤'} {z:+.1f} σ"
    return f"{z:+.1f} σ"


class _Population:
    """The label of a voice judged against the agents' usual (:data:`POPULATION`)."""

    def __repr__(self) -> str:
        return "POPULATION"


POPULATION = _Population()
"""``explain_drivers``'s agent for a voice judged against the population of the agents'
baselines (the agent has none of their own): "the agents' usual (no personal baseline
yet)", as the console's ``POPULATION`` says it."""
_POPULATION_WORDS = {"en": "the agents' usual (no personal baseline yet)",
                     "zh": "坐席群体平时（尚无个人基线）"}


def explain_drivers(drivers, agent, duration_s: float, lang: str = "en") -> str:
    """One line in plain words: how the voice differs from the agent's usual, how long.

    ``"louder (+2.6 σ) and higher-pitched (+1.9 σ) than A1001's usual, for 7 s"``;
    ``lang="zh"``: ``"与A1001平时相比：音量更大（+2.6 σ）、音调更高（+1.9 σ），持续 7 秒"``.
    Features with the same words (the two loudness measures) are said once, the
    stronger first. ``agent``: the agent's label, :data:`POPULATION` for a voice judged
    against the agents' usual, or None (no label: "usual").
    """
    if lang not in FEATURE_WORDS:
        raise ValueError(f"lang must be one of {', '.join(FEATURE_WORDS)}, got {lang!r}")
    words = FEATURE_WORDS[lang]
    parts, said = [], set()
    for name, z in drivers:
        up, down = words.get(name, (f"{name} ↑", f"{name} ↓"))
        word = up if z > 0 else down
        if word not in said:
            said.add(word)
            parts.append((word, sigma_text(z)))
    seconds = max(0, round(duration_s))
    minutes, rest = divmod(seconds, 60)
    if lang == "zh":
        whose = (_POPULATION_WORDS["zh"] if agent is POPULATION
                 else f"{agent}平时" if agent else "平时")
        span = f"{minutes} 分 {rest} 秒" if minutes else f"{rest} 秒"
        if not parts:
            return f"与{whose}相比没有哪一项特别突出，持续 {span}"
        return f"与{whose}相比：{'、'.join(f'{w}（{z}）' for w, z in parts)}，持续 {span}"
    whose = (_POPULATION_WORDS["en"] if agent is POPULATION
             else f"{agent}'s usual" if agent else "usual")
    span = f"{minutes} min {rest} s" if minutes else f"{rest} s"
    if not parts:
        return f"no single feature stands out from {whose}, for {span}"
    items = [f"{w} ({z})" for w, z in parts]
    listed = items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
    return f"{listed} than {whose}, for {span}"
