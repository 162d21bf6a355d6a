"""The pre-inspection checks: flags with time spans and evidence, from a call's analysis.

Turn-taking checks read the two parties' voice-activity decisions. Voice checks read
the scoring model's probabilities of each feature window against the party's
baseline. The agent's (agitation, low energy, and fast speech on the syllable rate)
are judged a turn at a time: the mean over the windows within the turn
(:func:`turn_spans`, :func:`fast_speech_flags`). The caller's are spread onto the
speech frames the windows cover (each frame gets the mean over the windows around
it), so a flag spans the hot *speech* and not the 3 s windows' edges; hot frames
closer than ``MERGE_GAP_S`` are one event (:func:`hot_spans`).

Baselines, in order: the agent's own (``DIR/<agent>.json``), the population of the
agents in DIR, the party's own reference (the first minute of the call); every flag
and the call's metrics say which was used. The caller is always judged against their
own first minute (and that minute against the population, where there is one; the
whole call when it holds too little of their speech for a first minute). An agent's
own baseline fitted on little speech leans toward the call's own voice
(:func:`leaning_on_call`), the population does for the caller
(:func:`population_leaning_on_call`), and windows whose level is the line's fault are judged
without the level-bound features (:func:`line_faults`).

A transcript beside the recording adds the script rules of :mod:`qa.transcript`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from emotion.baseline import (
    PRIOR_WINDOW_S,
    PRIOR_WINDOWS,
    Baseline,
    BaselineError,
    baseline_path,
    fit_baseline,
    load_all_baselines,
    load_baseline,
    population_baseline,
)
from emotion.explain import explain_drivers
from emotion.line_level import call_line_level, through_line
from emotion.scoring import HEADS, Z_LIMIT, Score, VoiceModel
from emotion.summary import summarise_call
from emotion.windows import FEATURE_NAMES, FEATURE_SIGMA_FLOOR
from qa.analysis import CallAnalysis, CallJob, ChannelTrack
from qa.background import without_background
from qa.config import STEREO_CHECKS, TRANSCRIPT_CHECKS, QAConfig
from qa.crosstalk import without_leaks
from qa.flag import Flag
from qa.hold import hold_spans, without_music
from qa.segments import (
    bridge,
    cut_ins,
    one_sided,
    overlaps_started_by,
    replies,
    runs,
    silences,
    turns,
)
from qa.transcript import TranscriptError, read_transcript, transcript_flags

#: Hot speech closer than this is one event ...
MERGE_GAP_S = 2.0
#: ... and so is hot speech of consecutive turns (the other party talking between)
#: when at most this much of the party's own speech between them is not hot, within
#: ``MERGE_SPAN_S`` ...
MERGE_OWN_SPEECH_S = 1.0
MERGE_SPAN_S = 20.0
#: ... or when the speech between is not hot for less than this share of the hot speech
#: the two pieces hold: an agitated turn whose middle reads calmer for a second or two
#: (a quieter sentence, a window spanning a pause) is one event, not two too short to
#: report (a 7.4 s anger turn of qa_bench read hot for 2.0 s and 2.7 s around 1.2 s of
#: calmer speech, and was missed).
MERGE_COLD_SHARE = 0.5
_RATE = FEATURE_NAMES.index("speech_rate_syl_s")
#: fast_speech judges the loudness-peak syllable rate: it sees more of a faster turn
#: than the nuclei of ``speech_rate_syl_s`` (benchmarks/RESULTS.md, seventh round).
_FAST_RATE = FEATURE_NAMES.index("syllable_rate_syl_s")
#: Least windows of the agent's speech (free of line faults) for the call's own median
#: to move a thin baseline (see :func:`leaning_on_call`) or to judge a turn's rate by.
CALL_MEDIAN_MIN_WINDOWS = 10
#: fast_speech's second measure of tempo, the level's movement: the level is floored this
#: far below the turn's 95th percentile, so the line noise in the gaps between syllables
#: does not count, only the rise and fall of the syllables themselves.
MOVEMENT_RANGE_DB = 25.0
#: Least consecutive pairs of speech frames for a turn's level movement.
MOVEMENT_MIN_PAIRS = 20
#: Least turns of the agent with a level movement for the call's median of it.
MOVEMENT_MIN_TURNS = 3
#: A transcript that runs this far past the recording's end is not read (s): recognisers'
#: times drift by fractions of a second, another call's transcript by minutes.
TRANSCRIPT_OVERRUN_S = 5.0
#: A window counts for a turn if it starts and ends within this of the turn's edges: a
#: 3 s window reaching into the silence around a turn holds only the turn's speech (the
#: features read speech frames alone), and more windows make a short turn's mean
#: steadier. Chosen on qa_bench seeds 1-3 (0.5, 1, 1.5, 2, 2.5 s): fast speech 0.80 ->
#: 0.85, agent agitation 0.90 -> 0.94, low energy 0.70 -> 0.75 there (seventh round).
TURN_EDGE_S = 2.0
#: The agent's voice checks judge a turn by the mean over its windows, up to this much of
#: it at a time (see :func:`turn_spans`).
TURN_BLOCK_S = 10.0
#: A check compares with its threshold exactly the number its flag's evidence carries
#: (qa.tuning replays the thresholds on those numbers): times at 10 ms, the voice checks'
#: judged probability at 0.001, fast speech's tempo ratio at 0.001.
TIME_DECIMALS = 2
PROBABILITY_DECIMALS = 3


def seconds(frames: int | float, frame_s: float) -> float:
    """``frames`` of ``frame_s`` in seconds, as a flag's evidence carries it."""
    return round(float(frames) * frame_s, TIME_DECIMALS)


class Baselines:
    """Where a party's baseline comes from (see the module docstring); cached per process."""

    def __init__(self, directory: str | Path | None) -> None:
        self.directory = Path(directory) if directory else None
        self._agents: dict[tuple[str, str], Baseline | None] = {}
        self._population: dict[str, Baseline | None] = {}
        #: Why an agent's own baseline file could not be used (outdated schema, damaged),
        #: per (agent, channel type); absent files are not problems.
        self.problems: dict[tuple[str, str], str] = {}

    def agent(self, agent_id: str | None, channel_type: str) -> Baseline | None:
        if not agent_id or self.directory is None:
            return None
        key = (agent_id, channel_type)
        if key not in self._agents:
            try:
                self._agents[key] = load_baseline(self.directory, agent_id, channel_type)
            except BaselineError as exc:
                self._agents[key] = None
                try:
                    there = baseline_path(self.directory, agent_id, channel_type).exists()
                except BaselineError:  # an agent id that cannot name a file
                    there = False
                if there:
                    self.problems[key] = str(exc)
        return self._agents[key]

    def population(self, channel_type: str) -> Baseline | None:
        if self.directory is None:
            return None
        if channel_type not in self._population:
            found = load_all_baselines(self.directory, channel_type)
            self._population[channel_type] = (
                population_baseline(found, channel_type=channel_type) if found else None)
        return self._population[channel_type]


