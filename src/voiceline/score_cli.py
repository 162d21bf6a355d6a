"""``voiceline score``: recordings scored against their agents' baselines, to a CSV.

Every row of the manifest is one recording of one agent. Rows whose file reads are
analysed together (:func:`emotion.voice.analyse_files` runs them as parallel streams);
a row whose agent has no baseline, or whose file cannot be read, gets an ``error`` and
the other rows are scored as usual.
"""

from __future__ import annotations

import argparse
import csv
import sys
from functools import partial
from pathlib import Path

import numpy as np

from voiceline.spreadsheet import SafeDictWriter, csv_rows

#: Model shipped with the repository.
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "voice_scoring.onnx"
COLUMNS = ("path", "agent", "score", "low_energy", "baseline", "top_deviations", "windows",
           "speech_s", "line_correction_db", "error")


def read_manifest(path: Path) -> list[dict]:
    """Rows of the manifest with ``path`` resolved against the CSV's folder."""
    from voiceline.cli import UserError

    try:
        reader = csv_rows(path, partial(print, file=sys.stderr))  # a BOM, or GBK, too
        missing = {"path", "agent"} - set(reader.fieldnames or ())
        if missing:
            raise UserError(f"{path}: manifest needs columns path,agent (missing "
                            f"{', '.join(sorted(missing))})")
        rows = list(reader)
    except OSError as exc:
        raise UserError(f"cannot read manifest {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is neither UTF-8 nor GB18030 text; save it as CSV UTF-8"
                        ) from None
    except csv.Error as exc:
        raise UserError(f"{path} is not a readable CSV: {exc}") from None
    for row in rows:
        row["path"] = (row.get("path") or "").strip()
        row["agent"] = (row.get("agent") or "").strip()
        row["file"] = path.parent / row["path"]
        text = (row.get("channel") or "").strip()
        if row.pop(None, None) is not None:  # csv puts cells past the header under None
            row["error"] = ("the row has more cells than the header has columns (a comma "
                            "in a path? quote the cell)")
        elif not row["path"]:
            row["error"] = "the row names no recording (empty path)"
        elif not row["agent"]:
            row["error"] = "the row names no agent (empty agent)"
        elif text and not (text.isascii() and text.isdigit()):  # "²" is a digit to isdigit
            row["error"] = f"channel must be a channel index (0, 1, ...), got {text!r}"
        row["channel"] = int(text) if text.isascii() and text.isdigit() else 0
    return rows


def file_scores(score, agent: str) -> dict:
    """A file's agitation and low energy (mean over its windows) and what drove it most."""
    ok = np.isfinite(score.agitation)
    if not ok.any():
        return {"score": "", "low_energy": "", "windows": 0,
                "error": "no window with enough speech to score"}
    top = int(np.nanargmax(np.where(ok, score.agitation, -np.inf)))
    return {
        "score": f"{np.mean(score.agitation[ok]):.4f}",
        "low_energy": f"{np.mean(score.low_energy[ok]):.4f}",
        "windows": int(ok.sum()),
        "top_deviations": explain_top(score, top, agent),
    }


def explain_top(score, index: int, agent: str) -> str:
    from emotion.scoring import explain

    return explain(score, index, agent)


