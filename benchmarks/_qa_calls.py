"""Stereo 8 kHz test calls with exact ground truth, for the batch pre-inspection benchmark.

A call alternates turns of an agent (channel 0) and a caller (channel 1), two different
corpus speakers; a turn is 1-3 of the speaker's test-neutral files (trimmed to speech)
with 0.1-0.35 s pauses, turns are 0.2-1.5 s apart. Events replace the ordinary timing
or turn at a planned point, each at least :data:`EVENT_SEPARATION_S` after the last:

============== ============================================== ======================
check          what is inserted                               truth span
============== ============================================== ======================
dead_air       9-15 s without speech after an agent turn      the silence
slow_response  agent reply 4.5-8 s after the caller's turn    caller end → agent start
overtalk       agent starts 1.5-3 s before the caller ends,   the overlap
               inside a caller utterance (not in a pause)
agent_agit.    agent turn of 3-4 anger files                  the turn
caller_agit.   caller turn of 3-4 anger files, after >= 60 s  the turn
               of the caller's ordinary speech
fast_speech    agent turn of 4-6 files, WSOLA 1.5-1.7x faster the turn
agent_low_en.  agent turn of 3-4 EmoDB sadness/boredom files  the turn
clipping       agent turn driven 3-8 dB past full scale       the turn
low_level      agent turn at -46 ± 1 dBov (20 dB low)         the turn
============== ============================================== ======================

Levels: each speaker's calibration speech sits at -26 dBov on the line, an ordinary turn
within ±4 dB of it; per call the agent is offset by ±2 dB (one headset) and the caller
by ±4 dB (any phone); ``qa_bench.py --agent-offset-db`` widens the agent's. Event turns
keep their own level (a loud anger stays loud). Turns other than clipping ones are
scaled down if their band-limited peak would pass -2 dBFS (as a line's AGC would), so
nothing else reaches the G.711 maximum. Each channel then goes through the product's
telephone line (:func:`capture.telephone.telephone_channel`: 300-3400 Hz, 8 kHz, G.711
μ-law) with light line noise (-65..-55 dBFS); a call lasts a whole number of seconds.
Calibration files never appear in a call; laid out as the agent's side of a call, they
fit each agent's baseline (:mod:`_qa_baselines`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from _qa_corpus import (
    FS_HZ,
    NOMINAL_LEVEL_DBOV,
    Speaker,
    Utterance,
    telephone_band_level_dbov,
    wsola,
)

CHECKS = ("dead_air", "slow_response", "overtalk", "agent_agitation", "caller_agitation",
          "fast_speech", "agent_low_energy", "clipping", "low_level")
AGENT_TURN_CHECKS = ("agent_agitation", "fast_speech", "agent_low_energy", "clipping",
                     "low_level")
LINE_FS_HZ = 8000
G711_MAX = 32124  # μ-law decodes to at most ±32124 / 32768
EVENT_SEPARATION_S = 3.0
FIRST_EVENT_S = 8.0
TURN_GAP_S = (0.2, 1.5)
PAUSE_S = (0.1, 0.35)
DEAD_AIR_S = (9.0, 15.0)
SLOW_REPLY_S = (4.5, 8.0)
OVERLAP_S = (1.5, 3.0)
FAST_RATE = (1.5, 1.7)
CLIP_OVER_DB = (3.0, 8.0)
LOW_LEVEL_DBOV = -46.0
PEAK_CAP_DBFS = -2.0
AGENT_OFFSET_DB = 2.0
CALLER_OFFSET_DB = 4.0
#: A speaker's files vary in level (some calm RAVDESS takes sit 12 dB below the
#: speaker's calibration level); ordinary turns are brought within this of -26 dBov
#: before the channel's offset, so that only low_level turns are "too quiet".
ORDINARY_SPREAD_DB = 4.0
NOISE_DBFS = (-65.0, -55.0)
CALLER_WARMUP_S = 60.0  # caller speech before a caller_agitation turn
CALL_S = (60.0, 240.0)


@dataclass
class Segment:
    """One turn of one party, placed at ``start_s`` (16 kHz samples, gain applied)."""

    channel: int  # 0 agent, 1 caller
    start_s: float
    samples: np.ndarray
    files: list[str]
    kind: str  # "neutral" or the check it carries

    @property
    def end_s(self) -> float:
        return self.start_s + self.samples.size / FS_HZ


@dataclass
class Event:
    check: str
    start_s: float
    end_s: float
    channel: str  # "agent", "caller" or "both"

    def to_json(self) -> dict:
        return {"check": self.check, "start_s": round(self.start_s, 3),
                "end_s": round(self.end_s, 3), "channel": self.channel}


@dataclass
class CallPlan:
    """What one call holds: its speakers, turns, events and line."""

    call_id: str
    agent: Speaker
    caller: Speaker
    checks: list[str]
    target_s: float
    seed: int
    segments: list[Segment] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    duration_s: float = 0.0
    offsets_db: tuple[float, float] = (0.0, 0.0)
    agent_offset_db: float = AGENT_OFFSET_DB  # the range offsets_db[0] is drawn from
    noise_dbfs: tuple[float, float] = (-60.0, -60.0)
    capped_turns: int = 0
    #: Each party also on the other's channel this many dB down (None: not at all).
    crosstalk_db: float | None = None
    #: Share of calls put on hold once (:func:`add_hold`); 0 for none.
    hold_share: float = 0.0
    #: The hold, if any: start_s, seconds, style, dynamics, level_dbfs, seed.
    hold: dict | None = None
    #: Neighbours on their own calls heard in the agent's microphone, this many dB
    #: below the agent's nominal speech level (None: a quiet room); see :func:`babble`.
    babble_db: float | None = None
    #: Those neighbours (speakers of neither party), set by :func:`design_calls`.
    neighbours: list[Speaker] = field(default_factory=list)
    #: Whose microphone hears them: "agent" (a busy floor), "caller" (a crowded place)
    #: or "both" (each side its own mix of the same voices).
    babble_side: str = "agent"
    #: Each channel exact zeros outside its party's turns (and the hold), as recorders
    #: write a leg whose packets stop under silence suppression; see :func:`render_call`.
    digital_silence: bool = False


# ---------------------------------------------------------------- turns
def _pick(rng: np.random.Generator, utts: list[Utterance], n: int) -> list[Utterance]:
    idx = rng.choice(len(utts), size=n, replace=n > len(utts))
    return [utts[i] for i in idx]


def join_utterances(rng: np.random.Generator,
          utts: list[Utterance]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The utterances with pauses between them, and each one's span (s from the start)."""
    parts, spans, n = [], [], 0
    for k, u in enumerate(utts):
        if k:
            parts.append(np.zeros(int(rng.uniform(*PAUSE_S) * FS_HZ)))
            n += parts[-1].size
        parts.append(u.samples)
        spans.append((n / FS_HZ, (n + u.samples.size) / FS_HZ))
        n += u.samples.size
    return np.concatenate(parts), spans


