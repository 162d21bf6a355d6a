"""Streams that sleep through silence: less work, the same windows (emotion.voice)."""

from __future__ import annotations

import numpy as np
import pytest

from capture.synth import speech_like
from emotion._stream_subsets import put_streams, take_streams
from emotion.prosody import StreamingPitch
from emotion.psychoacoustics.streaming import StreamingPsychoacoustics
from emotion.voice import GATE_SLOT_S, SLEEP_AFTER_S, StreamingVoiceAnalyzer
from emotion.windows import FEATURE_NAMES

FS = 8000


@pytest.fixture(scope="module")
def talk_pause_talk():
    """8 s of speech, 12 s of line noise, 8 s of speech (what an agent's channel holds
    while the caller talks)."""
    rng = np.random.default_rng(3)
    noise = rng.normal(0.0, 10 ** (-62 / 20), 20 * FS)
    first = np.ravel(speech_like(8.0, FS, seed=31))
    second = np.ravel(speech_like(8.0, FS, seed=32))
    x = noise.copy()
    x[: first.size] += first
    x = np.concatenate([x, noise[:8 * FS] + second])
    return x[None]


def _windows(x, sleep_after_s, sizes=None):
    analyzer = StreamingVoiceAnalyzer(x.shape[0], FS, sleep_after_s=sleep_after_s)
    if sizes is None:
        parts = [analyzer.process(x)]
    else:
        parts, i = [], 0
        while i < x.shape[1]:
            n = int(sizes.integers(80, 4000))
            parts.append(analyzer.process(x[:, i : i + n]))
            i += n
    features = np.concatenate([p.features for p in parts], axis=1)
    valid = np.concatenate([p.valid for p in parts], axis=1)
    return analyzer, features, valid


def _stage_grid(x):
    """Loudness and fluctuation strength of stream 0 on the 10 ms grid the windows read,
    from an analyser that sleeps: NaN where a stage did not run."""
    analyzer = StreamingVoiceAnalyzer(x.shape[0], FS, sleep_after_s=SLEEP_AFTER_S)
    grids, push = [], analyzer.windower.push

    def keep(**grid):
        grids.append((grid["loudness"], grid["fluctuation"]))
        return push(**grid)

    analyzer.windower.push = keep
    analyzer.process(x)
    return (np.concatenate([g[0] for g in grids], axis=1)[0],
            np.concatenate([g[1] for g in grids], axis=1)[0])


def test_a_long_pause_sleeps_and_the_windows_stay_what_they_were(talk_pause_talk):
    awake, f_awake, v_awake = _windows(talk_pause_talk, None)
    gated, f_gated, v_gated = _windows(talk_pause_talk, SLEEP_AFTER_S)
    # The 12 s pause, less the 2 s before sleeping and the slot it wakes in.
    assert gated.slots_asleep * GATE_SLOT_S >= 9.0
    assert awake.slots_asleep == 0
    # the stages did sleep (the counters alone are the gate's bookkeeping)
    loudness, fluctuation = _stage_grid(talk_pause_talk)
    assert (np.isnan(loudness) & np.isnan(fluctuation)).sum() * 0.01 >= 9.0
    assert v_gated.tolist() == v_awake.tolist()
    assert v_gated.sum() >= 10
    both = v_gated[0]
    rel = np.abs(f_gated[0, both] - f_awake[0, both]) / np.abs(f_awake[0, both])
    # Only the pause's edges can differ: a frame or two at the slot edge, and the
    # modulation measures, whose frames (0.2 s and 2 s) reach back into the frozen line
    # noise and hold their latest value until the next analysis.
    worst = dict(zip(FEATURE_NAMES, rel.max(axis=0).round(4), strict=True))
    modulation = [FEATURE_NAMES.index("roughness_asper"), FEATURE_NAMES.index("fluctuation_vacil")]
    assert np.delete(rel, modulation, axis=1).max() < 0.01, worst
    assert rel[:, modulation].max() < 0.15, worst


