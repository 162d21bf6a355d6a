"""The call simulator: voices, styles, turns, episodes and seats deliver what they promise."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from capture.levels import active_speech_level_dbfs
from capture.simulator import (
    ULAW_MAX,
    AgentVoice,
    CallScript,
    Floor,
    Schedule,
    Seat,
    calibration_audio,
    plan_call,
    render_call,
    timbre_pool,
)
from capture.speech_synth import SpeakingStyle
from capture.synth import speech_like
from emotion.prosody.pitch import pitch_track
from emotion.windows import fold_octave_errors

FS_HZ = 8000
FEMALE, MALE = timbre_pool("agent")[0], timbre_pool("agent")[1]
CALLER = timbre_pool("caller")[0]


def level_dbfs(pcm: np.ndarray) -> float:
    return float(active_speech_level_dbfs(pcm / 32768.0, FS_HZ))


def rms_dbfs(pcm: np.ndarray) -> float:
    return float(10 * np.log10(np.mean((pcm / 32768.0) ** 2) + 1e-20))


def f0_median_and_spread(pcm: np.ndarray) -> tuple[float, float]:
    """Median F0 (Hz) and 10–90 % range (semitones, octave errors folded) of voiced frames."""
    frames = pitch_track(pcm / 32768.0, FS_HZ, fmax_hz=500.0)
    f0_st = fold_octave_errors(12 * np.log2(frames.f0_hz[frames.voiced] / 100.0))
    spread_st = float(np.ptp(np.percentile(f0_st, [10, 90])))
    return float(100.0 * 2 ** (np.median(f0_st) / 12)), spread_st


def semitones(a_hz: float, b_hz: float) -> float:
    return float(12 * np.log2(a_hz / b_hz))


def speech_of(call, party: str, style: str) -> np.ndarray:
    channel = 0 if party == "agent" else 1
    spans = [u for u in call.utterances if u.party == party and u.style == style]
    return np.concatenate([call.audio[channel, u.start_sample : u.end_sample] for u in spans])


# --- voices ---------------------------------------------------------------------------------


def test_voices_are_drawn_reproducibly_and_vary_across_a_floor() -> None:
    assert AgentVoice.draw("A1001", seed=3) == AgentVoice.draw("A1001", seed=3)
    voices = [AgentVoice.draw(f"A{1001 + i}") for i in range(300)]
    assert {v.sex for v in voices} == {"female", "male"}
    assert len({(v.timbre, v.shift_st) for v in voices}) >= 60  # of at most 24 × 3
    f0_hz = np.array([v.f0_hz for v in voices])
    assert f0_hz.min() < 110 and f0_hz.max() > 220
    levels = np.array([v.level_dbfs for v in voices])
    assert -32.0 <= levels.min() < -31 and -25 < levels.max() <= -24.0
    assert AgentVoice.draw("A1001", seed=3) != AgentVoice.draw("A1001", seed=4)


@pytest.mark.parametrize("timbre", [FEMALE, MALE], ids=["female", "male"])
def test_calibration_speech_has_the_voice_level_and_pitch(timbre) -> None:
    voice = AgentVoice("A1", timbre, shift_st=1, level_dbfs=-29.0)
    pcm = calibration_audio(voice, 30.0)
    assert pcm.shape == (240000,) and pcm.dtype == np.int16
    assert level_dbfs(pcm) == pytest.approx(-29.0, abs=0.1)
    f0_hz, _ = f0_median_and_spread(pcm)
    assert abs(semitones(f0_hz, voice.f0_hz)) < 0.7
    assert voice.f0_hz == pytest.approx(timbre.f0_hz * 2 ** (1 / 12))
    assert not np.array_equal(pcm, calibration_audio(voice, 30.0, seed=1))


def test_calibration_speech_is_laid_out_like_an_agents_channel_of_a_call() -> None:
    pcm = calibration_audio(AgentVoice("A1", MALE, 0, -27.0), 120.0)
    frames = (pcm[: pcm.size // 160 * 160].reshape(-1, 160) / 32768.0) ** 2
    active = 10 * np.log10(frames.mean(axis=1)) > -50.0  # 20 ms frames
    edges = np.flatnonzero(np.diff(np.r_[True, active, True].astype(np.int8)))
    silences_s = (edges[1::2] - edges[::2]) * 0.02
    assert 0.2 < active.mean() < 0.55
    assert 120 / 20 < np.count_nonzero(silences_s >= 2.0) < 120 / 8  # the other party's turns
    assert silences_s.max() < 14.0


def test_two_agents_calm_voices_differ_as_drawn() -> None:
    a = AgentVoice("A1", FEMALE, 0, -25.0)
    b = AgentVoice("A2", MALE, -1, -31.0)
    pcm_a, pcm_b = calibration_audio(a, 20.0), calibration_audio(b, 20.0)
    assert level_dbfs(pcm_a) - level_dbfs(pcm_b) == pytest.approx(6.0, abs=0.2)
    f0_a, _ = f0_median_and_spread(pcm_a)
    f0_b, _ = f0_median_and_spread(pcm_b)
    assert semitones(f0_a, f0_b) == pytest.approx(semitones(a.f0_hz, b.f0_hz), abs=1.0)
    assert semitones(f0_a, f0_b) > 5.0


def test_a_loud_agents_calm_voice_can_outshout_a_quiet_agents_agitated_one() -> None:
    quiet_timbre = timbre_pool("agent")[3]  # agitated 6.6 dB above its calm
    loud, quiet = AgentVoice("A1", MALE, 0, -24.0), AgentVoice("A2", quiet_timbre, 0, -32.0)
    assert quiet.style_level_dbfs("agitated") < loud.level_dbfs
    assert level_dbfs(calibration_audio(quiet, 10.0, style="agitated")) < level_dbfs(
        calibration_audio(loud, 10.0)
    )


# --- calls ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def call():
    script = CallScript(
        240.0,
        episodes=[(60.0, 120.0, "agitated"), (150.0, 210.0, "low_energy")],
        caller_episodes=[(30.0, 100.0, "agitated")],
        seed=5,
    )
    agent = AgentVoice("A1", FEMALE, 0, -27.0)
    return render_call(script, agent, AgentVoice("C1", CALLER, 0, -28.0)), agent


def test_a_call_has_the_promised_length_and_format(call) -> None:
    rendered, _ = call
    assert rendered.audio.shape == (2, 240 * FS_HZ) and rendered.audio.dtype == np.int16
    assert rendered.utterances[0].start_sample < FS_HZ
    assert 230 * FS_HZ < rendered.utterances[-1].end_sample <= (240 - 0.3) * FS_HZ


def test_turns_alternate_and_the_other_channel_is_quiet(call) -> None:
    rendered, _ = call
    utterances = rendered.utterances
    turns = 1 + sum(a.party != b.party for a, b in itertools.pairwise(utterances))
    assert 20 < turns < 80  # 2–10 s turns with 0.3–1.5 s gaps in 240 s
    for a, b in itertools.pairwise(utterances):
        gap_s = (b.start_sample - a.end_sample) / FS_HZ
        if a.party != b.party:
            assert 0.3 <= gap_s <= 1.5
        else:
            assert 0.15 <= gap_s <= 0.5
    for u in utterances:
        talking = 0 if u.party == "agent" else 1
        span = rendered.audio[:, u.start_sample : u.end_sample]
        assert rms_dbfs(span[talking]) > -45.0
        assert rms_dbfs(span[1 - talking]) == pytest.approx(-60.0, abs=1.5)  # line noise only


def test_episodes_are_where_the_schedule_says(call) -> None:
    rendered, _ = call
    spans = {(e.party, e.style): (e.start_sample, e.end_sample) for e in rendered.episodes}
    assert spans == {
        ("agent", "agitated"): (60 * FS_HZ, 120 * FS_HZ),
        ("agent", "low_energy"): (150 * FS_HZ, 210 * FS_HZ),
        ("caller", "agitated"): (30 * FS_HZ, 100 * FS_HZ),
    }
    for party in ("agent", "caller"):
        for (owner, style), (start, end) in spans.items():
            if owner != party:
                continue
            inside = [u for u in rendered.utterances
                      if u.party == party and start <= u.start_sample < end]
            styled = sum(u.end_sample - u.start_sample for u in inside if u.style == style)
            assert styled / sum(u.end_sample - u.start_sample for u in inside) > 0.6
        for u in rendered.utterances:
            if u.party == party and u.style != "calm":
                start, end = spans[(party, u.style)]
                assert start <= u.start_sample and u.end_sample <= end


def test_styled_utterances_never_leave_their_episode() -> None:
    agent, caller = AgentVoice("A1", FEMALE), AgentVoice("C1", CALLER)
    windows = {"agitated": (40.0, 70.0), "low_energy": (90.0, 110.0)}
    speech_s, styled_s = dict.fromkeys(windows, 0.0), dict.fromkeys(windows, 0.0)
    for seed in range(30):
        script = CallScript(120.0, episodes=[(*span, style) for style, span in windows.items()],
                            seed=seed)
        for u in plan_call(script, agent, caller):
            length_s = (u.end_sample - u.start_sample) / FS_HZ
            if u.style != "calm":
                start_s, end_s = windows[u.style]
                assert start_s * FS_HZ <= u.start_sample and u.end_sample <= end_s * FS_HZ
                styled_s[u.style] += length_s
            for style, (start_s, end_s) in windows.items():
                if u.party == "agent" and start_s * FS_HZ <= u.start_sample < end_s * FS_HZ:
                    speech_s[style] += length_s
    for style in windows:  # a tail too short for any styled utterance is calm
        assert styled_s[style] / speech_s[style] > 0.6


def test_agitated_speech_is_louder_higher_and_livelier_than_the_same_voice_calm(call) -> None:
    rendered, agent = call
    calm, agitated = speech_of(rendered, "agent", "calm"), speech_of(rendered, "agent", "agitated")
    louder_db = level_dbfs(agitated) - level_dbfs(calm)
    assert louder_db == pytest.approx(agent.timbre.agitated_gain_db, abs=0.5)
    assert 6.0 <= agent.timbre.agitated_gain_db <= 10.0
    (f0_calm, spread_calm), (f0_agitated, spread_agitated) = map(f0_median_and_spread,
                                                                  (calm, agitated))
    assert semitones(f0_agitated, f0_calm) == pytest.approx(agent.timbre.agitated_f0_st, abs=1.0)
    assert semitones(f0_agitated, f0_calm) > 2.5
    assert spread_agitated > 1.2 * spread_calm


def test_low_energy_speech_is_quieter_lower_and_flatter(call) -> None:
    rendered, agent = call
    calm, low = speech_of(rendered, "agent", "calm"), speech_of(rendered, "agent", "low_energy")
    assert level_dbfs(low) - level_dbfs(calm) == pytest.approx(
        agent.timbre.low_energy_gain_db, abs=0.5)
    assert -7.0 <= agent.timbre.low_energy_gain_db <= -5.0
    (f0_calm, spread_calm), (f0_low, spread_low) = map(f0_median_and_spread, (calm, low))
    assert semitones(f0_low, f0_calm) < -1.0
    assert spread_low < 0.75 * spread_calm


def test_callers_agitation_is_louder_too(call) -> None:
    rendered, _ = call
    calm = speech_of(rendered, "caller", "calm")
    agitated = speech_of(rendered, "caller", "agitated")
    louder_db = level_dbfs(agitated) - level_dbfs(calm)
    assert louder_db == pytest.approx(CALLER.agitated_gain_db, abs=0.5)


def test_a_call_is_the_same_for_the_same_seed(call) -> None:
    _, agent = call
    caller = AgentVoice("C1", CALLER, 0, -28.0)
    script = CallScript(60.0, seed=5)
    again = render_call(script, agent, caller)
    np.testing.assert_array_equal(again.audio, render_call(script, agent, caller).audio)
    other = render_call(CallScript(60.0, seed=6), agent, caller)
    assert not np.array_equal(other.audio, again.audio)


def test_output_stays_within_the_g711_range_even_when_shouting() -> None:
    loud = AgentVoice("A1", MALE, 1, -24.0)  # agitated at -14 dBFS, peaks 19 dB above it
    script = CallScript(60.0, episodes=[(5.0, 55.0, "agitated")], seed=2)
    audio = render_call(script, loud, AgentVoice("C1", CALLER, 0, -22.0)).audio
    assert np.abs(audio.astype(np.int32)).max() <= ULAW_MAX
    assert np.mean(np.abs(audio[0]) == ULAW_MAX) < 5e-3  # shouting clips a few peaks…
    assert np.abs(audio[0, : 5 * FS_HZ]).max() < ULAW_MAX  # …calm speech none


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: CallScript(60, episodes=[(10, 30, "agitated"), (20, 40, "low_energy")]),
         "overlap"),
        (lambda: CallScript(60, caller_episodes=[(10, 30, "low_energy")]), "caller speaks"),
        (lambda: CallScript(60, episodes=[(10, 70, "agitated")]), "ends after the call"),
        (lambda: CallScript(60, episodes=[(10, 30, "angry")]), "unknown style"),
        (lambda: calibration_audio(AgentVoice("A1", FEMALE), 10.0, 16000), "8000 Hz"),
        (lambda: Schedule(idle_s=(0.0, 5.0)), "idle_s"),
    ],
)
def test_impossible_requests_say_why(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# --- seats and floors -----------------------------------------------------------------------

SHORT_CALLS = Schedule(call_s=(20.0, 30.0), idle_s=(2.0, 4.0), agitation_every_s=15.0,
                       low_energy_every_s=None, caller_agitation_every_s=None, episode_s=8.0)


def test_schedule_draws_episodes_at_the_requested_rate() -> None:
    schedule = Schedule(call_s=(3600.0, 3600.0), agitation_every_s=120.0,
                        low_energy_every_s=None, caller_agitation_every_s=None)
    rng = np.random.default_rng(0)
    counts = [len(schedule.script(rng).episodes) for _ in range(40)]
    # Starts come 30 s (an episode) plus an exponential 120 s apart: 1 per 150 s of call.
    assert np.mean(counts) == pytest.approx(3600 / 150, rel=0.08)


def test_low_energy_episodes_last_minutes_and_agitated_ones_seconds() -> None:
    # A tired voice is a state of minutes: the live low-energy alert asks for 25 of 30 s
    # of the agent's speech windows, which a 30 s episode (8-15 s of the agent's speech
    # between the caller's turns) never gave.
    schedule = Schedule(call_s=(3600.0, 3600.0), agitation_every_s=300.0,
                        low_energy_every_s=300.0, caller_agitation_every_s=300.0)
    rng = np.random.default_rng(1)
    scripts = [schedule.script(rng) for _ in range(5)]
    lengths: dict = {}
    for script in scripts:
        for party, episodes in (("agent", script.episodes), ("caller", script.caller_episodes)):
            for e in episodes:  # (an episode is shortened to end 2 s before the call)
                if e.end_s < script.duration_s - 2.0:
                    lengths.setdefault((party, e.style), set()).add(
                        round(e.end_s - e.start_s, 6))
    assert lengths[("agent", "low_energy")] == {120.0}
    assert lengths[("agent", "agitated")] == {30.0}
    assert lengths[("caller", "agitated")] == {30.0}
    with pytest.raises(ValueError, match="low_energy_episode_s"):
        Schedule(low_energy_episode_s=0.0)


def test_a_seat_streams_calls_and_tells_the_truth_about_them() -> None:
    seat = Seat("S1", "A1", AgentVoice("A1", MALE, 0, -27.0), seed=4, schedule=SHORT_CALLS,
                n_caller_timbres=2)
    step = FS_HZ // 4
    audio, truth = [], []
    for _ in range(4 * 100):
        audio.append(seat.read(step))
        truth.append((seat.position - 1, seat.call_id, seat.active_style))
    audio = np.concatenate(audio, axis=1)
    calls = seat.calls
    assert [c.call_id for c in calls] == [f"S1-{k:05d}" for k in range(1, len(calls) + 1)]
    assert len(calls) >= 3
    for sample, call_id, style in truth:
        call = next((c for c in calls if c.start_sample <= sample < c.end_sample), None)
        assert call_id == (None if call is None else call.call_id)
        expected = next((e.style for e in seat.episodes
                         if e.party == "agent" and e.start_sample <= sample < e.end_sample), "calm")
        assert style == expected
    assert any(style == "agitated" for _, _, style in truth)
    for before, after in itertools.pairwise(calls):  # idle between calls: line noise only
        idle = audio[:, before.end_sample : after.start_sample]
        assert 2 * FS_HZ <= idle.shape[1] <= 4 * FS_HZ + 1
        assert max(rms_dbfs(idle[0]), rms_dbfs(idle[1])) < -58.0
    for call in calls[:-1]:
        for u in call.utterances:  # the seat plays exactly the planned utterances
            channel = 0 if u.party == "agent" else 1
            span = audio[:, call.start_sample + u.start_sample : call.start_sample + u.end_sample]
            assert rms_dbfs(span[channel]) > -45.0 and rms_dbfs(span[1 - channel]) < -58.0


def test_a_seat_forgets_old_calls_but_keeps_counting() -> None:
    seat = Seat("S9", "A9", AgentVoice("A9", FEMALE), seed=1, schedule=SHORT_CALLS,
                n_caller_timbres=2, keep_calls=2)
    seat.read(300 * FS_HZ)  # about 10 calls
    ids = [c.call_id for c in seat.calls]
    assert len(ids) in (2, 3) and int(ids[-1].split("-")[1]) >= 9
    assert seat.call_at(FS_HZ) is None  # long gone


def test_floor_reads_in_chunks_give_the_same_samples_as_one_read() -> None:
    def floor(seed: int, block_s: float = 0.5) -> Floor:
        return Floor(3, seed=seed, call_s=(20.0, 30.0), idle_s=(2.0, 4.0),
                     agitation_every_s=20.0, n_timbres=2, n_caller_timbres=2, workers=1,
                     block_s=block_s)

    first = floor(1)
    whole = first.read(60 * FS_HZ)
    assert whole.shape == (3, 2, 60 * FS_HZ) and whole.dtype == np.int16
    chunked, rng, parts, done = floor(1), np.random.default_rng(0), [], 0
    while done < whole.shape[-1]:
        n = int(min(rng.integers(0, 9000), whole.shape[-1] - done))
        parts.append(chunked.read(n))
        done += n
    np.testing.assert_array_equal(np.concatenate(parts, axis=-1), whole)
    np.testing.assert_array_equal(floor(1, block_s=0.1131).read(60 * FS_HZ), whole)
    assert chunked[2].position == 60 * FS_HZ
    assert [s.calls for s in chunked.seats] == [s.calls for s in first.seats]
    assert sum(len(s.calls) for s in first.seats) >= 6
    assert not np.array_equal(floor(2).read(FS_HZ * 30), whole[..., : FS_HZ * 30])


def test_a_floors_seat_plays_what_the_same_seat_alone_would() -> None:
    floor = Floor(2, seed=7, agent_ids=["A7", "A8"], call_s=(20.0, 30.0), idle_s=(2.0, 4.0),
                  n_timbres=2, n_caller_timbres=2, workers=1)
    alone = Seat("S002", "A8", AgentVoice.draw("A8", seed=7, n_timbres=2), seed=7,
                 schedule=floor[1].schedule, n_caller_timbres=2)
    np.testing.assert_array_equal(floor.read(40 * FS_HZ)[1], alone.read(40 * FS_HZ))
    assert floor[1].calls == alone.calls
    with pytest.raises(RuntimeError, match="read the Floor"):
        floor[0].read(10)


# --- the voice source's parameters the simulator relies on (capture.speech_synth) ------------


def test_speaking_style_defaults_are_the_calm_voice_and_parameters_act() -> None:
    calm = speech_like(20.0, 8000, seed=1)
    np.testing.assert_array_equal(speech_like(20.0, 8000, seed=1, style=SpeakingStyle()), calm)
    with pytest.raises(ValueError, match="not both"):
        speech_like(1.0, 8000, agitated=True, style=SpeakingStyle())
    with pytest.raises(ValueError, match="formant_scale"):
        speech_like(1.0, 8000, formant_scale=1.5)
    pcm = {r: np.round(speech_like(20.0, 8000, seed=1, style=SpeakingStyle(accent_st=r, f0_range=r))
                       * 32768) for r in (0.3, 2.0)}
    (f0_flat, spread_flat), (f0_lively, spread_lively) = (f0_median_and_spread(pcm[r])
                                                          for r in (0.3, 2.0))
    assert abs(semitones(f0_flat, f0_lively)) < 1.0
    assert spread_lively > 4 * spread_flat

    def centroid_hz(x: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(x)) ** 2
        freq_hz = np.fft.rfftfreq(x.size, 1 / 16000)
        return float((power * freq_hz)[freq_hz < 5000].sum() / power[freq_hz < 5000].sum())

    wide = speech_like(20.0, 16000, seed=1)
    assert centroid_hz(speech_like(20.0, 16000, seed=1, formant_scale=1.1)) / centroid_hz(
        wide) == pytest.approx(1.1, abs=0.06)