def own_reference(track: ChannelTrack, config: QAConfig, who: str, channel_type: str,
                  level_profile: str, faults: np.ndarray | None = None
                  ) -> tuple[Baseline, float] | None:
    """A baseline from the party's own speech at the start of the call, and its end (s).

    The first ``reference_s`` of the call, grown (up to half the call) until it holds
    ``reference_min_speech_s`` of speech; None when even that is not there. Windows in
    ``faults`` (a clipped or too quiet turn: see :func:`line_faults`) are left out: their
    level is the line's, not the voice's usual.
    """
    valid = np.all(np.isfinite(track.features), axis=1)
    if faults is not None:
        valid &= ~faults
    if not valid.any():
        return None
    speech_at = np.cumsum(track.speech) * track.frame_s
    duration = track.speech.size * track.frame_s
    end = config.reference_s
    need = config.reference_min_speech_s
    reached = np.flatnonzero(speech_at >= need)
    if reached.size:
        end = max(end, (reached[0] + 1) * track.frame_s)
    if end > max(duration / 2, config.reference_s):
        return None
    chosen = valid & (track.end_s <= end + 1e-9)
    speech_s = float(speech_at[min(int(end / track.frame_s), speech_at.size) - 1])
    try:
        base = fit_baseline(track.features[chosen], FEATURE_NAMES, agent_id=who,
                            channel_type=channel_type, speech_s=speech_s,
                            level_profile=level_profile,
                            sigma_floor=np.asarray(FEATURE_SIGMA_FLOOR),
                            min_speech_s=min(need, speech_s) if speech_s > 0 else need)
    except BaselineError:
        return None
    return base, end


def frame_means(track: ChannelTrack, values: np.ndarray) -> np.ndarray:
    """Per VAD frame: the mean of ``values`` (W,) over the finite windows covering it."""
    n = track.speech.size
    centre = (np.arange(n) + 0.5) * track.frame_s
    ok = np.isfinite(values)
    v = np.where(ok, values, 0.0)
    csum = np.concatenate([[0.0], np.cumsum(v)])
    ccount = np.concatenate([[0], np.cumsum(ok)])
    lo = np.searchsorted(track.end_s, centre, side="left")
    hi = np.searchsorted(track.end_s, centre + track.window_s, side="right")
    count = ccount[hi] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (csum[hi] - csum[lo]) / count
    out[count == 0] = np.nan
    return out


def hot_spans(track: ChannelTrack, frame_values: np.ndarray, threshold: float,
              min_speech_s: float) -> list[tuple[int, int]]:
    """Frame spans ``[start, end)`` of speech at or above ``threshold`` (one per event)."""
    hot = track.speech & (np.nan_to_num(frame_values, nan=-np.inf) >= threshold)
    pieces = runs(bridge(hot, int(round(MERGE_GAP_S / track.frame_s))))
    cold = track.speech & ~hot
    merged: list[list[int]] = []
    for start, end in pieces:
        if merged and (start - merged[-1][1]) * track.frame_s <= MERGE_SPAN_S:
            between = cold[merged[-1][1]:start].sum()
            held = hot[merged[-1][0]:merged[-1][1]].sum() + hot[start:end].sum()
            if (between * track.frame_s <= MERGE_OWN_SPEECH_S
                    or between < MERGE_COLD_SHARE * held):
                merged[-1][1] = end
                continue
        merged.append([start, end])
    return [(int(s), int(e)) for s, e in merged
            if hot[s:e].sum() * track.frame_s >= min_speech_s]


def _speech_in(track: ChannelTrack, start: int, end: int) -> float:
    """Seconds of speech in frames ``[start, end)``."""
    return float(track.speech[start:end].sum() * track.frame_s)


def _turn_windows(track: ChannelTrack, start: int, end: int, usable: np.ndarray) -> np.ndarray:
    """Mask of the ``usable`` windows that count for the turn in frames ``[start, end)``:
    those starting and ending within :data:`TURN_EDGE_S` of its edges."""
    s, e = start * track.frame_s, end * track.frame_s
    return ((track.end_s - track.window_s >= s - TURN_EDGE_S)
            & (track.end_s <= e + TURN_EDGE_S) & usable)


def turn_spans(track: ChannelTrack, turns: np.ndarray, probs: np.ndarray, threshold: float,
               min_speech_s: float) -> list[tuple[int, int, np.ndarray, float]]:
    """Stretches of a party's turns whose mean window probability reaches ``threshold``.

    A turn with ``min_speech_s`` of speech is judged on the windows that lie within it
    (:data:`TURN_EDGE_S`): by their mean, up to :data:`TURN_BLOCK_S` of it, or else by
    the mean of every run of windows that long, so that a few agitated seconds at the
    end of a long explanation are not averaged away. Flagged stretches of consecutive
    judged turns are one event (an angry exchange across a caller's interjection).
    Each span is ``(start, end, windows, score)``: frames, the windows judged, and the
    mean it reached (a flag is critical at ``critical``).

    Averaging over a turn rather than spreading windows onto frames weighs every
    window of the turn alike: on qa_bench's held-out calls (seeds 0 and 4), agent
    agitation F1 went from 0.89 / 0.88 to 0.98 / 0.93 and low energy from 0.64 / 0.60
    to 0.85 / 0.68 (benchmarks/RESULTS.md, seventh round).
    """
    finite = np.isfinite(probs)
    hop = float(np.median(np.diff(track.end_s))) if track.end_s.size > 1 else 1.0
    block = max(1, int(np.floor((TURN_BLOCK_S - track.window_s) / hop + 1e-9)) + 1)
    judged: list[list] = []  # per judged turn: [start, end, windows, score] or None
    for start, end in turns:
        if _speech_in(track, start, end) < min_speech_s:
            continue
        inside = np.flatnonzero(_turn_windows(track, start, end, finite))
        if inside.size == 0:
            continue
        if inside.size <= block:
            mean = round(float(np.mean(probs[inside])), PROBABILITY_DECIMALS)
            if mean >= threshold:
                judged.append([start, end, inside, mean])
            else:
                judged.append(None)
            continue
        means = np.round(np.convolve(probs[inside], np.ones(block) / block, mode="valid"),
                         PROBABILITY_DECIMALS)
        hot = np.flatnonzero(means >= threshold)
        if hot.size == 0:
            judged.append(None)
            continue
        for group in np.split(hot, np.flatnonzero(np.diff(hot) > 1) + 1):
            chosen = inside[group[0]:group[-1] + block]
            at = np.flatnonzero(probs[chosen] >= threshold)  # trim calm windows at the ends
            if at.size:
                chosen = chosen[at[0]:at[-1] + 1]
            lo = max(start, int(round((track.end_s[chosen[0]] - track.window_s)
                                      / track.frame_s)))
            hi = min(end, int(round(track.end_s[chosen[-1]] / track.frame_s)))
            judged.append([lo, hi, chosen, float(np.max(means[group]))])
    spans: list[list] = []  # [start, end, windows mask, score]
    previous = None
    for item in judged:
        if item is None:
            pass
        elif previous is not None and (item[0] - spans[-1][1]) * track.frame_s <= MERGE_SPAN_S:
            spans[-1][1] = item[1]  # the previous judged stretch was hot too: one event
            spans[-1][2][item[2]] = True
            spans[-1][3] = max(spans[-1][3], item[3])
        else:
            mask = np.zeros(track.end_s.shape, dtype=bool)
            mask[item[2]] = True
            spans.append([item[0], item[1], mask, item[3]])
        previous = item
    return [(int(start), int(end), mask, score) for start, end, mask, score in spans]