def _peak_capped(x: np.ndarray) -> tuple[np.ndarray, bool]:
    from capture.telephone import band_limit

    peak = np.max(np.abs(band_limit(x, FS_HZ)))
    cap = 10 ** (PEAK_CAP_DBFS / 20)
    return (x * (cap / peak), True) if peak > cap else (x, False)


def event_turn(rng: np.random.Generator, speaker: Speaker,
               check: str) -> tuple[np.ndarray, list[str]]:
    """A turn carrying ``check`` (before the channel's level offset) and its files."""
    from capture.telephone import band_limit

    if check in ("agent_agitation", "caller_agitation"):
        utts = _pick(rng, speaker.anger, int(rng.integers(3, 5)))
    elif check == "agent_low_energy":
        utts = _pick(rng, speaker.low_energy, int(rng.integers(3, 5)))
    elif check == "fast_speech":
        utts = _pick(rng, speaker.neutral, int(rng.integers(4, 7)))
    else:  # clipping, low_level: ordinary speech at an extraordinary level
        utts = _pick(rng, speaker.neutral, int(rng.integers(2, 4)))
    x, _ = join_utterances(rng, utts)
    if check == "fast_speech":
        x = wsola(x, float(rng.uniform(*FAST_RATE)))
    elif check == "clipping":
        over = 10 ** (rng.uniform(*CLIP_OVER_DB) / 20)
        x = x * over / np.max(np.abs(band_limit(x, FS_HZ)))
    elif check == "low_level":
        target = LOW_LEVEL_DBOV + rng.uniform(-1.0, 1.0)
        x = x * 10 ** ((target - telephone_band_level_dbov(x)) / 20)
    return x, [u.path for u in utts]


