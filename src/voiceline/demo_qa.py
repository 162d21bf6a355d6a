"""The demo's recorded calls: a few simulated recordings, pre-inspected into the store.

``voiceline demo`` runs this beside the live seats (``python -m voiceline.demo_qa``), so
that the QA review pages have a queue to show: seven calls of the demo's agents, each
with one kind of event (an agitated agent, dead air, an agitated caller, a clipped turn,
a low-energy stretch, a caller held 75 s with music, or none), and a transcript beside
each. The voices are synthetic
(source-filter speech, not words), so the transcripts are written for them: a greeting,
a closing, and, where the call needs one, a forbidden phrase or a missing greeting or
closing. Then ``voiceline qa`` inspects them exactly as it inspects real recordings,
into the demo's store.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

FS_HZ = 8000
GREETING = "您好，12345市民服务热线，请讲。"
CLOSING = "感谢您的来电，再见。"
AGENT_LINES = ("好的，我帮您查一下。", "请问具体地址是哪里？", "这个情况我们会转给相关部门处理。",
               "您还有其他问题吗？", "请您稍等。", "处理结果会在三个工作日内回复您。")
CALLER_LINES = ("我家楼下的路灯坏了好几天了。", "在长宁路三百号附近。", "晚上走路很不安全。",
                "你们到底管不管？", "好的，谢谢。", "那我等你们的消息。")
FORBIDDEN = "这个不归我们管，你自己去查吧。"


@dataclass(frozen=True)
class DemoCall:
    """One demo recording: who, how long, the event in it, and what the transcript lacks."""

    call_id: str
    agent: int  # index into the demo's agents
    duration_s: float
    episodes: tuple = ()
    caller_episodes: tuple = ()
    fault: str | None = None  # "dead_air", "hold" or "clipping"
    said: str = "ok"  # "ok", "forbidden", "no_greeting", "no_closing"


CALLS = (
    DemoCall("demo-0001", 0, 120.0, episodes=((50.0, 85.0, "agitated"),), said="forbidden"),
    DemoCall("demo-0002", 1, 90.0, fault="dead_air", said="no_closing"),
    DemoCall("demo-0003", 2, 100.0, caller_episodes=((20.0, 55.0, "agitated"),)),
    DemoCall("demo-0004", 0, 90.0, fault="clipping", said="no_greeting"),
    DemoCall("demo-0005", 1, 100.0, episodes=((30.0, 80.0, "low_energy"),)),
    DemoCall("demo-0006", 2, 80.0),
    DemoCall("demo-0007", 2, 80.0, fault="hold"),
)
DEAD_AIR_AT_S, DEAD_AIR_S = 40.0, 12.0
HOLD_S = 75.0


def _transcript(call: DemoCall, utterances, shift) -> dict:
    """Segments for the rendered utterances (``shift(sample)`` → s in the recording)."""
    agent = [u for u in utterances if u.party == "agent"]
    segments = []
    forbidden_said = call.said != "forbidden"  # said once, in the agitated stretch
    for k, u in enumerate(utterances):
        start, end = shift(u.start_sample), shift(u.end_sample)
        if u.party == "caller":
            text = CALLER_LINES[k % len(CALLER_LINES)]
        elif u is agent[0]:
            text = "喂，请讲。" if call.said == "no_greeting" else GREETING
        elif u is agent[-1]:
            text = "好的。" if call.said == "no_closing" else CLOSING
        elif not forbidden_said and u.style == "agitated":
            text, forbidden_said = FORBIDDEN, True
        else:
            text = AGENT_LINES[k % len(AGENT_LINES)]
        segments.append({"start_s": round(start, 2), "end_s": round(end, 2),
                         "speaker": u.party, "text": text})
    return {"segments": segments}


def write_recordings(folder: Path, agents: list[str], seed: int, now_s: float) -> Path:
    """The demo calls as stereo 8 kHz WAVs with transcripts; returns the metadata CSV."""
    from capture.simulator import AgentVoice, CallScript, render_call, timbre_pool
    from capture.synth import hold_music
    from capture.telephone import telephone_channel

    folder.mkdir(parents=True, exist_ok=True)
    callers = timbre_pool("caller")
    rng = np.random.default_rng(seed)
    rows = []
    for n, call in enumerate(CALLS):
        agent = agents[call.agent % len(agents)]
        voice = AgentVoice.draw(agent, seed=seed)
        caller = AgentVoice(f"caller-timbre-{n}", callers[n % len(callers)])
        rendered = render_call(CallScript(call.duration_s, episodes=call.episodes,
                                          caller_episodes=call.caller_episodes,
                                          seed=seed * 100 + n), voice, caller)
        audio = rendered.audio.copy()
        at = int(DEAD_AIR_AT_S * FS_HZ)
        gap = int({"dead_air": DEAD_AIR_S, "hold": HOLD_S}.get(call.fault, 0.0) * FS_HZ)
        if call.fault == "hold":  # after an agent turn: music to the caller, no one speaks
            at = next(u.end_sample for u in rendered.utterances if u.party == "agent"
                      and u.end_sample > at) + FS_HZ // 4
        if gap:  # both lines fall silent but for their noise (and the hold's music)
            hiss = rng.normal(0, 30, (2, gap))
            if call.fault == "hold":
                hiss[0] += 32768 * telephone_channel(
                    hold_music(gap / FS_HZ, 16000, seed=seed, level_dbfs=-24.0), 16000)[:gap]
            audio = np.concatenate([audio[:, :at], np.clip(hiss, -32768, 32767).astype(
                np.int16), audio[:, at:]], axis=1)
        if call.fault == "clipping":  # one agent turn driven into the line's limit
            u = next(u for u in rendered.utterances if u.party == "agent"
                     and u.start_sample > 30 * FS_HZ)
            turn = audio[0, u.start_sample:u.end_sample].astype(np.int32) * 8
            audio[0, u.start_sample:u.end_sample] = np.clip(turn, -32124, 32124)

        def shift(sample: int, at=at, gap=gap) -> float:
            return (sample + (gap if sample >= at else 0)) / FS_HZ

        sf.write(folder / f"{call.call_id}.wav", audio.T, FS_HZ, subtype="PCM_16")
        (folder / f"{call.call_id}.transcript.json").write_text(
            json.dumps(_transcript(call, rendered.utterances, shift), ensure_ascii=False,
                       indent=1), encoding="utf-8")
        started = now_s - (len(CALLS) - n) * 3 * 3600  # the last day, every three hours
        rows.append([call.call_id, f"{call.call_id}.wav", agent,
                     time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started))])
    metadata = folder / "calls.csv"
    with metadata.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["call_id", "path", "agent_id", "started_at"])
        writer.writerows(rows)
    return metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write and pre-inspect the demo's recordings.")
    parser.add_argument("--data", required=True, help="the demo's data directory")
    parser.add_argument("--agents", required=True, help="comma-separated agent ids")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from voiceline.server.config import BASELINES_DIR

    data = Path(args.data)
    try:
        metadata = write_recordings(data / "recordings", args.agents.split(","), args.seed,
                                    time.time())
        return subprocess.call(
            [sys.executable, "-m", "voiceline", "qa", str(data / "recordings"), "--metadata",
             str(metadata), "--calibration", str(data / BASELINES_DIR), "--out",
             str(data / "qa-out"), "--data", str(data), "--workers", "1", "--no-progress"],
            stdout=subprocess.DEVNULL)
    except KeyboardInterrupt:  # the demo stopped before the recordings were done
        return 130


if __name__ == "__main__":
    sys.exit(main())