def _windows_in(track: ChannelTrack, start_s: float, end_s: float) -> np.ndarray:
    """Windows overlapping a span."""
    return (track.end_s > start_s) & (track.end_s - track.window_s < end_s)


def _drivers(score: Score, chosen: np.ndarray, head: int, top: int = 3):
    contrib = np.nanmean(score.contributions[chosen][:, head, :], axis=0)
    z = np.nanmean(score.z[chosen], axis=0)
    order = [i for i in np.argsort(-contrib, kind="stable") if contrib[i] > 0][:top]
    return tuple((FEATURE_NAMES[i], float(z[i])) for i in order)


_PARTY_ZH = {"agent": "坐席", "caller": "来电者"}


def _call_weight(base: Baseline) -> dict:
    """``{"baseline_call_weight": λ}`` when the baseline leans on the call (else empty)."""
    weight = base.notes.get("call_weight")
    return {"baseline_call_weight": weight} if weight else {}


def _who(base: Baseline, party: str, agent_id: str | None) -> tuple[str | None, str | None, str]:
    """Whose usual the explanation compares with (en, zh), and the baseline's label."""
    if base.source == "population":
        return None, None, "population"
    if base.agent_id.startswith("reference:"):
        return f"the {party}", _PARTY_ZH[party], "own first minute"
    return agent_id, agent_id, "agent"


def voice_flags(check: str, track: ChannelTrack, score: Score, base: Baseline,
                config: QAConfig, party: str, agent_id: str | None,
                turns: np.ndarray | None = None) -> list[Flag]:
    """agent_agitation / caller_agitation / agent_low_energy flags of one channel.

    With ``turns`` (the agent's), stretches are judged a turn at a time
    (:func:`turn_spans`); without, by hot speech frames (:func:`hot_spans`).
    """
    cfg = config.checks[check]
    head = 0 if check.endswith("agitation") else 1
    probs = score.agitation if head == 0 else score.low_energy
    who, who_zh, label = _who(base, party, agent_id)
    if turns is None:
        per_frame = frame_means(track, probs)
        spans = []
        for start, end in hot_spans(track, per_frame, cfg.warning, cfg.min_speech_s):
            if (end - start) * track.frame_s < cfg.min_s:
                continue  # a shout of a second or two is not agitation
            chosen = _windows_in(track, start * track.frame_s, end * track.frame_s)
            spans.append((start, end, chosen & np.isfinite(probs),
                          float(np.nanmax(per_frame[start:end]))))
    else:
        spans = turn_spans(track, turns, probs, cfg.warning, cfg.min_speech_s)
    out = []
    for start, end, chosen, level in spans:
        s, e = start * track.frame_s, end * track.frame_s
        drivers = _drivers(score, chosen, head)
        speech_s = _speech_in(track, start, end)
        what = ("sounded agitated" if head == 0 else "sounded low in energy")
        out.append(Flag(
            check=check, start_s=s, end_s=e,
            severity="critical" if level >= cfg.critical else "warning", channel=party,
            detail=f"{party} {what}: {explain_drivers(drivers, who, speech_s)}",
            evidence={
                # what was compared with the check's ``warning`` (qa.tuning reads it)
                "judged_probability": round(float(level), 3),
                "peak_probability": round(float(np.nanmax(probs[chosen])), 3),
                "mean_probability": round(float(np.nanmean(probs[chosen])), 3),
                "speech_s": round(speech_s, 1), "baseline": label,
                **_call_weight(base),
                "drivers": [{"feature": n, "z": round(z, 2)} for n, z in drivers],
                "detail_zh": f"{_PARTY_ZH[party]}{'情绪激动' if head == 0 else '状态低落'}："
                             + explain_drivers(drivers, who_zh, speech_s, lang="zh"),
            },
        ))
    return out


def level_movement(track: ChannelTrack, start: int, end: int) -> float:
    """How fast the level moves within speech in frames ``[start, end)``: mean |Δ level|
    between consecutive speech frames, dB/s, the level floored :data:`MOVEMENT_RANGE_DB`
    below the stretch's 95th percentile; NaN with under :data:`MOVEMENT_MIN_PAIRS` pairs.

    It measures tempo as the syllable count does not: a turn spoken 1.6x faster moves its
    level 1.6x faster wherever its syllables are counted or merge, and it is a difference
    of decibels, so the line's gain does not enter it.
    """
    speech = track.speech[start:end]
    pairs = speech[1:] & speech[:-1]
    if pairs.sum() < MOVEMENT_MIN_PAIRS:
        return float("nan")
    level = track.level_dbfs[start:end]
    level = np.maximum(level, np.percentile(level[speech], 95) - MOVEMENT_RANGE_DB)
    return float(np.abs(np.diff(level))[pairs].mean() / track.frame_s)