# ---------------------------------------------------------------- planning
def plan_call(plan: CallPlan) -> CallPlan:
    """Lay out the turns and events of ``plan`` (filled in place and returned)."""
    rng = np.random.default_rng(plan.seed)
    plan.offsets_db = (float(rng.uniform(-plan.agent_offset_db, plan.agent_offset_db)),
                       float(rng.uniform(-CALLER_OFFSET_DB, CALLER_OFFSET_DB)))
    plan.noise_dbfs = (float(rng.uniform(*NOISE_DBFS)), float(rng.uniform(*NOISE_DBFS)))
    speakers = (plan.agent, plan.caller)
    k = len(plan.checks)
    due = {c: max(FIRST_EVENT_S, plan.target_s * (j + rng.uniform(0.2, 0.8)) / max(k, 1))
           for j, c in enumerate(plan.checks)}
    # caller_agitation waits for the caller's first minute, so it goes last
    pending = sorted(plan.checks, key=lambda c: (c == "caller_agitation", due[c]))
    t = float(rng.uniform(0.3, 1.0))  # end of the last speech so far
    prev, nxt = None, 0  # the agent greets
    last_event_end = -np.inf
    caller_speech_s = 0.0

    def gap() -> float:
        return float(rng.uniform(*TURN_GAP_S))

    def place(channel: int, start_s: float, x: np.ndarray, files: list[str],
              kind: str) -> Segment:
        nonlocal caller_speech_s
        gain_db = plan.offsets_db[channel]
        if kind == "neutral":  # ordinary speech stays within ±4 dB of the channel's level
            level = telephone_band_level_dbov(x)
            gain_db += float(np.clip(level, NOMINAL_LEVEL_DBOV - ORDINARY_SPREAD_DB,
                                     NOMINAL_LEVEL_DBOV + ORDINARY_SPREAD_DB) - level)
        if kind not in ("clipping", "low_level"):  # those two set their own level
            x, capped = _peak_capped(x * 10 ** (gain_db / 20))
            plan.capped_turns += capped
        start_s = round(start_s * FS_HZ) / FS_HZ
        seg = Segment(channel, start_s, x, files, kind)
        plan.segments.append(seg)
        if channel == 1 and kind == "neutral":
            caller_speech_s += seg.end_s - seg.start_s
        return seg

    def ordinary(channel: int, n: tuple[int, int] = (1, 4),
                 min_s: float = 0.0) -> tuple[np.ndarray, list[str], list[tuple[float, float]]]:
        utts = _pick(rng, speakers[channel].neutral, int(rng.integers(*n)))
        while sum(u.duration_s for u in utts) < min_s:
            utts += _pick(rng, speakers[channel].neutral, 1)
        x, spans = join_utterances(rng, utts)
        return x, [u.path for u in utts], spans

    def onset_in_speech(turn: Segment, spans: list[tuple[float, float]]) -> float:
        """When the agent barges in: 1.5-3 s before ``turn`` ends, inside one of its
        utterances (not in a pause between them), so that the caller is speaking."""
        for _ in range(100):
            onset = turn.end_s - float(rng.uniform(*OVERLAP_S))
            if any(turn.start_s + a + 0.15 <= onset <= turn.start_s + b - 0.15
                   for a, b in spans):
                return onset
        raise RuntimeError(f"{plan.call_id}: no barge-in point in the caller's turn")

    while pending or t < plan.target_s:
        if t > plan.target_s + 600:
            raise RuntimeError(f"{plan.call_id}: could not place {pending}")
        check = pending[0] if pending else None
        ready = (check is not None and t >= due[check]
                 and t - last_event_end >= EVENT_SEPARATION_S)
        event = None
        if ready and check == "dead_air" and prev == 0:
            silence = float(rng.uniform(*DEAD_AIR_S))
            event = Event(check, t, t + silence, "both")
            nxt = int(rng.integers(0, 2))
            seg = place(nxt, t + silence, *ordinary(nxt)[:2], "neutral")
        elif ready and check == "slow_response" and prev == 1:
            seg = place(0, t + float(rng.uniform(*SLOW_REPLY_S)), *ordinary(0)[:2], "neutral")
            event = Event(check, t, seg.start_s, "agent")
        elif ready and check == "overtalk" and nxt == 1:
            x, files, spans = ordinary(1, (2, 4), OVERLAP_S[1] + 1.0)
            caller = place(1, t + gap(), x, files, "neutral")
            onset = onset_in_speech(caller, spans)
            seg = place(0, onset, *ordinary(0, (2, 4), caller.end_s - onset + 1.0)[:2],
                        "neutral")
            event = Event(check, seg.start_s, caller.end_s, "both")
        elif ready and check in AGENT_TURN_CHECKS and nxt == 0:
            seg = place(0, t + gap(), *event_turn(rng, plan.agent, check), check)
            event = Event(check, seg.start_s, seg.end_s, "agent")
        elif (ready and check == "caller_agitation" and nxt == 1
              and caller_speech_s >= CALLER_WARMUP_S):
            seg = place(1, t + gap(), *event_turn(rng, plan.caller, check), check)
            event = Event(check, seg.start_s, seg.end_s, "caller")
        else:
            seg = place(nxt, t + gap(), *ordinary(nxt)[:2], "neutral")
        if event is not None:
            plan.events.append(event)
            pending.pop(0)
            last_event_end = event.end_s
        t = max(t, seg.end_s)
        prev, nxt = seg.channel, 1 - seg.channel
    # whole seconds: the line noise is shaped by one FFT over the call, fast for
    # lengths of 8000·k samples and slow for lengths with a large prime factor
    plan.duration_s = float(np.ceil(t + rng.uniform(0.5, 1.5)))
    plan.events.sort(key=lambda e: e.start_s)
    return plan