def test_streams_sleep_alike_whatever_blocks_the_audio_comes_in(talk_pause_talk):
    whole, f_whole, v_whole = _windows(talk_pause_talk, SLEEP_AFTER_S)
    packets, f_packets, v_packets = _windows(talk_pause_talk, SLEEP_AFTER_S,
                                             sizes=np.random.default_rng(5))
    assert packets.slots_asleep == whole.slots_asleep > 0
    n = v_whole.shape[1]
    assert v_packets[:, :n].tolist() == v_whole.tolist()
    np.testing.assert_allclose(f_packets[:, :n], f_whole, rtol=1e-4)


def test_streams_asleep_at_different_times_wake_alike_in_any_blocks(talk_pause_talk):
    """Two streams, one pausing while the other talks, so that stages run for some
    streams only: a file and the same audio in packets give the same windows."""
    x = np.concatenate([talk_pause_talk, np.roll(talk_pause_talk, 7 * FS, axis=1)])
    whole, f_whole, v_whole = _windows(x, SLEEP_AFTER_S)
    packets, f_packets, v_packets = _windows(x, SLEEP_AFTER_S, sizes=np.random.default_rng(11))
    assert whole.slots_asleep == packets.slots_asleep > 0
    assert 0 < whole.slots_near < whole.slots_awake
    n = v_whole.shape[1]
    assert v_packets[:, :n].tolist() == v_whole.tolist()
    np.testing.assert_allclose(f_packets[:, :n], f_whole, rtol=1e-4)


@pytest.mark.parametrize("sleep_after_s", [None, SLEEP_AFTER_S])
def test_int16_pcm_gives_the_windows_of_its_float_samples(talk_pause_talk, sleep_after_s):
    codes = np.round(np.clip(talk_pause_talk, -1.0, 32767 / 32768) * 32768).astype(np.int16)
    _, f_float, v_float = _windows(codes / 32768, sleep_after_s, np.random.default_rng(7))
    _, f_pcm, v_pcm = _windows(codes, sleep_after_s, np.random.default_rng(7))
    assert v_float.sum() >= 10
    assert v_pcm.tolist() == v_float.tolist()
    np.testing.assert_array_equal(f_pcm, f_float)
    # an int16 block after a float one (its slot still in progress) is taken as floats
    mixed = StreamingVoiceAnalyzer(1, FS, sleep_after_s=sleep_after_s)
    floats = StreamingVoiceAnalyzer(1, FS, sleep_after_s=sleep_after_s)
    f_mixed = [mixed.process(codes[:, :1000] / 32768), mixed.process(codes[:, 1000:])]
    f_floats = [floats.process(codes[:, :1000] / 32768), floats.process(codes[:, 1000:] / 32768)]
    np.testing.assert_array_equal(np.concatenate([p.features for p in f_mixed], axis=1),
                                  np.concatenate([p.features for p in f_floats], axis=1))


def test_a_woken_stream_stays_awake_for_the_time_asked():
    analyzer = StreamingVoiceAnalyzer(2, FS)
    silence = np.zeros((2, FS))
    analyzer.process(silence)
    assert analyzer.slots_awake == 0  # digital silence never wakes a stream
    analyzer.wake([1], 1.0)
    analyzer.process(np.zeros((2, 2 * FS)))
    assert analyzer.slots_awake == round(1.0 / GATE_SLOT_S)


def test_advancing_some_streams_gives_them_what_advancing_all_gives():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 0.05, (3, 12 * 2000))
    full_psycho = StreamingPsychoacoustics(3, FS)
    some_psycho = StreamingPsychoacoustics(3, FS)
    full_pitch, some_pitch = StreamingPitch(3, FS), StreamingPitch(3, FS)
    awake = np.array([True, False, True])
    index = np.flatnonzero(awake)
    for k in range(12):  # 0.25 s blocks; fluctuation strength reads from 2 s on
        block = x[:, k * 2000 : (k + 1) * 2000]
        a = full_psycho.process(block.astype(np.float32))
        b = some_psycho.process(block.astype(np.float32), active=awake)
        for name in ("loudness_sone", "specific_loudness", "sharpness_acum",
                     "roughness_asper", "fluctuation_vacil"):
            got, want = getattr(b, name), getattr(a, name)
            np.testing.assert_array_equal(got[index], want[index])
            assert np.isnan(got[1]).all()
        if k >= 8:  # read, not NaN = NaN
            assert np.isfinite(b.fluctuation_vacil[index]).all()
        frozen = some_pitch._state[1].copy(), some_pitch._zi[:, 1].copy()
        part = take_streams(some_pitch, index)
        pitch_some = part.process(block[index])
        put_streams(some_pitch, part, index)
        pitch_all = full_pitch.process(block)
        np.testing.assert_array_equal(pitch_some.aperiodicity, pitch_all.aperiodicity[index])
        np.testing.assert_array_equal(some_pitch._state[1], frozen[0])
        np.testing.assert_array_equal(some_pitch._zi[:, 1], frozen[1])
        assert some_pitch._framer.frames_emitted == full_pitch._framer.frames_emitted