def fast_speech_flags(track: ChannelTrack, agent_turns: np.ndarray, base: Baseline,
                      faults: np.ndarray, config: QAConfig, agent_id: str | None) -> list[Flag]:
    """fast_speech: agent turns spoken well above the agent's own rate, or a whole call.

    The rate is ``syllable_rate_syl_s`` (loudness peaks per second of speech). A turn
    with ``min_speech_s`` of speech is its unit: its rate is the mean over the windows
    that lie within it (one 3 s window varies more than a turn of several). The turn is
    fast when its rate is ``ratio`` times the agent's median over this call (over the
    windows free of line faults; the baseline's median when the call holds fewer than
    :data:`CALL_MEDIAN_MIN_WINDOWS`) **and** ``warning`` σ above the baseline: faster
    than the agent spoke the rest of the call, and faster than usual. The rate of read
    sentences differs from sentence to sentence by more than a thin baseline can pin
    down, and a turn 1.5-1.7x faster measures ~1.37x (syllables merge), so a z against
    the baseline alone either misses fast turns or flags ordinary ones (qa_bench, seventh
    round: turn AUC 0.985 for the z, 0.994 for the ratio to the call's median).

    Syllables merge as speech speeds up, so against the call a turn's tempo also counts
    how fast its level moves (:func:`level_movement`, over the median of the agent's
    turns in this call): the ratio judged is the syllable rate's ratio to the power
    ``1 - tempo_weight`` times the level movement's to the power ``tempo_weight``
    (syllables alone when fewer than :data:`MOVEMENT_MIN_TURNS` turns have one).

    A call whose median itself is ``ratio`` times the baseline's (and ``warning`` σ
    above it) is one flag over all the agent's speech: no turn stands out of a call
    spoken fast throughout.
    """
    cfg = config.checks["fast_speech"]
    usual, sigma = float(base.median[_FAST_RATE]), float(base.sigma[_FAST_RATE])
    rates = track.features[:, _FAST_RATE]
    measured = np.isfinite(rates)
    own = measured & ~faults
    call_median = (float(np.median(rates[own])) if own.sum() >= CALL_MEDIAN_MIN_WINDOWS
                   else float("nan"))
    reference = call_median if np.isfinite(call_median) else usual
    spans = []
    if (np.isfinite(call_median) and len(agent_turns) and usual > 0
            and call_median >= cfg.ratio * usual
            and (call_median - usual) / sigma >= cfg.warning):
        spans.append((agent_turns[0][0], agent_turns[-1][1], own, "call"))
    else:
        for start, end in agent_turns:
            inside = _turn_windows(track, start, end, measured)
            if _speech_in(track, start, end) >= cfg.min_speech_s and inside.any():
                spans.append((start, end, inside, "turn"))
    moves = [level_movement(track, start, end) if unit == "turn" else float("nan")
             for start, end, _, unit in spans]
    measured_moves = [m for m in moves if np.isfinite(m)]
    usual_move = (float(np.median(measured_moves))
                  if len(measured_moves) >= MOVEMENT_MIN_TURNS and np.isfinite(call_median)
                  else float("nan"))
    who, _, label = _who(base, "agent", agent_id)
    whose = f"{who}'s usual" if who else "the usual"
    out = []
    for (start, end, chosen, unit), move in zip(spans, moves, strict=True):
        rate = float(np.mean(rates[chosen])) if unit == "turn" else call_median
        z = (rate - usual) / sigma
        ratio = rate / (reference if unit == "turn" else usual)
        move_ratio = move / usual_move if usual_move > 0 else float("nan")
        tempo = round(ratio ** (1 - cfg.tempo_weight) * move_ratio ** cfg.tempo_weight
                      if np.isfinite(move_ratio) and move_ratio > 0 else ratio, 3)
        if z < cfg.warning or tempo < cfg.ratio:
            continue
        s, e = start * track.frame_s, end * track.frame_s
        speech_s = _speech_in(track, start, end)
        if unit == "turn":
            against = (f"{ratio:.2f}x the agent's median in this call ({reference:.1f})"
                       if np.isfinite(call_median) else f"{ratio:.2f}x")
            against_zh = (f"是本通电话中位数（{reference:.1f}）的 {ratio:.2f} 倍"
                          if np.isfinite(call_median) else f"是平时的 {ratio:.2f} 倍")
            if np.isfinite(move_ratio):
                against += f", the level rising and falling {move_ratio:.2f}x as fast"
                against_zh += f"，音量起伏快 {move_ratio:.2f} 倍"
            what, what_zh = "agent spoke fast", "坐席语速偏快"
        else:
            against = f"{ratio:.2f}x"
            against_zh = f"是平时的 {ratio:.2f} 倍"
            what, what_zh = "agent spoke fast all call", "坐席整通电话语速偏快"
        out.append(Flag(
            check="fast_speech", start_s=s, end_s=e,
            severity="critical" if z >= cfg.critical else "warning", channel="agent",
            detail=f"{what}: {rate:.1f} syllables/s, {against}; {whose} {usual:.1f} "
                   f"({z:+.1f} σ)",
            evidence={"rate_syl_s": round(rate, 2), "usual_rate_syl_s": round(usual, 2),
                      "call_median_rate_syl_s": _round(call_median, 2),
                      "ratio": round(ratio, 3), "z": round(z, 2), "unit": unit,
                      "level_movement_ratio": _round(move_ratio, 3),
                      "tempo_ratio": tempo,
                      "windows": int(chosen.sum()), "speech_s": round(speech_s, 1),
                      "baseline": label, **_call_weight(base),
                      "detail_zh": f"{what_zh}：每秒 {rate:.1f} 个音节，{against_zh}；"
                                   f"平时 {usual:.1f}（{z:+.1f} σ）"},
        ))
    return out


def _turn_frames(analysis: CallAnalysis, config: QAConfig):
    a, c = analysis.agent, analysis.caller
    gap = int(round(config.bridge_s / a.frame_s))
    agent_speech = bridge(a.speech, gap)
    caller_speech = bridge(c.speech, gap) if c is not None else None
    agent_turns = turns(agent_speech, caller_speech, a.frame_s, config.turn_gap_s)
    caller_turns = (turns(caller_speech, agent_speech, a.frame_s, config.turn_gap_s)
                    if c is not None else np.zeros((0, 2), dtype=np.int64))
    return agent_speech, caller_speech, agent_turns, caller_turns


def _level_dbov(track: ChannelTrack, start: int, end: int) -> float:
    speech = track.speech[start:end]
    if not speech.any():
        return float("nan")
    power = 10 ** (track.level_dbfs[start:end][speech] / 10)
    return float(10 * np.log10(np.mean(power)))


def timing_flags(analysis: CallAnalysis, config: QAConfig, agent_speech, caller_speech,
                 agent_turns, caller_turns, hold: np.ndarray | None = None) -> list[Flag]:
    """dead_air, slow_response, overtalk. A hold (music, :mod:`qa.hold`) is not dead
    air, and the agent's first words after it are not a slow reply."""
    frame_s = analysis.agent.frame_s
    out = []
    dead = config.checks["dead_air"]
    slow = config.checks["slow_response"]
    over = config.checks["overtalk"]
    held = np.zeros(agent_speech.size, dtype=bool) if hold is None else hold[: agent_speech.size]
    if dead.enabled:
        for start, end in silences(agent_speech | held, caller_speech):
            length = seconds(end - start, frame_s)
            if length >= dead.min_s:
                out.append(Flag(
                    "dead_air", start * frame_s, end * frame_s,
                    "critical" if length >= dead.critical_s else "warning", "both",
                    f"no one spoke for {length:.0f} s",
                    {"silence_s": length, "detail_zh": f"双方沉默 {length:.0f} 秒"}))
    if caller_speech is None:
        return out
    if slow.enabled:
        for caller_end, agent_start in replies(agent_turns, caller_turns):
            wait = seconds(agent_start - caller_end, frame_s)
            if held[caller_end:agent_start].any():
                continue
            if slow.min_s <= wait and not (dead.enabled and wait >= dead.min_s):
                out.append(Flag(
                    "slow_response", caller_end * frame_s, agent_start * frame_s,
                    "critical" if wait >= slow.critical_s else "warning", "agent",
                    f"agent replied {wait:.1f} s after the caller stopped",
                    {"wait_s": wait,
                     "detail_zh": f"来电者说完 {wait:.1f} 秒后坐席才回应"}))
    if over.enabled:
        pause = int(round(config.turn_gap_s / frame_s))
        for start, end, double in cut_ins(agent_speech, caller_speech, pause):
            length = seconds(double, frame_s)
            if length >= over.min_s:
                out.append(Flag(
                    "overtalk", start * frame_s, end * frame_s,
                    "critical" if length >= over.critical_s else "warning", "agent",
                    f"agent started while the caller was speaking; both spoke for {length:.1f} s",
                    {"overlap_s": length,
                     "detail_zh": f"来电者讲话时坐席插话，双方同时说话 {length:.1f} 秒"}))
    return out