#: Length of a hold (s): short (neither dead air nor a long_hold) or, 3 times in 5, long;
#: none within a few seconds of the long_hold limit, as dead air's events start 1 s past
#: theirs (a hold of 60.1 s measured 59.8 s is a matter of edges, not of detection).
HOLD_S = ((20.0, 50.0), (65.0, 150.0))
#: Hold music's RMS on the agent's side, dBFS (before the line).
HOLD_LEVEL_DBFS = (-30.0, -20.0)
#: The hold length from which it is a long_hold event (the product's default min_s).
LONG_HOLD_S = 60.0


def add_hold(plan: CallPlan) -> CallPlan:
    """Put the caller on hold once, with music on the agent's side: after an agent turn
    in the middle half of the call that no other speech and no event straddles; the
    turns after it move later by the hold. A hold of :data:`LONG_HOLD_S` or more is a
    ``long_hold`` event (the call is no longer clean); shorter ones are no event at all
    (any dead air or hold flag there is false). The plan's own turns are unchanged, so a
    design with holds is the same calls with holds added."""
    from capture.synth import HOLD_MUSIC_STYLES

    rng = np.random.default_rng(plan.seed + 7_777_777)
    spans = [(s.start_s, s.end_s) for s in plan.segments]
    spans += [(e.start_s - EVENT_SEPARATION_S, e.end_s + EVENT_SEPARATION_S)
              for e in plan.events]
    ends = [s.end_s for s in plan.segments if s.channel == 0
            and 0.25 * plan.duration_s <= s.end_s <= 0.75 * plan.duration_s]
    free = [t for t in ends if not any(a < t + 0.5 and b > t for a, b in spans)]
    if not free:
        return plan
    start = float(rng.choice(free)) + 0.3
    seconds = float(np.round(rng.uniform(*HOLD_S[int(rng.random() < 0.6)]), 1))
    for seg in plan.segments:
        if seg.start_s >= start:
            seg.start_s += seconds
    for event in plan.events:
        if event.start_s >= start:
            event.start_s += seconds
            event.end_s += seconds
    if seconds >= LONG_HOLD_S:
        plan.events.append(Event("long_hold", start, start + seconds, "agent"))
        plan.events.sort(key=lambda e: e.start_s)
    plan.duration_s += np.ceil(seconds)
    plan.hold = {"start_s": round(start, 3), "seconds": seconds,
                 "style": str(rng.choice(HOLD_MUSIC_STYLES)),
                 "dynamics": float(rng.choice([0.3, 1.0])),
                 "level_dbfs": round(float(rng.uniform(*HOLD_LEVEL_DBFS)), 1),
                 "seed": int(rng.integers(1 << 30))}
    return plan


