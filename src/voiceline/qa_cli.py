"""``voiceline qa``: pre-inspect every recording, write per-call results, fill the review queue.

Reads a directory (recursively) or files, optionally a metadata CSV
(``call_id,path,agent_id[,transcript]``, paths relative to the CSV, extra columns kept;
a transcript may also sit beside its recording, see :mod:`qa.transcript`), runs every
check (:mod:`qa.checks`) on a process pool or a Dask cluster, and writes
``OUT/calls/<call_id>.json``, ``OUT/summary.csv`` and the store of ``--data`` (the one
``voiceline serve`` reads, so the QA pages show the queue). Calls already done with the
same audio and settings are skipped; unreadable recordings are listed in the summary
with the reason, and the batch goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from voiceline.cli import open_private, private_dir
from voiceline.spreadsheet import SafeDictWriter, csv_rows

AUDIO_SUFFIXES = (".wav", ".flac")
SUMMARY_COLUMNS = ("call_id", "path", "agent_id", "duration_s", "score", "flags", "checks",
                   "status", "error")
_UNSAFE = re.compile(r"[^\w.-]")
#: Longest result file name kept readable, in UTF-8 bytes (file systems allow 255).
MAX_NAME_BYTES = 150
#: Metadata columns read as the recording's start time (ISO 8601 or unix seconds).
TIME_COLUMNS = ("started_at", "start_time", "date", "recorded_at")
#: Most worker processes ``--workers`` may ask for: each holds a model and a batch of
#: calls; beyond a few per core they only contend.
MAX_WORKERS = 4 * (os.cpu_count() or 1)
#: Joins a call id and what tells two errors of it apart (a metadata line, a file) in the
#: keys of a run's errors: NUL, which no call id may hold ("@" may: "1002@pbx-a").
ERROR_KEY_MARK = "\x00"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "qa", help="pre-inspect recordings: flags, scores, the QA review queue",
        description="Pre-inspect every recording: per-call flags and a review score, "
        "OUT/calls/<call_id>.json, OUT/summary.csv and the QA review queue in the store. "
        "Checks: dead_air, slow_response, overtalk, "
        "agent_agitation, caller_agitation, fast_speech, agent_low_energy, clipping, "
        "low_level, one_way_audio, long_call, long_hold, and where a transcript sits beside "
        "a recording (<name>.transcript.json "
        "or <name>.vtt, or the metadata's transcript column): forbidden_phrase, "
        "missing_greeting, missing_closing (thresholds and phrases: --config).")
    p.add_argument("input", nargs="+", metavar="INPUT",
                   help="a directory (searched recursively for .wav/.flac) or files")
    p.add_argument("--metadata", default=None, metavar="CSV",
                   help="columns call_id,path,agent_id[,transcript] (paths relative to "
                        "the CSV); without it call_id = file name without extension, agent "
                        "unknown")
    p.add_argument("--calibration", default=None, metavar="DIR",
                   help="agent baselines (default DATA/baselines if it exists); agents "
                        "without one are judged against the population of DIR")
    p.add_argument("--out", default="qa-out", metavar="OUT",
                   help="output directory (default ./qa-out)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: all cores)")
    p.add_argument("--agent-channel", type=int, default=0, choices=(0, 1),
                   help="the agent's channel in stereo files (default 0)")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="TOML thresholds per check (see README: Pre-inspection)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="data directory whose store receives the results "
                        "(default ./voiceline-data)")
    p.add_argument("--no-store", action="store_true",
                   help="write OUT only, not the store")
    p.add_argument("--engine", choices=("process", "dask"), default="process",
                   help="run on local worker processes (default) or a Dask cluster")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="with --engine dask: the scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--model", default=None, help="scoring model (default: the shipped one)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_qa)


def _audio_files(inputs: list[str]) -> list[Path]:
    from voiceline.cli import UserError

    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*")
                            if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        elif path.exists():
            files.append(path)
        else:
            raise UserError(f"{item}: no such file or directory")
    return [f.resolve() for f in files]


def _recorded_s(row: dict) -> float | None:
    """The recording's start time from the first time column given, or None; a value
    that is no time from 1970 to 2200 is a ``ValueError`` naming the column (it once
    passed silently, or as milliseconds broke every later export)."""
    from voiceline.store import values

    for key in TIME_COLUMNS:
        text = (row.get(key) or "").strip()
        if not text:
            continue
        try:
            seconds = float(text)
        except ValueError:
            try:
                seconds = datetime.fromisoformat(text).timestamp()
            except (ValueError, OverflowError, OSError):
                raise ValueError(f"{key} {text[:40]!r} is not a time; write ISO 8601 "
                                 "(2026-11-20T09:30:00) or unix seconds") from None
        return values.recording_time_s(seconds, key)
    return None


@dataclass
class Metadata:
    """Metadata rows by resolved recording path, and the rows that could not be used
    (``line N`` or the call id → why), which the summary lists."""

    rows: dict[Path, dict]
    problems: dict[str, str]


def read_metadata(path: Path) -> Metadata:
    """Metadata rows by resolved recording path (see :class:`Metadata`)."""
    from voiceline.cli import UserError

    try:
        reader = csv_rows(path, partial(print, file=sys.stderr))
        missing = {"call_id", "path"} - set(reader.fieldnames or ())
        if missing:
            raise UserError(f"{path}: metadata needs columns call_id,path[,agent_id] "
                            f"(missing {', '.join(sorted(missing))})")
        rows = list(reader)
    except OSError as exc:
        raise UserError(f"cannot read metadata {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is neither UTF-8 nor GB18030 text; save it as CSV UTF-8"
                        ) from None
    except csv.Error as exc:
        raise UserError(f"{path} is not a readable CSV: {exc}") from None
    out: dict[Path, dict] = {}
    problems: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        rel = (row.get("path") or "").strip()
        if not rel:
            problems[f"line {line}"] = f"{path}, line {line}: the row names no recording"
            continue
        if row.pop(None, None) is not None:  # csv puts cells past the header under None
            problems[f"line {line}"] = (f"{path}, line {line}: more cells than the header has "
                                        "columns (a comma in a path or a name? quote the cell)")
            continue
        file = (path.parent / rel).resolve()
        row["call_id"] = (row.get("call_id") or "").strip() or file.stem  # as without metadata
        if file in out:
            problems[row["call_id"] + f"{ERROR_KEY_MARK}line {line}"] = (
                f"{path}, line {line}: {rel} is already the recording of call "
                f"{out[file]['call_id']} (line {out[file]['_line']}); one row per recording")
            continue
        transcript = (row.get("transcript") or "").strip()
        row["transcript"] = str((path.parent / transcript).resolve()) if transcript else None
        row["_line"] = line
        out[file] = row
    return Metadata(out, problems)


def build_jobs(files: list[Path], metadata: Metadata | None, agent_channel: int,
               roots: list[Path], known: dict[str, str] | None = None):
    """Jobs for the files, and errors (call id → reason) for rows that cannot run.

    ``known``: the call id each recording (by path) was inspected under before, which a
    file without metadata keeps (:meth:`Store.qa_call_ids_of`)."""
    from emotion.baseline import check_agent_id
    from qa.analysis import CallJob
    from qa.transcript import beside

    jobs, errors, recorded = [], dict(metadata.problems) if metadata else {}, {}
    rows = metadata.rows if metadata else {}
    derived = _derived_ids([f for f in files if f not in rows], roots,
                           {row["call_id"] for row in rows.values()}, known or {})
    seen: dict[str, Path] = {}
    for f in files:
        row = rows.get(f)
        transcript = beside(f)
        if row is not None:
            call_id = row["call_id"]
            agent = (row.get("agent_id") or "").strip() or None
            extra = {k: v for k, v in row.items() if k is not None and k not in (
                "call_id", "path", "agent_id", "transcript", "_line")}
            transcript = row.get("transcript") or transcript
        else:
            call_id = derived[f]
            agent, extra = None, {}
        if call_id in seen:
            errors[call_id + ERROR_KEY_MARK + f.name] = (
                f"{f}: call id {call_id} is already used by {seen[call_id]}; call ids must be "
                "unique")
            continue
        try:
            if agent is not None:  # the rule of calibrate and live calls
                check_agent_id(agent)
            recorded_s = _recorded_s(row) if row is not None else None
        except ValueError as exc:
            errors[call_id] = f"{f}: {exc}"
            continue
        seen[call_id] = f
        jobs.append(CallJob(call_id, str(f), agent, agent_channel, extra,
                            None if transcript is None else str(transcript)))
        if row is not None:
            recorded[call_id] = recorded_s
    present = set(files)
    for path, row in rows.items():
        if path not in present and not path.exists():
            errors[row["call_id"]] = f"{path}: the metadata names a missing file"
    return jobs, errors, recorded


def _derived_ids(files: list[Path], roots: list[Path], taken: set[str],
                 known: dict[str, str]) -> dict[Path, str]:
    """Call ids of recordings without metadata.

    A recording inspected before keeps the id it had (``known``, by path), unless a
    metadata call id (``taken``) now names it. Others: the file name without its
    extension; where names repeat, or the name is already a kept id, the path under its
    input folder (``sub_x``); where that repeats too (``x.wav`` in two input folders),
    or is another file's own name, a kept id or a metadata call id, as many parent
    folders as tell them apart. So a file's id does not depend on which other files a
    batch holds: ``day1/0001.wav`` inspected alone as ``0001`` stays ``0001`` when a later
    batch holds ``day2/0001.wav`` too (that one becomes ``day2_0001``); before, the two
    batches gave the same recording two ids, and the queue showed it twice.
    """
    ids: dict[Path, str] = {}
    kept: set[str] = set()
    for f in files:
        before = known.get(str(f))
        if before and before not in taken and before not in kept:
            ids[f] = before
            kept.add(before)
    stems: dict[str, list[Path]] = {}
    for f in files:
        if f not in ids:
            stems.setdefault(f.stem, []).append(f)
    own = {stem for stem, group in stems.items() if len(group) == 1 and stem not in kept}
    for stem, group in stems.items():
        if len(group) == 1 and stem not in kept:
            ids[group[0]] = stem
            continue
        others = taken | own | kept
        named = {f: _relative_id(f, roots) for f in group}
        depth = 1
        while ((len(set(named.values())) < len(group) or others & set(named.values()))
               and depth < max(len(f.parts) for f in group)):
            depth += 1
            named = {f: "_".join(f.with_suffix("").parts[-depth:]) for f in group}
        ids.update(named)
    return ids


def _relative_id(f: Path, roots: list[Path]) -> str:
    for root in roots:
        try:
            return str(f.with_suffix("").relative_to(root)).replace(os.sep, "_")
        except ValueError:
            continue
    return f.stem


def result_file(out: Path, call_id: str) -> Path:
    """``OUT/calls/<call_id>.json``. A call id that is not a plain file name (``a/b``,
    or over :data:`MAX_NAME_BYTES`) is cut and made safe, and gets a digest of the whole
    id, so that two calls never share a file (``a/b`` and ``a_b`` once did: the second
    run took one's result for the other's)."""
    name = _UNSAFE.sub("_", call_id)
    if name != call_id or len(name.encode("utf-8")) > MAX_NAME_BYTES or name in (".", ".."):
        digest = hashlib.sha256(call_id.encode("utf-8", "backslashreplace")).hexdigest()[:12]
        cut = name.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore")
        name = f"{cut}~{digest}"
    return out / "calls" / (name + ".json")


def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    try:
        with open_private(tmp) as fh:
            fh.write(json.dumps(doc, ensure_ascii=False, indent=1))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


class _Progress:
    """Hours of audio done and the time left, on stderr (tqdm)."""

    def __init__(self, total_s: float, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=round(total_s / 3600, 3), unit="h audio", disable=not enabled,
                        file=sys.stderr, dynamic_ncols=True,
                        bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} h audio "
                                   "[{elapsed}<{remaining}, {rate_fmt}]")

    def add(self, seconds: float) -> None:
        self.bar.update(round(seconds / 3600, 3))

    def close(self) -> None:
        self.bar.close()


def run_qa(args: argparse.Namespace) -> int:
    from emotion.scoring import VoiceModel
    from qa.config import QAConfig, QAConfigError
    from qa.inspect import DEFAULT_MODEL, Settings
    from qa.runner import default_workers, plan, read_result_fingerprint, run
    from voiceline.cli import UserError
    from voiceline.store.errors import InvalidInputError

    try:
        config = QAConfig.load(args.config)
    except QAConfigError as exc:
        raise UserError(str(exc)) from None
    if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
        raise UserError(f"--workers must be from 1 to {MAX_WORKERS} (this machine has "
                        f"{os.cpu_count()} cores)")
    if args.engine == "dask" and not args.scheduler:
        raise UserError("--engine dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    data = Path(args.data) if args.data else Path("voiceline-data")
    calibration = args.calibration
    if calibration is None and (data / "baselines").is_dir():
        calibration = str(data / "baselines")
    if calibration is not None and not Path(calibration).is_dir():
        raise UserError(f"--calibration {calibration}: no such directory")
    model = args.model or str(DEFAULT_MODEL)
    VoiceModel(model)  # a missing or damaged model: one line now, not an error per call
    settings = Settings(config, calibration, model)
    files = _audio_files(args.input)
    metadata = read_metadata(Path(args.metadata)) if args.metadata else None
    roots = [Path(i).resolve() for i in args.input if Path(i).is_dir()]
    store = None
    if files and not args.no_store:
        from voiceline.server.cli import open_store

        store = open_store(data)
    given = (store.qa_call_ids_of([str(f) for f in files if metadata is None
                                   or f not in metadata.rows])
             if store is not None else {})
    twice = {path: ids for path, ids in given.items() if len(ids) > 1}
    if twice:
        print(f"voiceline qa: {len(twice)} recording(s) are in the store under more than one "
              f"call id (an earlier release named them by what else their batch held: "
              + "; ".join(f"{' = '.join(ids)}" for ids in list(twice.values())[:5])
              + ("; ..." if len(twice) > 5 else "")
              + "); this run keeps the first of each, and the review queue shows the others "
              "until reviewers dismiss their flags", file=sys.stderr)
    known = {path: ids[0] for path, ids in given.items()}
    jobs, errors, recorded = build_jobs(files, metadata, args.agent_channel, roots, known)
    if not jobs and not errors:
        raise UserError(f"no .wav or .flac recordings in {' '.join(args.input)}")
    out = Path(args.out)
    private_dir(out)
    private_dir(out / "calls")
    todo, skipped, unreadable = plan(
        jobs, settings, lambda cid: read_result_fingerprint(result_file(out, cid)))
    not_taken = len(errors)  # metadata rows and files refused before reading any audio
    errors.update(unreadable)
    unstored: dict[str, str] = {}
    paths = {job.call_id: job.path for job in jobs}
    for call_id, reason in unreadable.items() if store is not None else ():
        try:  # in the store's list of recordings that failed, as those failing later are
            store.save_qa_error(call_id, paths[call_id], reason)
        except InvalidInputError as exc:
            _not_stored(unstored, call_id, f"not inspected, and not recorded in the store: "
                        f"{exc}")
    total_s = sum(p.duration_s for p in todo)
    print(f"voiceline qa: {len(jobs)} recordings: {len(todo)} to inspect "
          f"({total_s / 3600:.2f} h of audio), {len(skipped)} already done, "
          f"{len(unreadable)} unreadable"
          + (f"; {not_taken} not taken (metadata rows, call ids, agent ids or times: see "
             "summary.csv)" if not_taken else ""), file=sys.stderr)
    progress = _Progress(total_s, enabled=not args.no_progress and total_s > 0)
    durations = {p.job.call_id: p.duration_s for p in todo}
    results: dict[str, dict] = {}
    started = time.monotonic()

    def on_result(result: dict) -> None:
        call_id = result["call_id"]
        progress.add(durations.get(call_id, 0.0))
        if "error" in result:
            errors[call_id] = result["error"]
            if store is not None:
                try:
                    store.save_qa_error(call_id, result["path"], result["error"])
                except InvalidInputError as exc:  # the summary has the error; go on
                    _not_stored(unstored, call_id, "not inspected, and not recorded in the "
                                f"store: {exc}")
            return
        path = result_file(out, call_id)
        try:
            _write_json(path, result)
        except OSError as exc:  # this call's file only (a name the disk refuses, ...)
            errors[call_id] = (f"inspected, but its result could not be written to {path}: "
                               f"{exc.strerror or exc}")
            return
        results[call_id] = result
        if store is not None:
            try:
                store.save_qa_result(result, recorded_s=recorded.get(call_id))
                save_summary(store, result, recorded.get(call_id))
            except InvalidInputError as exc:  # OUT has the result; the batch goes on
                _not_stored(unstored, call_id, f"inspected, but not stored for review: {exc}")

    workers = min(args.workers or default_workers(), max(len(todo), 1))
    try:
        run(todo, settings, on_result, workers=workers, engine=args.engine,
            scheduler=args.scheduler)
    except KeyboardInterrupt:
        progress.close()
        print(f"voiceline qa: {len(results)} of {len(todo)} calls written to {out / 'calls'} "
              f"before the interruption; the same command resumes with the rest",
              file=sys.stderr)
        raise
    finally:
        progress.close()
    for call_id in skipped:
        doc = json.loads(result_file(out, call_id).read_text(encoding="utf-8"))
        if doc.get("path") != paths[call_id]:  # the same recording, moved: follow it
            doc["path"] = paths[call_id]
            with contextlib.suppress(OSError):  # the summary and the store still say it
                _write_json(result_file(out, call_id), doc)
        results[call_id] = doc
        if store is not None:
            try:
                try:
                    if store.qa_paths(call_id) != doc["path"]:
                        store.move_qa_recording(call_id, doc["path"])
                except KeyError:  # done into OUT earlier, but never into this store
                    store.save_qa_result(doc, recorded_s=recorded.get(call_id))
            except InvalidInputError as exc:
                _not_stored(unstored, call_id, f"inspected, but not stored for review: {exc}")
    if store is not None:
        store.close()
    write_summary(out / "summary.csv", jobs, results, errors, set(skipped), unstored)
    elapsed = time.monotonic() - started
    flagged = sum(bool(r["flags"]) for r in results.values())
    print(f"voiceline qa: {len(results)} calls in {out} ({flagged} flagged), "
          f"{len(errors)} with an error (see summary.csv); {total_s / 3600:.2f} h of audio in "
          f"{elapsed:.0f} s", file=sys.stderr)
    swapped = _calls_where(results, "channels_look_swapped")
    if swapped:
        most = len(swapped) * 2 >= len(_calls_where(results, "agent_voice_distance"))
        print(f"voiceline qa: in {len(swapped)} recording(s) the caller's channel sounds more "
              f"like the agent than the agent's channel does ({_named(swapped)}); "
              + ("most calls do: is the agent on the other channel (--agent-channel)?"
                 if most else "are their agent ids right?"), file=sys.stderr)
    leaky = _calls_where(results, "crosstalk")
    if leaky:
        print(f"voiceline qa: {len(leaky)} recording(s) carry each party faintly on the other's "
              f"channel (echo or headset leakage: {_named(leaky)}); it was not counted as "
              "speech (metrics.crosstalk)", file=sys.stderr)
    busy = [c for c in _calls_where(results, "background")
            if any(v["busy"] for v in results[c]["metrics"]["background"].values())]
    if busy:
        print(f"voiceline qa: {len(busy)} recording(s) carry voices behind the talker (a busy "
              f"floor or room: {_named(busy)}); they were not counted as speech "
              "(metrics.background)", file=sys.stderr)
    held = _calls_where(results, "hold")
    if held:
        total = sum(results[c]["metrics"]["hold"]["seconds"] for c in held)
        print(f"voiceline qa: {len(held)} recording(s) put the caller on hold with music "
              f"({total:.0f} s in all: {_named(held)}); a hold is neither dead air nor "
              "speech, and long_hold flags one from its min_s (metrics.hold)", file=sys.stderr)
    same = _calls_where(results, "same_audio_r")
    if same:
        print(f"voiceline qa: {len(same)} recording(s) carry the same sound on both channels "
              f"and were inspected as mono ({_named(same)}); does the recorder mix both "
              "parties into each channel? Only separate channels allow the turn-taking and "
              "voice checks", file=sys.stderr)
    return 0


def _calls_where(results: dict[str, dict], metric: str) -> list[str]:
    """The calls whose metrics hold ``metric`` (with a true value), sorted."""
    return sorted(c for c, r in results.items() if r.get("metrics", {}).get(metric))


def _named(calls: list[str], most: int = 5) -> str:
    return ", ".join(calls[:most]) + (" …" if len(calls) > most else "")


def _not_stored(unstored: dict[str, str], call_id: str, why: str) -> None:
    """Note (for the summary and on stderr) a call the store refused; the run goes on."""
    unstored[call_id] = why
    print(f"voiceline qa: {call_id}: {why}", file=sys.stderr)


def save_summary(store, result: dict, recorded_s: float | None) -> None:
    """The agent's voice summary of the call, for their report (agents named only)."""
    summary = result.get("voice_summary")
    if not summary or not result.get("agent_id") or summary.get("baseline") is None:
        return
    if recorded_s is None:  # no start time in the metadata: the file's modification time
        try:
            recorded_s = Path(result["path"]).stat().st_mtime - result["duration_s"]
        except OSError:
            recorded_s = time.time()
    store.save_voice_summary(result["call_id"], "qa", result["agent_id"], recorded_s,
                             result["duration_s"], summary)