def line_flags(analysis: CallAnalysis, config: QAConfig, agent_turns, caller_turns
               ) -> list[Flag]:
    """clipping (either party) and low_level (the agent), per turn; consecutive turns
    with the same fault are one event."""
    out = []
    clip = config.checks["clipping"]
    low = config.checks["low_level"]
    frame_len = analysis.agent.frame_s * analysis.fs_hz
    parties = [("agent", analysis.agent, agent_turns)]
    if analysis.caller is not None:
        parties.append(("caller", analysis.caller, caller_turns))
    if clip.enabled:
        for party, track, party_turns in parties:
            bad = []
            for start, end in party_turns:
                count = int(track.clipped[start:end].sum())
                if count >= clip.min_samples:
                    bad.append((start, end, count, count / ((end - start) * frame_len)))
            for group in _consecutive(bad, party_turns):
                count = sum(g[2] for g in group)
                share = count / sum((g[1] - g[0]) * frame_len for g in group)
                start, end = group[0][0], group[-1][1]
                out.append(Flag(
                    "clipping", start * track.frame_s, end * track.frame_s,
                    "critical" if share >= clip.critical_fraction else "warning", party,
                    f"{party}'s audio clipped: {count} samples at full scale "
                    f"({100 * share:.2f} % of {len(group)} turn{'s' * (len(group) > 1)})",
                    {"clipped_samples": count, "clipped_share": round(share, 5),
                     "turns": len(group),
                     "detail_zh": f"{'坐席' if party == 'agent' else '来电者'}音频削波："
                                  f"{count} 个采样达到满幅"}))
    if low.enabled:
        track = analysis.agent
        quiet = []
        for start, end in agent_turns:
            speech_s = track.speech[start:end].sum() * track.frame_s
            level = _level_dbov(track, start, end)
            if speech_s >= low.min_speech_s and level < low.level_dbov:
                quiet.append((start, end, level, speech_s))
        for group in _consecutive(quiet, agent_turns):
            start, end = group[0][0], group[-1][1]
            power = sum(10 ** (g[2] / 10) * g[3] for g in group) / sum(g[3] for g in group)
            level = 10 * np.log10(power)
            out.append(Flag(
                "low_level", start * track.frame_s, end * track.frame_s,
                "critical" if level < low.critical_dbov else "warning", "agent",
                f"agent's speech too quiet for the line: {level:.0f} dBov "
                f"(below {low.level_dbov:.0f})",
                {"level_dbov": round(float(level), 1), "turns": len(group),
                 "detail_zh": f"坐席音量过低：{level:.0f} dBov（低于 {low.level_dbov:.0f}）"}))
    return out


def one_way_flags(analysis: CallAnalysis, config: QAConfig, agent_speech, caller_speech,
                  hold: np.ndarray | None = None) -> list[Flag]:
    """one_way_audio: a stretch of the call in which one channel carries no speech at
    all while the other party speaks; critical when it is long, or when that channel
    never speaks in the whole call. The silent channel's level says whether it carried
    line noise or nothing (digital silence: a lost side)."""
    check = config.checks["one_way_audio"]
    if not check.enabled or caller_speech is None:
        return []
    out = []
    parties = (("agent", analysis.agent, agent_speech, "caller", caller_speech),
               ("caller", analysis.caller, caller_speech, "agent", agent_speech))
    frame_s = analysis.agent.frame_s
    for party, track, silent, other, speaking in parties:
        never = not silent.any()
        # A channel carrying hold music is not a lost side.
        music = track.music[: silent.size] if track.music is not None else None
        sounding = silent if music is None else silent | music
        for start, end in one_sided(sounding, speaking):
            length = seconds(end - start, frame_s)
            spoken = float(speaking[start:end].sum()) * frame_s
            if length < check.min_s or spoken < check.min_speech_s:
                continue
            level = float(np.median(track.level_dbfs[start:end]))
            whole = " in the whole call" if never else ""
            zh_party = "坐席" if party == "agent" else "来电者"
            zh_other = "坐席" if other == "agent" else "来电者"
            out.append(Flag(
                "one_way_audio", start * frame_s, end * frame_s,
                "critical" if never or length >= check.critical_s else "warning", party,
                f"no speech on the {party}'s channel for {length:.0f} s{whole} while the "
                f"{other} spoke for {spoken:.0f} s (one-way audio? the channel's level: "
                f"{level:.0f} dBFS)",
                {"silent_s": length, "other_speech_s": round(spoken, 1),
                 "silent_level_dbfs": round(level, 1), "whole_call": never,
                 "detail_zh": f"{zh_party}声道 {length:.0f} 秒无语音，其间{zh_other}讲话 "
                              f"{spoken:.0f} 秒（单通？该声道电平 {level:.0f} dBFS）"}))
    return out


def long_hold_flags(analysis: CallAnalysis, config: QAConfig, hold: np.ndarray | None
                    ) -> list[Flag]:
    """long_hold: music on the line (:mod:`qa.hold`) for ``min_s`` or longer while no one
    spoke; critical from ``critical_s``."""
    check = config.checks["long_hold"]
    if not check.enabled:
        return []
    frame_s = analysis.agent.frame_s
    out = []
    for start, end, channel in hold_spans(analysis, hold):
        length = seconds(end - start, frame_s)
        if length < check.min_s:
            continue
        out.append(Flag(
            "long_hold", start * frame_s, end * frame_s,
            "critical" if length >= check.critical_s else "warning", channel,
            f"on hold for {length:.0f} s: music on the line, no one spoke",
            {"hold_s": length, "limit_s": check.min_s,
             "detail_zh": f"保持等待 {length:.0f} 秒：线路播放音乐，双方无通话"}))
    return out


def long_call_flags(analysis: CallAnalysis, config: QAConfig) -> list[Flag]:
    """long_call: the recording is ``min_s`` or longer; the flag spans what ran over."""
    check = config.checks["long_call"]
    length = round(analysis.duration_s, TIME_DECIMALS)
    if not check.enabled or length < check.min_s:
        return []
    minutes, limit = length / 60, check.min_s / 60
    return [Flag(
        "long_call", check.min_s, length,
        "critical" if length >= check.critical_s else "warning", "both",
        f"the call lasted {minutes:.0f} min (flagged from {limit:.0f} min)",
        {"duration_s": length, "limit_s": check.min_s,
         "detail_zh": f"通话时长 {minutes:.0f} 分钟（超过 {limit:.0f} 分钟）"})]