def render_call(plan: CallPlan) -> np.ndarray:
    """The call on the line: int16 ``(2, samples)`` at 8 kHz (agent, caller).

    With ``plan.digital_silence`` each channel is exact zeros outside its party's turns
    (each turn as the corpus file holds it, with its own leading and trailing quiet) and,
    on the agent's side, the hold: the line noise, a neighbour's voice or the other
    party's leak between turns are gone, as on a leg whose packets stop under silence
    suppression."""
    from capture.telephone import telephone_channel

    n = int(np.ceil(plan.duration_s * FS_HZ))
    wide = np.zeros((2, n))
    for seg in plan.segments:
        i0 = round(seg.start_s * FS_HZ)
        wide[seg.channel, i0: i0 + seg.samples.size] += seg.samples
    if plan.hold is not None:
        from capture.synth import hold_music

        h = plan.hold
        music = hold_music(h["seconds"], FS_HZ, style=h["style"], dynamics=h["dynamics"],
                           level_dbfs=h["level_dbfs"], seed=h["seed"])
        i0 = round(h["start_s"] * FS_HZ)
        wide[0, i0: i0 + music.size] += music[: n - i0]
    if plan.babble_db is not None and plan.neighbours:
        for channel in BABBLE_CHANNELS[plan.babble_side]:
            wide[channel] += babble(plan, n, channel)
    if plan.crosstalk_db is not None:
        # The caller from the earpiece into the headset microphone, the agent as line echo
        # on the caller's side: each channel carries the other party faintly, a little late.
        gain, delay = 10 ** (-abs(plan.crosstalk_db) / 20), round(CROSSTALK_DELAY_S * FS_HZ)
        leak = np.zeros_like(wide)
        leak[:, delay:] = gain * wide[::-1, : n - delay]
        wide = wide + leak
    line = [telephone_channel(wide[c], FS_HZ, law="ulaw", noise_dbfs=plan.noise_dbfs[c],
                              seed=plan.seed * 2 + c) for c in (0, 1)]
    pcm = np.round(np.stack(line) * 32768).astype(np.int16)
    if plan.digital_silence:
        sent = np.zeros(pcm.shape, dtype=bool)
        spans = [(s.channel, s.start_s, s.end_s) for s in plan.segments]
        if plan.hold is not None:
            spans.append((0, plan.hold["start_s"], plan.hold["start_s"] + plan.hold["seconds"]))
        for channel, start_s, end_s in spans:
            sent[channel, round(start_s * LINE_FS_HZ): round(end_s * LINE_FS_HZ)] = True
        pcm[~sent] = 0
    return pcm


