"""Inspect calls: read, analyse, check, and turn each call into its JSON result.

:func:`inspect_calls` is the unit of work a runner sends to a worker process or a Dask
worker: a few calls of similar length, analysed together. It never raises for one bad
call: an unreadable recording becomes an ``{"call_id", "error"}`` result and the other
calls of the batch go on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from capture.audio import AudioError
from emotion.scoring import ModelError, VoiceModel
from qa.analysis import CallAnalysis, CallJob, analyse_loaded, load_call
from qa.checks import Baselines, CheckContext, Flag, run_checks
from qa.config import CHECKS, QAConfig

#: Bump when a check or a call's result changes meaning, so that resumed runs redo every
#: call. 2: the agent's voice summary measures the usual range jointly (summary version
#: 2), and checks compare exactly the numbers their flags carry (an audit found an
#: upgraded run skipping every call, its reports left on the old measure).
QA_VERSION = 2
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "voice_scoring.onnx"


@dataclass(frozen=True)
class Settings:
    """What every worker needs (picklable, sent with each batch)."""

    config: QAConfig
    calibration: str | None = None
    model: str = str(DEFAULT_MODEL)


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def settings_hash(settings: Settings) -> hashlib._Hash:
    """SHA-256 of what, besides the audio and the agent, decides a call's result: the
    check settings, the model, and every baseline a call may be judged against."""
    h = hashlib.sha256(f"qa{QA_VERSION}:{settings.config.digest()}".encode())
    h.update(file_digest(settings.model).encode() if Path(settings.model).exists() else b"-")
    if settings.calibration and Path(settings.calibration).is_dir():
        for file in sorted(Path(settings.calibration).glob("*.json")):
            # the agent's own file, and every file (the population may change)
            h.update(file.name.encode())
            h.update(file_digest(file).encode())
    return h


def settings_digest(settings: Settings, agent_id: str | None,
                    common: hashlib._Hash | None = None) -> str:
    """Hash of what, besides the audio, decides a call's result: :func:`settings_hash`
    (pass it as ``common`` when planning many calls: it reads every baseline file) and
    the agent."""
    h = (settings_hash(settings) if common is None else common).copy()
    h.update(str(agent_id).encode())
    return h.hexdigest()[:32]


def review_score(flags: list[Flag], config: QAConfig) -> float:
    """0-100, higher = review sooner: each flag's points combined (see qa.config)."""
    keep = 1.0
    for flag in flags:
        check = config.checks[flag.check]
        points = check.critical_weight if flag.severity == "critical" else check.weight
        keep *= 1.0 - points / 100.0
    return round(100.0 * (1.0 - keep), 1)


def call_result(analysis: CallAnalysis, flags: list[Flag], metrics: dict, config: QAConfig
                ) -> dict:
    """The JSON document of one call (``OUT/calls/<call_id>.json``)."""
    job = analysis.job
    counts = {c: sum(f.check == c for f in flags) for c in CHECKS}
    # The agent's voice summary feeds their report (the store's voice_summaries), not
    # the review queue: kept beside the metrics so the queue's rows stay small.
    metrics = dict(metrics)
    voice_summary = metrics.pop("voice_summary", None)
    transcript = metrics.pop("transcript", None)
    return {
        "call_id": job.call_id,
        "path": job.path,
        "agent_id": job.agent_id,
        "duration_s": round(analysis.duration_s, 2),
        "score": review_score(flags, config),
        "flags": [f.to_json() for f in flags],
        "metrics": {
            "channels": analysis.n_channels,
            # both channels carry the same audio: judged as one mixed channel
            **({"same_audio_r": analysis.same_audio_r}
               if analysis.same_audio_r is not None else {}),
            "agent_channel": job.agent_channel,
            "sample_rate_hz": analysis.file_fs_hz,
            "analysed_at_hz": analysis.fs_hz,
            **metrics,
            "flag_counts": {c: n for c, n in counts.items() if n},
        },
        "metadata": dict(job.extra),
        "voice_summary": voice_summary,
        "transcript": transcript,
    }


_CONTEXTS: dict[tuple, CheckContext] = {}


def _context(settings: Settings) -> CheckContext:
    """One model session and baseline cache per worker process and settings."""
    key = (settings.model, settings.calibration, settings.config.digest())
    if key not in _CONTEXTS:
        _CONTEXTS.clear()
        _CONTEXTS[key] = CheckContext(settings.config, VoiceModel(settings.model),
                                      Baselines(settings.calibration))
    return _CONTEXTS[key]


def inspect_calls(jobs: list[CallJob], settings: Settings) -> list[dict]:
    """Results of a batch of calls, in the order of ``jobs`` (see the module docstring)."""
    ctx = _context(settings)
    results: dict[int, dict] = {}
    loaded = {}
    for i, job in enumerate(jobs):
        try:
            loaded[i] = load_call(job)
        except (AudioError, OSError, ValueError) as exc:
            results[i] = {"call_id": job.call_id, "path": job.path, "error": str(exc)}
    for rate in sorted({c.fs_hz for c in loaded.values()}):
        members = [i for i in loaded if loaded[i].fs_hz == rate]
        for i, analysis in zip(members, analyse_loaded([loaded[i] for i in members]),
                               strict=True):
            try:
                flags, metrics = run_checks(analysis, ctx)
            except ModelError as exc:
                results[i] = {"call_id": jobs[i].call_id, "path": jobs[i].path,
                              "error": str(exc)}
                continue
            results[i] = call_result(analysis, flags, metrics, settings.config)
    return [results[i] for i in range(len(jobs))]

