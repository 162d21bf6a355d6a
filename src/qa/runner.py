"""Run the pre-inspection over many calls: batches, workers, resume, and results as they come.

The runner plans (which calls are already done with the same audio and settings — their
result's ``fingerprint`` matches — and are skipped), groups the rest into batches of
similar length (analysed together, see :mod:`qa.analysis`), and hands the batches to a
process pool (default) or a Dask cluster (``engine="dask"``). Results come back
through ``on_result`` in the order they finish; a batch whose worker fails is retried
call by call, so one bad recording costs only its own result.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from capture.audio import AudioError, audio_info
from qa.analysis import BATCH_CALLS, CallJob
from qa.inspect import Settings, file_digest, inspect_calls, settings_digest, settings_hash

#: Audio per batch at most (s of call time), so a worker's memory stays bounded:
#: 16 one-hour channels at 8 kHz in float32 are ~0.9 GB.
BATCH_AUDIO_S = 4 * 3600.0
ENGINES = ("process", "dask")


@dataclass
class Planned:
    """A call to inspect, with what decides whether it is already done."""

    job: CallJob
    duration_s: float
    fingerprint: str


@dataclass
class RunSummary:
    """What a run did; ``errors`` maps call ids to the reason."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    audio_s: float = 0.0


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def fingerprint(job: CallJob, settings: Settings, common=None) -> str:
    """Same audio bytes (and transcript) + same settings, model and baselines = same result.

    ``common`` is :func:`qa.inspect.settings_hash` of ``settings``, computed once when
    many calls are planned."""
    audio = file_digest(job.path)[:32]
    if job.transcript is not None:  # the transcript's words decide its checks
        try:
            audio += "+" + file_digest(job.transcript)[:16]
        except OSError:
            audio += "+missing"
    return f"{audio}-{settings_digest(settings, job.agent_id, common)}"


def plan(jobs: Iterable[CallJob], settings: Settings, done: Callable[[str], str | None]
         ) -> tuple[list[Planned], list[str], dict[str, str]]:
    """Split jobs into (to do, already done, unreadable).

    ``done(call_id)`` gives the fingerprint of an existing result, or None.
    """
    todo, skipped, errors = [], [], {}
    common = None
    for job in jobs:
        try:
            info = audio_info(job.path)  # the reasons the reader gives ("empty", "MP3" ...)
            duration = info.frames / info.samplerate
            common = settings_hash(settings) if common is None else common
            mark = fingerprint(job, settings, common)
        except AudioError as exc:
            errors[job.call_id] = str(exc)
            continue
        except (OSError, RuntimeError, sf.LibsndfileError) as exc:
            errors[job.call_id] = f"{job.path}: cannot read the recording ({exc})"
            continue
        if done(job.call_id) == mark:
            skipped.append(job.call_id)
        else:
            todo.append(Planned(job, duration, mark))
    return todo, skipped, errors


def batches(planned: list[Planned], workers: int, max_calls: int = BATCH_CALLS,
            max_audio_s: float = BATCH_AUDIO_S) -> list[list[Planned]]:
    """Calls of similar length together; at most ``max_calls`` and ``max_audio_s`` per
    batch, and small enough that every worker gets a share."""
    if not planned:
        return []
    ordered = sorted(planned, key=lambda p: p.duration_s)
    per_worker = -(-len(ordered) // max(workers, 1))
    size = max(1, min(max_calls, per_worker))
    out: list[list[Planned]] = []
    for p in ordered:
        if (out and len(out[-1]) < size
                and sum(q.duration_s for q in out[-1]) + p.duration_s <= max_audio_s):
            out[-1].append(p)
        else:
            out.append([p])
    return out


def _work(jobs: list[CallJob], settings: Settings) -> list[dict]:
    return inspect_calls(jobs, settings)


def run(planned: list[Planned], settings: Settings, on_result: Callable[[dict], None], *,
        workers: int | None = None, engine: str = "process", scheduler: str | None = None
        ) -> None:
    """Inspect ``planned`` calls; each result (with its ``fingerprint``) goes to
    ``on_result`` as soon as its batch is done."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    workers = workers or default_workers()
    groups = batches(planned, workers)
    if not groups:
        return
    marks = {p.job.call_id: p.fingerprint for p in planned}

    def deliver(results: list[dict]) -> None:
        for result in results:
            if "error" not in result:
                result["fingerprint"] = marks[result["call_id"]]
            on_result(result)

    if engine == "dask":
        _run_dask(groups, settings, deliver, scheduler)
    elif workers == 1:
        for group in groups:
            deliver(_guarded([p.job for p in group], settings, _work))
    else:
        _run_pool(groups, settings, deliver, workers)


def _guarded(jobs: list[CallJob], settings: Settings, call) -> list[dict]:
    """Run a batch in this process; if it fails as a whole, call by call."""
    try:
        return call(jobs, settings)
    except Exception as exc:  # a bug or resource failure: isolate the call that has it
        if len(jobs) == 1:
            return [{"call_id": jobs[0].call_id, "path": jobs[0].path,
                     "error": f"inspection failed: {type(exc).__name__}: {exc}"}]
        return [r for job in jobs for r in _guarded([job], settings, call)]


def _run_pool(groups, settings: Settings, deliver, workers: int) -> None:
    pool = cf.ProcessPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(_work, [p.job for p in g], settings): g for g in groups}
        for future in cf.as_completed(futures):
            group = futures[future]
            try:
                deliver(future.result())
            except Exception:  # the batch failed in its worker: redo it here, call by call
                deliver([r for p in group for r in _guarded([p.job], settings, _work)])
    except KeyboardInterrupt:  # Ctrl-C: drop the batches not started, wait for none
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _run_dask(groups, settings: Settings, deliver, scheduler: str | None) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("--engine dask needs Dask's distributed scheduler: "
                           "pip install 'voiceline[dask]'") from None
    if not scheduler:
        raise ValueError("--engine dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    with Client(scheduler) as client:
        futures = [client.submit(_work, [p.job for p in g], settings, pure=False)
                   for g in groups]
        index = {f.key: g for f, g in zip(futures, groups, strict=True)}
        for future in as_completed(futures):
            try:
                deliver(future.result())
            except Exception:
                group = index[future.key]
                deliver([r for p in group for r in _guarded([p.job], settings, _work)])


def read_result_fingerprint(path: Path) -> str | None:
    """The fingerprint stored in an existing result file, if it is a readable one."""
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None  # not one of ours: the call is done again