#: Delay of a party's leak into the other's channel (``Design.crosstalk_db``), s.
CROSSTALK_DELAY_S = 0.004
#: Neighbours heard behind the agent, and how long each talks and listens in turn (s).
NEIGHBOURS = 4
NEIGHBOUR_TALK_S = (2.0, 8.0)
NEIGHBOUR_LEVEL_SPREAD_DB = 6.0


#: Channels that hear the neighbours, by ``CallPlan.babble_side``.
BABBLE_CHANNELS = {"agent": (0,), "caller": (1,), "both": (0, 1)}


def babble(plan: CallPlan, n: int, channel: int = 0) -> np.ndarray:
    """The voices behind a party: ``n`` samples of :data:`NEIGHBOURS` other speakers,
    each on their own call (talking for 2-8 s of their test-neutral files, then
    listening for as long) at their own distance (0 to -6 dB), together
    ``plan.babble_db`` below the nominal speech level (-26 dBov) as RMS over the call.
    Dry: no room's reverberation, so only the level tells them from the party. Each
    channel hears its own mix."""
    rng = np.random.default_rng(plan.seed + 3_333_333 + 1_000 * channel)
    out = np.zeros(n)
    for who in plan.neighbours:
        voice = np.zeros(n)
        t = int(rng.uniform(0, NEIGHBOUR_TALK_S[1]) * FS_HZ)
        while t < n:
            talk = rng.uniform(*NEIGHBOUR_TALK_S)
            said = 0.0
            while said < talk and t < n:
                u = who.neutral[int(rng.integers(len(who.neutral)))].samples
                m = min(u.size, n - t)
                voice[t: t + m] += u[:m]
                t += m + int(rng.uniform(*PAUSE_S) * FS_HZ)
                said += u.size / FS_HZ
            t += int(rng.uniform(*NEIGHBOUR_TALK_S) * FS_HZ)
        out += voice * 10 ** (-rng.uniform(0, NEIGHBOUR_LEVEL_SPREAD_DB) / 20)
    rms = np.sqrt(np.mean(out ** 2))
    if rms == 0:
        return out
    target = 10 ** ((NOMINAL_LEVEL_DBOV + plan.babble_db) / 20)
    return out * (target / rms)


# ---------------------------------------------------------------- the data set
@dataclass
class Design:
    """How many calls of what: events per check, clean calls, events per call."""

    events_per_check: int
    clean_calls: int
    max_events_per_call: int = 3
    #: Each call's agent channel is offset by up to this, either way (one headset), dB.
    agent_offset_db: float = AGENT_OFFSET_DB
    #: Each party also on the other's channel this many dB down (None: not at all).
    crosstalk_db: float | None = None
    #: Share of calls put on hold once, with music (:func:`add_hold`).
    hold_share: float = 0.0
    #: Neighbours behind every agent this many dB below their voice (:func:`babble`).
    babble_db: float | None = None
    #: ... behind the agent, the caller or both (``CallPlan.babble_side``).
    babble_side: str = "agent"
    #: Digital silence between each party's turns (``CallPlan.digital_silence``).
    digital_silence: bool = False