def write_summary(path: Path, jobs, results: dict[str, dict], errors: dict[str, str],
                  skipped: set[str], unstored: dict[str, str] | None = None) -> None:
    """One row per recording: score and flags, or the error; highest score first.
    ``unstored``: calls inspected but refused by the store, with the reason."""
    rows = []
    for job in jobs:
        r = results.get(job.call_id)
        if r is None:
            continue
        rows.append({
            "call_id": job.call_id, "path": job.path, "agent_id": job.agent_id or "",
            "duration_s": r["duration_s"], "score": r["score"], "flags": len(r["flags"]),
            "checks": ";".join(sorted({f["check"] for f in r["flags"]})),
            "status": "skipped (already done)" if job.call_id in skipped else "done",
            "error": (unstored or {}).get(job.call_id, "")})
    rows.sort(key=lambda row: -row["score"])
    by_id = {job.call_id: job for job in jobs}
    for call_id, reason in sorted(errors.items()):
        # A recording that failed keeps its path and agent; a second file under a used
        # call id (key "id<mark>file") and a missing file named by the metadata have no job.
        job = by_id.get(call_id)
        rows.append({"call_id": call_id.split(ERROR_KEY_MARK)[0],
                     "path": job.path if job else "",
                     "agent_id": (job.agent_id or "") if job else "",
                     "duration_s": "", "score": "", "flags": "", "checks": "",
                     "status": "error", "error": reason})
    tmp = path.with_suffix(".csv.tmp")
    # UTF-8 with a byte-order mark: Excel and WPS then read the Chinese in paths and
    # reasons as such (read it back with encoding "utf-8-sig").
    with open_private(tmp, newline="", encoding="utf-8-sig") as fh:
        writer = SafeDictWriter(fh, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