def _stage_state(psycho, rows, fluctuation_rows=()):
    """Copies of the first group's per-stream state that sleeping leaves frozen:
    loudness and roughness for ``rows``, fluctuation strength for ``fluctuation_rows``."""
    group = psycho._groups[0]
    state = [group.loudness._nl_state[rows], group.loudness._tw_state[rows],
             group.loudness._spec_sum[rows], group.roughness._latest[rows]]
    if len(fluctuation_rows):
        state += [group.fluctuation._tail[fluctuation_rows],
                  group.fluctuation._latest[fluctuation_rows]]
    return [value.copy() for value in state]


def _assert_state_equal(state, frozen):
    for value, before in zip(state, frozen, strict=True):
        np.testing.assert_array_equal(value, before)


def test_streams_not_near_speech_advance_fluctuation_strength_alone():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 0.05, (3, 16 * 2000)).astype(np.float32)
    full = StreamingPsychoacoustics(3, FS)
    some = StreamingPsychoacoustics(3, FS)
    near = np.array([True, False, True])
    for k in range(16):  # 0.25 s blocks; fluctuation strength reads from 2 s on
        block = x[:, k * 2000 : (k + 1) * 2000]
        a = full.process(block)
        # stream 1 leaves the short stages in blocks 10-11, then comes back
        gated = k in (10, 11)
        b = some.process(block, near=near if gated else None)
        np.testing.assert_array_equal(b.fluctuation_vacil, a.fluctuation_vacil)
        if k >= 8:  # read, not NaN = NaN: stream 1's included while it is not near
            assert np.isfinite(b.fluctuation_vacil).all()
        rows = [0, 2] if gated else [0, 1, 2]
        for name in ("loudness_sone", "specific_loudness", "sharpness_acum",
                     "roughness_asper"):
            got, want = getattr(b, name), getattr(a, name)
            if gated:
                assert np.isnan(got[1]).all(), name
            if k <= 11:  # before it left, and the others throughout
                np.testing.assert_array_equal(got[rows], want[rows])
        if k >= 12:  # back again, from the state it left with
            assert np.isfinite(b.loudness_sone[1]).all()
            np.testing.assert_array_equal(b.loudness_sone[[0, 2]], a.loudness_sone[[0, 2]])
        # that state: stream 1's loudness and roughness state as block 9 left it
        if k == 9:
            left_with = _stage_state(some, [1])
        if k == 11:
            _assert_state_equal(_stage_state(some, [1]), left_with)