def _consecutive(items: list[tuple], all_turns: np.ndarray) -> list[list[tuple]]:
    """Group turn items whose turns follow each other in the party's turn list."""
    index = {int(s): k for k, (s, _) in enumerate(all_turns)}
    groups: list[list[tuple]] = []
    for item in items:
        k = index[int(item[0])]
        if groups and index[int(groups[-1][-1][0])] == k - 1:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


@dataclass
class CheckContext:
    """What the checks of one worker share: model, baselines, settings."""

    config: QAConfig
    model: VoiceModel
    baselines: Baselines


def _agent_baseline(analysis: CallAnalysis, ctx: CheckContext) -> tuple[Baseline | None, str]:
    kind = analysis.channel_type
    base = ctx.baselines.agent(analysis.job.agent_id, kind)
    if base is not None:
        return base, "agent"
    base = ctx.baselines.population(kind)
    if base is not None:
        return base, "population"
    ref = own_reference(analysis.agent, ctx.config, "reference:agent", kind,
                        analysis.level_profile)
    if ref is not None:
        return ref[0], "own first minute"
    return None, "none"


#: Windows each channel needs before its voice is compared with the agent's baseline.
VOICE_MATCH_MIN_WINDOWS = 5
#: How much nearer (RMS z) the caller's channel must sound to the agent's own baseline
#: than the agent's channel does before the call says its channels look swapped. On
#: qa_bench's 585 calls of seeds 0-4 the agent's channel was the nearer in 578 and the
#: caller's never by more than 0.27; swapped, 93 % of them differ by more than 0.3.
SWAPPED_MARGIN = 0.3


def voice_distance(base: Baseline, track: ChannelTrack,
                   keep: np.ndarray | None = None) -> float | None:
    """How far a channel's voice sits from ``base``: the median over its windows (those
    ``keep`` marks, if given) of the RMS of their robust z (limited to ±Z_LIMIT); None
    with too few windows."""
    usable = np.isfinite(track.features).all(axis=1)
    features = track.features[usable if keep is None else usable & keep]
    if len(features) < VOICE_MATCH_MIN_WINDOWS:
        return None
    z = np.clip(base.z(features), -Z_LIMIT, Z_LIMIT)
    return float(np.median(np.sqrt(np.mean(z**2, axis=1))))


def _voice_match(analysis: CallAnalysis, base: Baseline, metrics: dict,
                 ordinary: np.ndarray) -> None:
    """Which channel sounds like the agent whose own baseline judges the call:
    ``agent_voice_distance`` per channel, and ``channels_look_swapped`` when it is the
    caller's (the recorder's channel order, or the call's agent id, is likely wrong).

    The agent's channel is measured on its ``ordinary`` windows (under the agent voice
    checks' warnings): an agent agitated for most of a call is far from their usual
    voice by definition, and read as the wrong channel (an audit: six simulated agents
    agitated for 180 of 240 s, each call "swapped")."""
    agent = voice_distance(base, analysis.agent, ordinary)
    if agent is None:  # too few ordinary windows: all of them (as a swapped call often has)
        agent = voice_distance(base, analysis.agent)
    near = [agent, voice_distance(base, analysis.caller)]
    if None in near:
        return
    metrics["agent_voice_distance"] = {"agent_channel": round(near[0], 2),
                                       "caller_channel": round(near[1], 2)}
    if near[1] < near[0] - SWAPPED_MARGIN:
        metrics["channels_look_swapped"] = True


def run_checks(analysis: CallAnalysis, ctx: CheckContext) -> tuple[list[Flag], dict]:
    """Every enabled check on one call: flags (by start time) and the call's metrics."""
    config = ctx.config
    # Voices behind a channel's talker (the floor's babble) are not its speech.
    analysis, background = without_background(analysis)
    # Each party's voice leaking into the other's channel is not that channel's speech.
    analysis, leaks = without_leaks(analysis)
    # Music on hold is not anyone's speech, and a hold is not dead air.
    analysis, hold = without_music(analysis)
    agent_speech, caller_speech, agent_turns, caller_turns = _turn_frames(analysis, config)
    flags = timing_flags(analysis, config, agent_speech, caller_speech, agent_turns,
                         caller_turns, hold)
    flags += line_flags(analysis, config, agent_turns, caller_turns)
    flags += one_way_flags(analysis, config, agent_speech, caller_speech, hold)
    flags += long_call_flags(analysis, config)
    flags += long_hold_flags(analysis, config, hold)
    agent_id = analysis.job.agent_id
    caller = analysis.caller
    # A mono recording mixes both parties: the agent's voice cannot be judged in it.
    base, label = _agent_baseline(analysis, ctx) if caller is not None else (None, "mono mix")
    metrics: dict = {"agent_baseline": label}
    if leaks:
        metrics["crosstalk"] = leaks
    if background:
        metrics["background"] = background
    if hold is not None:
        spans = hold_spans(analysis, hold)
        metrics["hold"] = {"seconds": round(float(hold.sum()) * analysis.agent.frame_s, 1),
                           "spans": len(spans), "channels": sorted({c for *_, c in spans})}
    problem = ctx.baselines.problems.get((agent_id, analysis.channel_type))
    if problem and caller is not None:
        # e.g. a baseline of an older schema: judged against others until recalibrated
        metrics["agent_baseline_problem"] = problem
    track = analysis.agent
    if base is not None and np.isfinite(track.features).all(axis=1).any():
        faults = line_faults(track, flags, "agent")
        level_db = level_vs_usual_db(base, track, faults)
        if level_db is not None:
            metrics["agent_level_vs_usual_db"] = level_db
        base, line_db = _through_call_line(base, track, faults, ctx, metrics)
        score = ctx.model.score(track.features, base, faults)
        if label == "agent":
            _voice_match(analysis, base, metrics, (
                (score.agitation < config.checks["agent_agitation"].warning)
                & (score.low_energy < config.checks["agent_low_energy"].warning)))
        leaning, weight = leaning_on_call(base, track, faults)
        if weight:
            metrics["agent_baseline_call_weight"] = round(weight, 3)
        judged = ctx.model.score(track.features, leaning, faults) if weight else score
        for check in ("agent_agitation", "agent_low_energy"):
            if config.checks[check].enabled:
                voiced = voice_flags(check, track, judged, leaning, config, "agent",
                                     agent_id, agent_turns)
                for flag in voiced:
                    if level_db is not None:
                        flag.evidence["call_level_vs_usual_db"] = level_db
                    if line_db:
                        flag.evidence["line_correction_db"] = line_db
                flags += voiced
        if config.checks["fast_speech"].enabled:
            flags += fast_speech_flags(track, agent_turns, leaning, faults, config,
                                       agent_id)
        metrics["voice_summary"] = summarise_call(track.end_s, track.features,
                                                  score.agitation, score.low_energy, base)
        metrics["agent_agitation_mean"] = _mean(score.agitation)
        metrics["agent_agitation_max"] = _max(score.agitation)
        metrics["agent_low_energy_mean"] = _mean(score.low_energy)
    if caller is not None and config.checks["caller_agitation"].enabled:
        flags += _caller_flags(analysis, ctx, metrics, line_faults(caller, flags, "caller"))
    flags = explained_low_energy_dropped(flags)
    said, unread = _transcript_checks(analysis.job, analysis.duration_s, config, metrics)
    flags += said
    flags.sort(key=lambda f: (f.start_s, f.check))
    metrics.update(call_metrics(analysis, agent_speech, caller_speech, agent_turns,
                                caller_turns, hold))
    metrics["checks_skipped"] = list(STEREO_CHECKS) if caller is None else []
    if base is None:
        metrics["checks_skipped"] += ["agent_agitation", "agent_low_energy", "fast_speech"]
    metrics["checks_skipped"] += unread
    return flags, metrics


