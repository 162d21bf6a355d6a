"""The other party's echo on a live channel: dropped far down, one's own speech kept."""

from __future__ import annotations

import numpy as np
import pytest

from capture.synth import speech_like
from emotion.echo import EchoGate
from emotion.vad import StreamingVAD

FS_HZ = 8000


def _talk(seed: int) -> np.ndarray:
    """Speech 2 s on, 1 s off, for 15 s (a party's turns)."""
    parts = []
    for k in range(5):
        parts += [speech_like(2.0, FS_HZ, seed=seed + k, f0_hz=110 + 20 * k, level_dbfs=-20.0),
                  np.zeros(FS_HZ)]
    return np.concatenate(parts)


def _line(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 3e-4, n)  # about -70 dBFS


def _echo(x: np.ndarray, gain_db: float, lag_s: float) -> np.ndarray:
    lag = round(lag_s * FS_HZ)
    return np.concatenate([np.zeros(lag), x[:-lag]]) * 10 ** (gain_db / 20)


def _decide(own: np.ndarray, other: np.ndarray, block: int):
    """Speech and echo decisions of ``own`` (one stream) fed ``block`` samples at a time."""
    own_vad, other_vad = StreamingVAD(1, FS_HZ), StreamingVAD(1, FS_HZ)
    gate = EchoGate(1, own_vad.frame_ms)
    speech, heard = [], []
    for i in range(0, own.size, block):
        gate.add(other_vad.process(other[None, i : i + block]))
        frames = own_vad.process(own[None, i : i + block])
        speech.append(frames.speech[0])
        heard.append(gate.heard(frames)[0])
    return np.concatenate(speech), np.concatenate(heard)


@pytest.mark.parametrize("gain_db, lag_s", [(-35.0, 0.01), (-30.0, 0.04), (-25.0, 0.1),
                                           (-30.0, 0.12)])
def test_the_other_partys_voice_far_down_is_its_echo(gain_db, lag_s):
    caller = _talk(seed=10)
    agent = _echo(caller, gain_db, lag_s) + _line(caller.size, 1)
    speech, heard = _decide(agent, caller, 2000)
    assert speech.sum() >= 100  # the detector does hear the echo as speech
    assert (heard & speech).sum() / speech.sum() >= 0.95


def test_ones_own_speech_over_the_other_party_is_kept():
    caller = _talk(seed=10)
    agent = speech_like(caller.size / FS_HZ, FS_HZ, seed=40, f0_hz=200, level_dbfs=-26.0)
    agent = agent + _echo(caller, -30.0, 0.04) + _line(caller.size, 1)
    speech, heard = _decide(agent, caller, 2000)
    assert speech.mean() >= 0.8
    assert (heard & speech).sum() / speech.sum() <= 0.02


def test_a_quiet_headset_under_a_loud_caller_is_still_the_agent():
    """12 dB apart (a headset 6 dB down, a caller 6 dB up)."""
    caller = _talk(seed=10)
    agent = speech_like(caller.size / FS_HZ, FS_HZ, seed=40, f0_hz=200, level_dbfs=-32.0)
    speech, heard = _decide(agent + _line(caller.size, 1), caller, 2000)
    assert (heard & speech).sum() / speech.sum() <= 0.08


def test_the_decisions_do_not_depend_on_block_size():
    caller = _talk(seed=10)
    agent = _echo(caller, -30.0, 0.04) + _line(caller.size, 1)
    agent[5 * FS_HZ : 7 * FS_HZ] += speech_like(2.0, FS_HZ, seed=5, level_dbfs=-24.0)
    whole = _decide(agent, caller, agent.size)
    for block in (2000, 333, 80):
        got = _decide(agent, caller, block)
        assert np.array_equal(got[0], whole[0]) and np.array_equal(got[1], whole[1])


def test_frames_the_other_party_was_not_fed_for_are_not_dropped():
    own_vad, other_vad = StreamingVAD(1, FS_HZ), StreamingVAD(1, FS_HZ)
    gate = EchoGate(1, own_vad.frame_ms)
    caller = _talk(seed=10)
    agent = _echo(caller, -30.0, 0.04)
    other_vad.process(caller[None, :FS_HZ])  # the other party's first second, not given
    frames = own_vad.process(agent[None, :FS_HZ])
    assert not gate.heard(frames).any()
    gate.add(other_vad.process(caller[None, FS_HZ : 2 * FS_HZ]))
    frames = own_vad.process(agent[None, FS_HZ : 2 * FS_HZ])
    assert gate.heard(frames)[0][frames.speech[0]].mean() >= 0.9  # from here on it is