def test_streams_asleep_and_streams_not_near_in_one_group_keep_to_their_own_stages():
    # The group takes each stage's state once, for the streams that run it: the
    # spectrum and fluctuation for the awake, loudness and roughness for the near.
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 0.05, (4, 16 * 2000)).astype(np.float32)
    full, some = StreamingPsychoacoustics(4, FS), StreamingPsychoacoustics(4, FS)
    awake, near = np.array([True, True, False, True]), np.array([True, False, False, True])
    short = ("loudness_sone", "specific_loudness", "sharpness_acum", "roughness_asper")
    for k in range(16):  # 0.25 s blocks; fluctuation strength reads from 2 s on
        block = x[:, k * 2000 : (k + 1) * 2000]
        a = full.process(block)
        gated = k in (10, 11)
        b = some.process(block, active=awake if gated else None, near=near if gated else None)
        for name in (*short, "fluctuation_vacil"):
            got, want = getattr(b, name), getattr(a, name)
            np.testing.assert_array_equal(got[[0, 3]], want[[0, 3]], err_msg=name)
            if gated:
                assert np.isnan(got[2]).all(), name  # asleep: nothing runs
                if name in short:
                    assert np.isnan(got[1]).all(), name  # not near: fluctuation alone
        # stream 1 never stopped its fluctuation strength
        np.testing.assert_array_equal(b.fluctuation_vacil[1], a.fluctuation_vacil[1])
        if k >= 8:
            assert np.isfinite(b.fluctuation_vacil[[0, 1, 3]]).all()
        if k >= 12:  # awake again, from the state each fell asleep with
            assert np.isfinite(b.loudness_sone[[1, 2]]).all()
        # that state: as block 9 left it, stream 2's in every stage, stream 1's but
        # fluctuation strength's
        if k == 9:
            left_with = _stage_state(some, [1, 2], fluctuation_rows=[2])
        if k == 11:
            _assert_state_equal(_stage_state(some, [1, 2], fluctuation_rows=[2]), left_with)


def test_the_short_stages_sleep_through_more_of_a_pause(talk_pause_talk):
    gated, _, valid = _windows(talk_pause_talk, SLEEP_AFTER_S)
    assert valid.sum() >= 10
    # 12 s of line noise: the short stages stop 0.5 s after speech, the others after 2 s
    assert (gated.slots_awake - gated.slots_near) * GATE_SLOT_S >= 1.25
    # and they do stop (the counters alone are the gate's bookkeeping): on the grid the
    # windows read, loudness is not measured while fluctuation strength still is
    loudness, fluctuation = _stage_grid(talk_pause_talk)
    assert (np.isnan(loudness) & np.isfinite(fluctuation)).sum() * 0.01 >= 1.25
    never = StreamingVoiceAnalyzer(1, FS, sleep_after_s=None)
    never.process(talk_pause_talk)
    assert never.slots_near == never.slots_awake == 0  # counted only when gating


def test_no_stream_awake_still_moves_the_clocks():
    psycho = StreamingPsychoacoustics(2, FS)
    out = psycho.process(np.zeros((2, 4000), dtype=np.float32), active=np.zeros(2, bool))
    assert out.loudness_sone.shape == (2, 50) and np.isnan(out.loudness_sone).all()
    again = psycho.process(np.zeros((2, 800), dtype=np.float32))
    assert again.first_frame == 5 and np.isfinite(again.loudness_sone).all()


class _Held:
    """A stage holding a stream-first buffer whose length changes with each block, as
    a framer's held samples do."""

    _STREAM_STATE = (("held", 0),)
    _STREAM_CHILDREN = ()

    def __init__(self, held):
        self.held = held
        self.clock = 0


def test_held_input_of_sleeping_streams_keeps_its_latest_samples_when_its_length_changes():
    held = np.arange(12.0).reshape(3, 4)  # streams 0, 1, 2; four samples each
    awake = np.array([1])
    for length, want_others in [
        (6, [[2, 3, 0, 1, 2, 3], [10, 11, 8, 9, 10, 11]]),  # longer: older ones repeat
        (2, [[2, 3], [10, 11]]),  # shorter: the latest stay
    ]:
        stage = _Held(held.copy())
        part = take_streams(stage, awake)
        np.testing.assert_array_equal(part.held, held[[1]])
        part.held = np.full((1, length), -1.0)  # the awake stream's new held samples
        part.clock = 7
        put_streams(stage, part, awake)
        assert stage.held.shape == (3, length) and stage.clock == 7
        np.testing.assert_array_equal(stage.held[1], -1.0)
        np.testing.assert_array_equal(stage.held[[0, 2]], want_others)
    # nothing held yet: the sleeping streams hold zeros of the new length
    stage = _Held(np.zeros((3, 0)))
    part = take_streams(stage, awake)
    part.held = np.ones((1, 3))
    put_streams(stage, part, awake)
    np.testing.assert_array_equal(stage.held, [[0, 0, 0], [1, 1, 1], [0, 0, 0]])