def _transcript_checks(job: CallJob, duration_s: float, config: QAConfig, metrics: dict
                       ) -> tuple[list[Flag], list[str]]:
    """The transcript's flags, and the enabled transcript checks that could not run
    (no transcript, one that cannot be read, or one that runs past the recording's end:
    ``metrics["transcript_problem"]`` says why, and the call's other checks stand)."""
    enabled = [c for c in TRANSCRIPT_CHECKS if config.checks[c].enabled]
    if not enabled:
        return [], []
    if job.transcript is None:
        return [], enabled
    try:
        segments = read_transcript(job.transcript, job.agent_channel)
    except TranscriptError as exc:
        metrics["transcript_problem"] = str(exc)
        return [], enabled
    last_s = max((s.end_s for s in segments), default=0.0)
    if last_s > duration_s + TRANSCRIPT_OVERRUN_S:
        # most likely another call's transcript: its rules would judge the wrong words
        metrics["transcript_problem"] = (
            f"{job.transcript}: the transcript runs to {last_s:.1f} s, past the recording's "
            f"end at {duration_s:.1f} s; is it this call's?")
        return [], enabled
    metrics["transcript_segments"] = len(segments)
    # for the call's review page (the result's ``transcript``, not its metrics)
    metrics["transcript"] = [{"start_s": round(s.start_s, 2), "end_s": round(s.end_s, 2),
                              "party": s.party, "text": s.text} for s in segments]
    return transcript_flags(segments, config), []


def explained_low_energy_dropped(flags: list[Flag]) -> list[Flag]:
    """Drop low-energy flags lying mostly inside a ``low_level`` or ``agent_agitation``
    flag. A quiet line reads as a subdued voice, and the level flag already says what is
    wrong. A turn is not agitated and tired at once: where both heads rose, the turn was
    agitated every time (qa_bench seeds 0-4: 8 false low-energy flags in all, each on an
    agitated turn the agitation check had flagged, and no true one; README, *Design
    decisions*)."""
    covering = [(f.start_s, f.end_s) for f in flags
                if f.check in ("low_level", "agent_agitation")]

    def covered(f: Flag) -> bool:
        inside = sum(max(0.0, min(f.end_s, e) - max(f.start_s, s)) for s, e in covering)
        return inside >= 0.5 * (f.end_s - f.start_s)

    return [f for f in flags if not (f.check == "agent_low_energy" and covered(f))]


def line_faults(track: ChannelTrack, flags: list[Flag], party: str) -> np.ndarray:
    """Windows of ``party``'s track overlapping its clipping or low_level flags: where its
    level is the line's fault, so the model judges the voice without the level-bound
    features (a turn driven into clipping is 20 dB louder than usual and read as
    shouting: 17 of 22 false agent-agitation flags in qa_bench, fifth round)."""
    out = np.zeros(track.end_s.shape, dtype=bool)
    for f in flags:
        if f.channel == party and f.check in ("clipping", "low_level"):
            out |= _windows_in(track, f.start_s, f.end_s)
    return out


def population_leaning_on_call(population: Baseline, track: ChannelTrack,
                               faults: np.ndarray, weight: float) -> Baseline:
    """The population baseline with its median moved ``weight`` of the way toward the
    median of this party's windows in the call (free of line faults; as it is when the
    call holds fewer than :data:`CALL_MEDIAN_MIN_WINDOWS`). Its spread stays.

    Other people's voices on other microphones say where a voice like this one sits only
    roughly; the party's own call says where *theirs* does. A stretch that stands out of
    the call still stands out; a voice that differs from the agents' all call long (a
    speakerphone, a deeper voice) no longer reads as a call-long outburst.
    """
    if weight <= 0:
        return population
    return _toward_call(population, track, faults, weight) or population


def _through_call_line(base: Baseline, track: ChannelTrack, faults: np.ndarray,
                       ctx: CheckContext, metrics: dict) -> tuple[Baseline, float]:
    """The agent's own baseline as this call's line reads it, and the correction (dB).

    The call's level is measured on its ordinary windows (level-free cues calm, line
    faults left out) and the part beyond the dead zone is taken as the line's
    (:mod:`emotion.line_level`): a headset 8 dB hotter than at calibration no longer
    makes ordinary speech read agitated, while a raised voice, which moves pitch,
    sharpness and spectral balance too, is not measured as the line. A population
    baseline is left alone (it leans toward the call instead).
    """
    if base.source != "agent" or not ctx.config.line_correction:
        return base, 0.0
    line = call_line_level(base, track.features, ctx.model.weights[0], faults)
    if line is None:
        return base, 0.0
    metrics["agent_line_level_db"] = line.measured_db
    metrics["agent_line_correction_db"] = line.correction_db
    return through_line(base, line.correction_db), line.correction_db


def level_vs_usual_db(base: Baseline, track: ChannelTrack, faults: np.ndarray
                      ) -> float | None:
    """How much louder (dB; negative: quieter) the agent sounds over this call than in
    their calibration: the median mean loudness of the call's windows free of line
    faults against the baseline's, at 10 dB per doubling of loudness (ISO 532-1's
    phon-sone relation above 40 phon). None for a baseline not the agent's own, or with
    fewer than :data:`CALL_MEDIAN_MIN_WINDOWS` windows.

    The scores read level as voice (``benchmarks/level_robustness.py``: ordinary speech
    6 dB hotter than at calibration reads agitated in 10-18 % of windows), so a reviewer
    is shown it beside every voice flag: a whole call well off the agent's usual level
    points at the headset or line gain as much as at the voice.
    """
    if base.source != "agent":
        return None
    k = FEATURE_NAMES.index("loudness_mean_sone")
    ok = np.all(np.isfinite(track.features), axis=1) & ~faults
    usual = float(base.median[k])
    if ok.sum() < CALL_MEDIAN_MIN_WINDOWS or not usual > 0:
        return None
    call = float(np.median(track.features[ok, k]))
    return round(10.0 * float(np.log2(max(call, 1e-6) / usual)), 1)


