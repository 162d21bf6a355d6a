"""Advance only some streams of a streaming stage: take their state out, put it back.

Every streaming stage in :mod:`emotion` keeps per-stream state in arrays with a stream
axis and advances all its streams in lockstep (the frame clocks are shared scalars).
The voice analyser lets a stream that has been silent for a while *sleep*: its
expensive stages are not run. :func:`take_streams` makes a shallow copy of a stage
holding only the chosen streams' state, the caller advances that copy, and
:func:`put_streams` writes the state back and adopts the copy's clocks, so the sleeping
streams keep their state as it was (frozen) while the clocks move on.

A stage declares what is per stream:

- ``_STREAM_STATE``: ``(attribute, stream axis)`` pairs for the state arrays;
- ``_STREAM_CHILDREN``: attributes holding streaming sub-stages (shared ones are copied
  once, so sharing survives).

State whose length changes as blocks arrive (a framer's held samples) cannot stay
frozen at its old length: the sleeping streams keep their latest samples and repeat
older ones cyclically to fill it.
"""

from __future__ import annotations

import functools

import numpy as np


def take_streams(stage, index: np.ndarray, memo: dict | None = None):
    """A copy of ``stage`` advancing only streams ``index`` (in that order)."""
    memo = {} if memo is None else memo
    if id(stage) in memo:
        return memo[id(stage)]
    part = object.__new__(type(stage))  # a shallow copy (no stage customises copying)
    part.__dict__.update(stage.__dict__)
    memo[id(stage)] = part
    for name, axis in type(stage)._STREAM_STATE:
        value = getattr(stage, name)
        if value is not None:
            setattr(part, name, np.take(value, index, axis=axis))
    for name in type(stage)._STREAM_CHILDREN:
        setattr(part, name, take_streams(getattr(stage, name), index, memo))
    if hasattr(stage, "n_streams"):
        part.n_streams = len(index)
    return part


def advance_some(stage, index: np.ndarray, step):
    """``step(part)`` on a copy of ``stage`` holding only streams ``index``, whose state
    then goes back into the stage; returns what ``step`` returned."""
    part = take_streams(stage, index)
    result = step(part)
    put_streams(stage, part, index)
    return result


def put_streams(stage, part, index: np.ndarray, done: set | None = None) -> None:
    """Write ``part``'s state back into streams ``index`` of ``stage``; adopt its clocks."""
    done = set() if done is None else done
    if id(stage) in done:
        return
    done.add(id(stage))
    state = type(stage)._STREAM_STATE
    children = type(stage)._STREAM_CHILDREN
    for name, axis in state:
        full, new = getattr(stage, name), getattr(part, name)
        if new is None:
            continue
        if full is None:
            raise RuntimeError(f"{type(stage).__name__}.{name} must exist before streams sleep")
        if _other_axes(full, axis) != _other_axes(new, axis):
            setattr(stage, name, _regrown(full, new, index, axis))
        else:
            full[(slice(None),) * axis + (index,)] = new
    for name in children:
        put_streams(getattr(stage, name), getattr(part, name), index, done)
    own = _own_names(type(stage))
    stage.__dict__.update((name, value) for name, value in part.__dict__.items()
                          if name not in own)


@functools.cache
def _own_names(cls: type) -> frozenset[str]:
    """What :func:`put_streams` keeps of the stage itself: its per-stream state, its
    sub-stages and its stream count (everything else of the copy is adopted)."""
    return frozenset([*(name for name, _ in cls._STREAM_STATE), *cls._STREAM_CHILDREN,
                      "n_streams"])


def _regrown(held: np.ndarray, new: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    """Held input ``(streams, time, …)`` at the length of ``new``, which streams ``index``
    hold now: the other streams' latest samples stay at the end and older ones repeat
    cyclically, so a sleeping stream's held line noise keeps its level (zeros would read
    as a pause into digital silence)."""
    if axis != 0:
        raise RuntimeError("held input whose length changes must have streams first")
    length = new.shape[1]
    if held.shape[1] == 0:
        out = np.zeros((held.shape[0], length, *held.shape[2:]), dtype=held.dtype)
    elif length <= held.shape[1]:
        out = held[:, held.shape[1] - length :].copy()
    else:
        out = np.take(held, np.arange(-length, 0) % held.shape[1], axis=1)
    out[index] = new
    return out


def _other_axes(array: np.ndarray, axis: int) -> tuple[int, ...]:
    return array.shape[:axis] + array.shape[axis + 1 :]