def design_calls(design: Design, agents: list[Speaker], callers: list[Speaker],
                 seed: int) -> list[CallPlan]:
    """Spread ``events_per_check`` events of every check over calls, plus clean calls.

    Checks are drawn from a shuffled bag, 1..max distinct ones per call; a call whose
    first check is agent_low_energy gets an EmoDB agent (the only corpus with sad and
    bored speech), others take the next agent in turn. The caller is any other speaker.
    """
    rng = np.random.default_rng(seed)
    bag = [c for c in CHECKS for _ in range(design.events_per_check)]
    rng.shuffle(bag)
    low_agents = [a for a in agents if a.low_energy]
    turn = {"any": 0, "low": 0}
    chosen: list[tuple[Speaker, list[str]]] = []
    while bag:
        first = bag.pop(0)
        if first == "agent_low_energy":
            agent = low_agents[turn["low"] % len(low_agents)]
            turn["low"] += 1
        else:
            agent = agents[turn["any"] % len(agents)]
            turn["any"] += 1
        checks = [first]
        want = int(rng.integers(1, design.max_events_per_call + 1))
        for c in list(bag):
            if len(checks) >= want:
                break
            if c not in checks and (c != "agent_low_energy" or agent.low_energy):
                checks.append(c)
                bag.remove(c)
        chosen.append((agent, checks))
    for _ in range(design.clean_calls):
        chosen.append((agents[turn["any"] % len(agents)], []))
        turn["any"] += 1
    order = rng.permutation(len(chosen))
    plans = []
    for number, i in enumerate(order):
        agent, checks = chosen[i]
        caller = [s for s in callers if s.key != agent.key][int(rng.integers(0, len(callers) - 1))]
        target = float(rng.uniform(*CALL_S))
        if "caller_agitation" in checks:
            target = max(target, float(rng.uniform(170.0, CALL_S[1])))
        target = max(target, 30.0 * len(checks))
        plans.append(CallPlan(f"call_{number:04d}", agent, caller, checks, target,
                              seed=seed * 100_000 + number,
                              agent_offset_db=design.agent_offset_db,
                              crosstalk_db=design.crosstalk_db, hold_share=design.hold_share,
                              babble_db=design.babble_db,
                              babble_side=design.babble_side,
                              digital_silence=design.digital_silence))
        if design.babble_db is not None:
            others = [s for s in callers if s.key not in (agent.key, caller.key)]
            pick = np.random.default_rng(seed * 100_000 + number + 5_555_555).choice(
                len(others), size=min(NEIGHBOURS, len(others)), replace=False)
            plans[-1].neighbours = [others[i] for i in pick]
    return plans


def write_calls(plans: list[CallPlan], call_dir: Path, truth_path: Path) -> dict:
    """Plan, render and write every call; ``calls.csv`` and ``truth.json``. Returns truth."""
    import soundfile as sf

    call_dir.mkdir(parents=True, exist_ok=True)
    truth = {"line_fs_hz": LINE_FS_HZ, "g711_max": G711_MAX, "calls": {}}
    rows = []
    for plan in plans:
        plan_call(plan)
        if plan.hold_share and np.random.default_rng(plan.seed + 1).random() < plan.hold_share:
            add_hold(plan)
        pcm = render_call(plan)
        rel = f"{plan.call_id}.wav"
        sf.write(call_dir / rel, pcm.T, LINE_FS_HZ, subtype="PCM_16")
        rows.append({"call_id": plan.call_id, "path": rel, "agent_id": plan.agent.key})
        truth["calls"][plan.call_id] = {
            "path": rel, "agent_id": plan.agent.key, "caller_id": plan.caller.key,
            "duration_s": round(pcm.shape[1] / LINE_FS_HZ, 3), "clean": not plan.events,
            "events": [e.to_json() for e in plan.events],
            "offsets_db": [round(v, 2) for v in plan.offsets_db],
            "noise_dbfs": [round(v, 2) for v in plan.noise_dbfs],
            "capped_turns": plan.capped_turns, "crosstalk_db": plan.crosstalk_db,
            "hold": plan.hold, "babble_db": plan.babble_db,
            "babble_side": plan.babble_side if plan.babble_db is not None else None,
            "digital_silence": plan.digital_silence,
            "neighbours": [s.key for s in plan.neighbours],
            "segments": [{"channel": s.channel, "start_s": round(s.start_s, 3),
                          "end_s": round(s.end_s, 3), "kind": s.kind, "files": s.files}
                         for s in plan.segments if s.files],
        }
    with (call_dir / "calls.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["call_id", "path", "agent_id"])
        writer.writeheader()
        writer.writerows(rows)
    truth_path.write_text(json.dumps(truth, indent=1))
    return truth
