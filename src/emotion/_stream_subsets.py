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

import copy

import numpy as np


def take_streams(stage, index: np.ndarray, memo: dict | None = None):
    """A copy of ``stage`` advancing only streams ``index`` (in that order)."""
    memo = {} if memo is None else memo
    if id(stage) in memo:
        return memo[id(stage)]
    part = copy.copy(stage)
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


def put_streams(stage, part, index: np.ndarray, done: set | None = None) -> None:
    """Write ``part``'s state back into streams ``index`` of ``stage``; adopt its clocks."""
    done = set() if done is None else done
    if id(stage) in done:
        return
    done.add(id(stage))
    state = dict(type(stage)._STREAM_STATE)
    children = type(stage)._STREAM_CHILDREN
    for name, axis in state.items():
        full, new = getattr(stage, name), getattr(part, name)
        if new is None:
            continue
        if full is None:
            raise RuntimeError(f"{type(stage).__name__}.{name} must exist before streams sleep")
        where = (slice(None),) * axis + (index,)
        if _other_axes(full, axis) != _other_axes(new, axis):
            full = _regrown(full, new.shape[1], axis)
            setattr(stage, name, full)
        full[where] = new
    for name in children:
        put_streams(getattr(stage, name), getattr(part, name), index, done)
    for name, value in vars(part).items():
        if name not in state and name not in children and name != "n_streams":
            setattr(stage, name, value)


def _regrown(held: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Held input ``(streams, time, …)`` at a new ``length``: the latest samples stay
    at the end and older ones repeat cyclically, so a sleeping stream's held line noise
    keeps its level (zeros would read as a pause into digital silence)."""
    if axis != 0:
        raise RuntimeError("held input whose length changes must have streams first")
    if held.shape[1] == 0:
        return np.zeros((held.shape[0], length, *held.shape[2:]), dtype=held.dtype)
    return np.take(held, np.arange(-length, 0) % held.shape[1], axis=1)


def _other_axes(array: np.ndarray, axis: int) -> tuple[int, ...]:
    return array.shape[:axis] + array.shape[axis + 1 :]

