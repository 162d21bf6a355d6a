"""Speech segments and turns of a two-party call, from per-frame voice-activity decisions.

Times are seconds from the start of the recording; a segment is ``[start_s, end_s)``.
Frame ``j`` of a mask covers ``[j·frame_s, (j+1)·frame_s)``, as the VAD's frames do.
"""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> np.ndarray:
    """``(n, 2)`` frame indices ``[start, end)`` of the runs of True in a 1-D mask."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return edges.reshape(-1, 2)


def bridge(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """The mask with interior gaps of at most ``max_gap`` frames filled."""
    out = np.asarray(mask, dtype=bool).copy()
    if max_gap <= 0:
        return out
    gaps = runs(~out)
    gaps = gaps[(gaps[:, 0] > 0) & (gaps[:, 1] < out.size) & (gaps[:, 1] - gaps[:, 0] <= max_gap)]
    if gaps.size:
        edges = np.zeros(out.size + 1, dtype=np.int8)  # runs are disjoint: +1 in, -1 out
        edges[gaps[:, 0]] = 1
        edges[gaps[:, 1]] = -1
        out |= np.cumsum(edges[:-1]) > 0
    return out


def segments_s(mask: np.ndarray, frame_s: float) -> np.ndarray:
    """``(n, 2)`` seconds ``[start_s, end_s)`` of the runs of True."""
    return runs(mask).astype(np.float64) * frame_s


def turns(own: np.ndarray, other: np.ndarray | None, frame_s: float, gap_s: float
          ) -> np.ndarray:
    """One party's turns: ``(n, 2)`` frame indices of its speech, pauses merged.

    Consecutive speech runs of ``own`` are one turn when the pause between them is
    shorter than ``gap_s`` and ``other`` does not speak in it.
    """
    pieces = runs(own)
    if pieces.size == 0:
        return pieces
    other = np.zeros(np.asarray(own).size, dtype=bool) if other is None else np.asarray(other)
    max_gap = gap_s / frame_s
    merged = [list(pieces[0])]
    for start, end in pieces[1:]:
        last = merged[-1]
        if start - last[1] < max_gap and not other[last[1]:start].any():
            last[1] = end
        else:
            merged.append([start, end])
    return np.asarray(merged, dtype=np.int64)


def silences(a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Frame runs ``(n, 2)`` where neither party speaks, between the call's first and
    last speech (the ringing before and the hang-up after are not dead air)."""
    any_speech = np.asarray(a, dtype=bool) | (False if b is None else np.asarray(b, bool))
    return _within_call(~any_speech, any_speech)


def one_sided(silent: np.ndarray, speaking: np.ndarray) -> np.ndarray:
    """Frame runs ``(n, 2)`` in which ``silent`` has no speech at all, between the
    call's first and last speech of either party (``qa.checks.one_way_flags`` counts
    ``speaking``'s speech in each)."""
    silent = np.asarray(silent, dtype=bool)
    return _within_call(~silent, silent | np.asarray(speaking, dtype=bool))


def _within_call(quiet: np.ndarray, any_speech: np.ndarray) -> np.ndarray:
    """The runs of ``quiet`` between the first and the last frame of ``any_speech``."""
    spoken = np.flatnonzero(any_speech)
    if spoken.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    quiet = quiet.copy()
    quiet[: spoken[0]] = False
    quiet[spoken[-1] + 1:] = False
    return runs(quiet)


def overlaps_started_by(own: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Frame runs ``(n, 2)`` of double talk that ``own`` started while ``other`` spoke.

    Each run goes from ``own``'s onset to the first frame where either stops.
    """
    own = np.asarray(own, dtype=bool)
    other = np.asarray(other, dtype=bool)
    both = own & other
    out = []
    for start, end in runs(both):
        # own started inside other's speech: other already spoke on the frame before
        # own's onset, and own's onset is this run's start.
        if start > 0 and other[start - 1] and not own[start - 1]:
            out.append((start, end))
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def cut_ins(own: np.ndarray, other: np.ndarray, max_pause: int) -> np.ndarray:
    """Stretches ``(n, 3)`` = ``[start, end, double)`` where ``own`` cut into ``other``'s turn.

    ``other``'s turn is its speech with pauses of at most ``max_pause`` frames bridged:
    a speaker who stops for a breath or a second mid-sentence has not finished. A
    cut-in starts at an onset of ``own`` inside that turn (``other`` spoke before it and
    speaks again within the pause) and lasts while both go on, up to the last frame in
    which ``other`` actually speaks; ``double`` counts the frames in it where both speak.
    An onset during ``other``'s speech itself is a cut-in too (the overlap of
    :func:`overlaps_started_by`); one in a pause after which ``other`` does not resume
    is a reply.
    """
    own = np.asarray(own, dtype=bool)
    other = np.asarray(other, dtype=bool)
    turn = bridge(other, max_pause)
    out = []
    for start, end in runs(own & turn):
        if start > 0 and turn[start - 1] and not own[start - 1]:
            both = np.flatnonzero(other[start:end])  # own speaks throughout the run
            if both.size:
                out.append((start, start + both[-1] + 1, both.size))
    return np.asarray(out, dtype=np.int64).reshape(-1, 3)


def replies(agent_turns: np.ndarray, caller_turns: np.ndarray) -> list[tuple[int, int]]:
    """``(caller_end, agent_start)`` frame pairs where the agent speaks next after the caller.

    A pair is a reply when the caller's turn is the last speech of either party before
    the agent's turn starts (so the gap between them is silent on both channels).
    """
    caller = np.asarray(caller_turns, dtype=np.int64).reshape(-1, 2)
    caller = caller[np.argsort(caller[:, 0])]
    caller_ends = caller[:, 1]
    agent = np.asarray(agent_turns, dtype=np.int64).reshape(-1, 2)
    out = []
    for i, (start, _) in enumerate(agent):
        k = np.searchsorted(caller_ends, start, side="right") - 1
        if k < 0:
            continue
        caller_end = int(caller_ends[k])
        agent_end = int(agent[:i, 1].max()) if i else -1
        caller_next = int(caller[k + 1, 0]) if k + 1 < len(caller) else start
        if agent_end <= caller_end < start <= caller_next:
            out.append((caller_end, int(start)))
    return out