def score_rows(rows: list[dict], calibration: Path, model_path: Path,
               level_profile: str | None = None, population_fallback: bool = False,
               line_correction: bool = True) -> list[dict]:
    """Score manifest rows; returns one output dict per row (:data:`COLUMNS`).

    With ``population_fallback``, an agent without a baseline is judged against the
    population baseline of the agents in ``calibration`` (its ``baseline`` column says
    so) instead of getting an error. With ``line_correction``, a recording on the agent's
    own baseline is judged through its line (:mod:`emotion.line_level`; the correction,
    dB, in ``line_correction_db``, empty when the recording holds too little calm speech
    to read it).
    """
    from capture.audio import AudioError, read_audio
    from emotion.baseline import (
        BaselineError,
        load_all_baselines,
        load_baseline,
        population_baseline,
    )
    from emotion.line_level import call_line_level, through_line
    from emotion.scoring import ModelError, VoiceModel
    from emotion.voice import analyse_files, channel_type

    model = VoiceModel(model_path)
    out = [{"path": r["path"], "agent": r["agent"], "error": r.get("error", "")} for r in rows]
    baselines = {}
    populations = {}
    for i, row in enumerate(rows):
        if out[i]["error"]:
            continue
        try:
            clip = read_audio(row["file"], channel=row["channel"])
        except AudioError as exc:
            out[i]["error"] = str(exc)
            continue
        kind = channel_type(clip.fs_hz)
        try:
            baselines[i] = load_baseline(calibration, row["agent"], kind)
        except BaselineError as exc:
            if population_fallback and "no " + kind + " baseline" in str(exc):
                if kind not in populations:
                    agents = load_all_baselines(calibration, kind)
                    populations[kind] = (population_baseline(agents, channel_type=kind)
                                         if agents else None)
                if populations[kind] is not None:
                    baselines[i] = populations[kind]
                    continue
            out[i]["error"] = str(exc)
    for channel in sorted({rows[i]["channel"] for i in baselines}):
        members = [i for i in baselines if rows[i]["channel"] == channel]
        paths = [str(rows[i]["file"]) for i in members]
        try:
            analyses = analyse_files(paths, channel=channel, level_profile=level_profile)
        except AudioError:  # changed since it was checked: analyse one by one
            analyses = []
            for i, path in zip(members, paths, strict=True):
                try:
                    analyses += analyse_files([path], channel=channel,
                                              level_profile=level_profile)
                except AudioError as exc:
                    out[i]["error"] = str(exc)
                    analyses.append(None)
        for i, fa in zip(members, analyses, strict=True):
            if fa is None:
                continue
            base = baselines[i]
            out[i]["baseline"] = base.source
            out[i]["speech_s"] = f"{fa.speech_s:.1f}"
            windows = fa.windows.features[0]
            try:
                if line_correction and base.source == "agent":
                    line = call_line_level(base, windows, model.weights[0])
                    if line is not None:
                        out[i]["line_correction_db"] = f"{line.correction_db:.1f}"
                        base = through_line(base, line.correction_db)
                result = model.score(windows, base)
            except ModelError as exc:
                out[i]["error"] = str(exc)
                continue
            out[i].update(file_scores(result, rows[i]["agent"]))
    return out


def run_score(args: argparse.Namespace) -> int:
    from voiceline.cli import UserError, open_private, output_file

    calibration = Path(args.calibration)
    if not calibration.is_dir():  # every row would say so: say it once
        raise UserError(f"no calibration folder {args.calibration}: give the --out DIR of "
                        "'voiceline calibrate'")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    model = Path(args.model) if args.model else DEFAULT_MODEL
    out = output_file(args.out, keep=[args.manifest, model, model.with_suffix(".json"),
                                      *calibration.iterdir()])
    if out.suffix.lower() == ".json" and out.resolve().parent == calibration.resolve():
        raise UserError(f"will not write {out}: a .json file in the calibration folder "
                        "is read as an agent's baseline; choose another file")
    rows = read_manifest(Path(args.manifest))
    results = score_rows(rows, calibration, model, level_profile=args.level_profile,
                         population_fallback=args.unknown_agents == "population",
                         line_correction=args.line_correction == "on")
    # UTF-8 with a byte-order mark, so that Excel and WPS open it as UTF-8 (paths, agent
    # names and errors may be Chinese); read it back with encoding "utf-8-sig".
    with open_private(out, newline="", encoding="utf-8-sig") as fh:
        writer = SafeDictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(results)
    failed = sum(bool(r["error"]) for r in results)
    print(f"wrote {out}: {len(results) - failed} of {len(results)} recordings scored"
          + (f", {failed} with an error (see its 'error' column)" if failed else ""),
          file=sys.stderr)
    return 0