def leaning_on_call(base: Baseline, track: ChannelTrack, faults: np.ndarray
                    ) -> tuple[Baseline, float]:
    """The agent's baseline (or the caller's first-minute reference) with its median
    moved toward this call's own, and the weight.

    A baseline fitted on little speech says little about where the agent's voice
    usually sits: a few sentences of read speech can lie several σ from the same
    agent's other sentences (in qa_bench, whose baselines hold 3-12 s of speech, most
    false low-energy flags covered most of a call of one agent). The call holds more of
    the agent's voice than that, so the median moves toward the median of the call's
    windows by ``λ = k / (n + k)``: ``n`` = the baseline's speech seconds / 3 (its
    independent windows), ``k`` = :data:`~emotion.baseline.PRIOR_WINDOWS`, the weight
    thin baselines already give the typical spread (fixed there, not tuned here). At
    the 30 s calibration minimum λ = 0.23; at 10 min, 0.015. The spread is the
    baseline's own. Flags then mark stretches that leave both the agent's usual and
    this call's; a call spent entirely off the baseline shows in the call's voice
    summary, which is scored against the agent's baseline alone.
    """
    if base.source != "agent":
        return base, 0.0
    weight = PRIOR_WINDOWS / (base.speech_s / PRIOR_WINDOW_S + PRIOR_WINDOWS)
    leaning = _toward_call(base, track, faults, weight)
    return (base, 0.0) if leaning is None else (leaning, weight)


def _toward_call(base: Baseline, track: ChannelTrack, faults: np.ndarray, weight: float
                 ) -> Baseline | None:
    """``base`` with its median moved ``weight`` of the way toward the median of the
    track's windows free of line faults (its spread kept, the weight in its notes); None
    when the call holds fewer than :data:`CALL_MEDIAN_MIN_WINDOWS` of them."""
    ok = np.all(np.isfinite(track.features), axis=1) & ~faults
    if ok.sum() < CALL_MEDIAN_MIN_WINDOWS:
        return None
    call_median = np.median(track.features[ok], axis=0)
    return replace(base, median=base.median + weight * (call_median - base.median),
                   notes={**base.notes, "call_weight": round(weight, 3)})


def _caller_flags(analysis: CallAnalysis, ctx: CheckContext, metrics: dict,
                  faults: np.ndarray) -> list[Flag]:
    track = analysis.caller
    if not np.isfinite(track.features).all(axis=1).any():
        metrics["caller_baseline"] = "none"
        return []
    kind = analysis.channel_type
    ref = own_reference(track, ctx.config, "reference:caller", kind, analysis.level_profile,
                        faults)
    population = ctx.baselines.population(kind)
    if population is not None:
        population = population_leaning_on_call(population, track, faults,
                                                ctx.config.caller_population_lean)
        if "call_weight" in population.notes:
            metrics["caller_population_call_weight"] = population.notes["call_weight"]
    flags: list[Flag] = []
    if ref is not None:
        # the first minute is a thin reference: it leans toward the call as an agent's
        # thin baseline does (qa_bench seeds 1-3: 0.86 / 0.81 / 0.67 -> 0.89 / 0.84 /
        # 0.68; seeds 0 and 4 unchanged)
        base, weight = leaning_on_call(ref[0], track, faults)
        ref_end = ref[1]
        metrics["caller_baseline"] = "own first minute"
        metrics["caller_reference_s"] = round(ref_end, 1)
        if weight:
            metrics["caller_reference_call_weight"] = round(weight, 3)
        score = ctx.model.score(track.features, base, faults)
        flags = [f for f in voice_flags("caller_agitation", track, score, base, ctx.config,
                                        "caller", None) if f.end_s > ref_end]
        if population is not None:
            # the reference minute itself, against other people's voices
            early = ctx.model.score(track.features, population, faults)
            flags += [f for f in voice_flags("caller_agitation", track, early, population,
                                             ctx.config, "caller", None)
                      if f.start_s < ref_end]
    elif population is not None:
        metrics["caller_baseline"] = "population"
        score = ctx.model.score(track.features, population, faults)
        flags = voice_flags("caller_agitation", track, score, population, ctx.config,
                            "caller", None)
    else:
        metrics["caller_baseline"] = "none"
    return flags


def _mean(x: np.ndarray) -> float | None:
    return round(float(np.nanmean(x)), 3) if np.isfinite(x).any() else None


def _max(x: np.ndarray) -> float | None:
    return round(float(np.nanmax(x)), 3) if np.isfinite(x).any() else None


def call_metrics(analysis: CallAnalysis, agent_speech, caller_speech, agent_turns,
                 caller_turns, hold: np.ndarray | None = None) -> dict:
    """Talk ratio, speech per channel, overlaps, silences (a hold is none), levels."""
    frame_s = analysis.agent.frame_s
    a = analysis.agent
    agent_s = float(agent_speech.sum() * frame_s)
    out = {
        "agent_speech_s": round(agent_s, 1),
        "agent_turns": int(len(agent_turns)),
        "agent_level_dbov": _round(_level_dbov(a, 0, a.speech.size)),
        "agent_clipped_samples": int(a.clipped.sum()),
    }
    rates = a.features[:, _RATE]
    out["agent_rate_syl_s"] = (round(float(np.nanmedian(rates)), 2)
                               if np.isfinite(rates).any() else None)
    held = False if hold is None else hold[: agent_speech.size]
    quiet = silences(agent_speech | held, caller_speech)
    lengths = (quiet[:, 1] - quiet[:, 0]) * frame_s if quiet.size else np.zeros(0)
    out["silence_s"] = round(float(lengths.sum()), 1)
    out["longest_silence_s"] = round(float(lengths.max()), 1) if lengths.size else 0.0
    if caller_speech is None:
        out["talk_ratio"] = None
        return out
    c = analysis.caller
    caller_s = float(caller_speech.sum() * frame_s)
    both = agent_speech & caller_speech
    out.update({
        "caller_speech_s": round(caller_s, 1),
        "caller_turns": int(len(caller_turns)),
        "caller_level_dbov": _round(_level_dbov(c, 0, c.speech.size)),
        "caller_clipped_samples": int(c.clipped.sum()),
        "talk_ratio": round(agent_s / (agent_s + caller_s), 3) if agent_s + caller_s else None,
        "overlap_s": round(float(both.sum() * frame_s), 1),
        "overlaps": int(len(runs(both))),
        "agent_interruptions": int(len(overlaps_started_by(agent_speech, caller_speech))),
    })
    return out


def _round(x: float, digits: int = 1) -> float | None:
    return round(x, digits) if np.isfinite(x) else None


__all__ = ["HEADS", "Baselines", "CheckContext", "Flag", "run_checks"]
