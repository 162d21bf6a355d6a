"""Detection benchmark: agitation and low-energy scoring against openSMILE eGeMAPSv02.

Usage::

    python benchmarks/detection.py [--quick] [--conditions phone,clean] [--json-only]

Prints tables and, as its last line, one JSON object with the key figures. ``--quick``
(under a minute) uses 3 speakers per corpus and the phone condition only; its numbers
are indicative only. BLAS and numba are pinned to one thread; speeds are CPU seconds of
this process.

Protocol (issue 3, section 5; fixed)
------------------------------------
Per speaker, neutral files sorted by path: every other file from index 0 calibrates
(RAVDESS: 2 of 4 neutral and 4 of 8 calm, the same alternation), the rest are
test-neutral; calibration files are never scored. One gain per speaker brings the
calibration speech to -26 dBov. Conditions: ``clean`` (16 kHz) and ``phone``
(300-3400 Hz, 8 kHz, G.711 μ-law, line noise) — :mod:`voiceline.corpus_protocol`, the
same code ``voiceline train-model`` uses.

Methods, each normalised per speaker against that speaker's calibration files:

- **voiceline**: the feature windows and robust baseline of the product, the two
  logistic heads fitted as ``train-model`` fits them; a file's score is the mean of its
  windows' probabilities (files without a valid window are reported and left out, for
  every method alike, so all methods score the same files).
- **egemaps-distance**: eGeMAPSv02 functionals of each file (openSMILE), z against the
  mean of the speaker's calibration files over the pooled within-speaker SD of the
  calibration files; score = RMS of the 88 z's (a distance knows no direction, so the
  same score serves both tasks).
- **egemaps-svm**: a linear SVM (scikit-learn, classes balanced) on the same z's.

Evaluations: *within* a corpus (leave one speaker out within it), *pooled* (leave one
speaker out over both corpora, ``train-model``'s protocol), and *cross-corpus* (train on
all of one corpus, test on the other). Our heads use the product's fixed ridge and
literature prior (``emotion.training.L2``, ``HEAD_PRIORS``; that ridge was chosen on
these two corpora, so the cross-corpus figures are not wholly independent of them); the
SVM's C is chosen on the pooled leave-one-speaker-out anger AUC per condition, in its
favour.

Metrics over files, pooled over speakers: anger vs test-neutral AUC; high arousal
(anger, happiness, fear) vs test-neutral AUC with the agitation score; anger TPR at 5 %
FPR (threshold at the 95th percentile of the test-neutral scores); low arousal
(sadness, boredom) vs test-neutral AUC with the low-energy score (EmoDB only: this
RAVDESS copy has no sad files, so low arousal has no cross-corpus figure).

Speed, in the same run on the same files of the condition: × real time per core of
the feature analysis as ``voiceline score`` runs it (every file its own stream,
:func:`emotion.voice.analyse_clips`), and of openSMILE's eGeMAPSv02 extraction.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from voiceline.corpus_protocol import (  # noqa: E402
    CORPORA,
    AnalysisCost,
    Item,
    auc,
    condition_audio,
    condition_rate_hz,
    default_data_dir,
    read_manifest,
    training_windows,
)

ANGER = ("anger",)
HIGH_AROUSAL = ("anger", "happiness", "fear")
LOW_AROUSAL = ("sadness", "boredom")
NEGATIVE = "test-neutral"
SVM_C_GRID = (0.001, 0.01, 0.1, 1.0)
FPR = 0.05
METHODS = ("voiceline", "egemaps-distance", "egemaps-svm")


@dataclass
class Corpus:
    """One corpus under one condition: files, our windows and eGeMAPS functionals."""

    name: str
    items: list[Item]  # non-calibration items (the scored files)
    speaker: np.ndarray  # (files,)
    role: np.ndarray  # (files,)
    windows: list  # SpeakerWindows per speaker
    egemaps_z: np.ndarray  # (files, 88)
    ours_cost: AnalysisCost
    egemaps_cpu_s: float
    egemaps_audio_s: float


# ---------------------------------------------------------------- features
def egemaps_functionals(audio: list[np.ndarray], fs_hz: int) -> tuple[np.ndarray, float]:
    """eGeMAPSv02 functionals ``(files, 88)`` and the CPU seconds openSMILE took."""
    import opensmile

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    rows = []
    cpu0 = time.process_time()
    for y in audio:
        rows.append(smile.process_signal(y.astype(np.float32), fs_hz).to_numpy()[0])
    return np.array(rows, dtype=np.float64), time.process_time() - cpu0


def speaker_normalised(x: np.ndarray, speakers: np.ndarray, calibration: np.ndarray):
    """z of each row against its speaker's calibration mean, over the pooled within-SD."""
    z = np.empty_like(x)
    var = []
    for s in np.unique(speakers):
        cal = x[(speakers == s) & calibration]
        var.append(cal.var(axis=0, ddof=1) if cal.shape[0] > 1 else np.zeros(x.shape[1]))
    sd = np.sqrt(np.mean(var, axis=0))
    sd = np.where(sd > 0, sd, 1.0)
    for s in np.unique(speakers):
        mine = speakers == s
        z[mine] = (x[mine] - x[mine & calibration].mean(axis=0)) / sd
    return z


def load_corpus(data_dir: Path, name: str, condition: str, seed: int,
                limit_speakers: int | None) -> Corpus:
    items = read_manifest(data_dir, name)
    if limit_speakers:
        keep = sorted({i.speaker for i in items})[:limit_speakers]
        items = [i for i in items if i.speaker in keep]
    audio = condition_audio(items, seed, condition)
    windows = training_windows(items, seed, condition, audio=audio)
    fs_hz = condition_rate_hz(condition)
    feats, cpu_s = egemaps_functionals(audio, fs_hz)
    # Speed as `voiceline score` runs: every file its own stream, batched by length.
    from capture.audio import AudioClip
    from emotion.voice import analyse_clips

    clips = [AudioClip(y[None], fs_hz, str(i.path), "FLOAT") for i, y in
             zip(items, audio, strict=True)]
    cpu0 = time.process_time()
    analyse_clips(clips)
    cost = AnalysisCost(audio_s=sum(y.size for y in audio) / fs_hz,
                        cpu_s=time.process_time() - cpu0)
    speakers = np.array([i.speaker for i in items])
    calibration = np.array([i.role == "calibration" for i in items])
    z = speaker_normalised(feats, speakers, calibration)
    scored = ~calibration
    return Corpus(
        name=name, items=[i for i, c in zip(items, calibration, strict=True) if not c],
        speaker=speakers[scored], role=np.array([i.role for i in items])[scored],
        windows=windows, egemaps_z=z[scored], ours_cost=cost, egemaps_cpu_s=cpu_s,
        egemaps_audio_s=sum(y.size for y in audio) / fs_hz,
    )


# ---------------------------------------------------------------- models
def _file_set(corpora: list[Corpus], positive: tuple[str, ...]):
    """eGeMAPS z of positive and test-neutral files: z, y, speaker key, file."""
    xs, ys, groups, files = [], [], [], []
    for c in corpora:
        sel = np.isin(c.role, positive) | (c.role == NEGATIVE)
        xs.append(c.egemaps_z[sel])
        ys.append(np.isin(c.role[sel], positive).astype(float))
        groups.append(np.array([f"{c.name}/{s}" for s in c.speaker[sel]]))
        files.append(np.array([str(i.path) for i, s in zip(c.items, sel, strict=True) if s]))
    return (np.concatenate(xs), np.concatenate(ys), np.concatenate(groups),
            np.concatenate(files))


def _all_windows(corpora: list[Corpus]):
    """Our windows of every role: z, role, file, weight (a levelled training copy's
    windows weigh less and are never scored, see ``training_windows``)."""
    rows = [(z, role, f, w) for c in corpora for sw in c.windows
            for z, role, f, w in zip(sw.z, sw.role, sw.file, sw.weights(), strict=True)]
    z, roles, files, weights = zip(*rows, strict=True)
    return np.array(z), np.array(roles), np.array(files), np.array(weights)


class OursHead:
    """The product's sub-heads fitted exactly as ``train-model`` fits them (fixed ridge
    towards each sub-head's literature prior); a file scores the mean of its windows'
    probabilities of the head the task asks for (agitation, or low energy)."""

    def fit(self, corpora: list[Corpus], positive: tuple[str, ...]) -> OursHead:
        from voiceline.train_cli import fit_subheads

        z, roles, _, weight = _all_windows(corpora)
        self.head = 0 if positive == ANGER else 1
        self.weights, self.biases = fit_subheads(z, roles, weight)
        return self

    def file_scores(self, corpora: list[Corpus], roles: tuple[str, ...]) -> dict[str, float]:
        from voiceline.train_cli import head_probabilities

        z, role, files, _ = _all_windows(corpora)
        copies = np.concatenate([sw.copies() for c in corpora for sw in c.windows])
        keep = np.isin(role, roles) & ~copies  # recordings, not training copies
        p = head_probabilities(self.weights, self.biases, z[keep])[:, self.head]
        files = files[keep]
        return {f: float(p[files == f].mean()) for f in np.unique(files)}


class SvmHead:
    """A linear SVM on eGeMAPS z of files."""

    def __init__(self, c: float) -> None:
        self.c = c

    def fit(self, corpora: list[Corpus], positive: tuple[str, ...]) -> SvmHead:
        from sklearn.svm import LinearSVC

        x, y, _, _ = _file_set(corpora, positive)
        self.model = LinearSVC(C=self.c, class_weight="balanced", max_iter=50_000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model.fit(x, y)
        return self

    def file_scores(self, corpora: list[Corpus], roles: tuple[str, ...]) -> dict[str, float]:
        x, _, _, files = _file_set(corpora, roles)
        return dict(zip(files, self.model.decision_function(x).astype(float), strict=True))


class DistanceHead:
    """RMS of eGeMAPS z: how far a file sits from the speaker's calibration."""

    def fit(self, corpora: list[Corpus], positive: tuple[str, ...]) -> DistanceHead:
        return self

    def file_scores(self, corpora: list[Corpus], roles: tuple[str, ...]) -> dict[str, float]:
        x, _, _, files = _file_set(corpora, roles)
        return dict(zip(files, np.sqrt(np.mean(x**2, axis=1)).astype(float), strict=True))


def _subset(c: Corpus, speakers) -> Corpus:
    keep = np.isin(c.speaker, list(speakers))
    return Corpus(
        name=c.name, items=[i for i, k in zip(c.items, keep, strict=True) if k],
        speaker=c.speaker[keep], role=c.role[keep],
        windows=[sw for sw in c.windows if sw.speaker in speakers],
        egemaps_z=c.egemaps_z[keep], ours_cost=c.ours_cost, egemaps_cpu_s=c.egemaps_cpu_s,
        egemaps_audio_s=c.egemaps_audio_s,
    )


def _speakers(corpora: list[Corpus]) -> list[tuple[str, str]]:
    return [(c.name, s) for c in corpora for s in sorted(set(c.speaker))]


def loso_scores(make, corpora: list[Corpus], train_pos, score_roles) -> dict[str, float]:
    """Leave-one-speaker-out file scores over ``corpora``."""
    out: dict[str, float] = {}
    for corpus_name, speaker in _speakers(corpora):
        train = []
        for c in corpora:
            others = set(c.speaker) - ({speaker} if c.name == corpus_name else set())
            if others:
                train.append(_subset(c, others))
        test = [_subset(c, {speaker}) for c in corpora if c.name == corpus_name]
        out.update(make().fit(train, train_pos).file_scores(test, score_roles))
    return out


def cross_scores(make, train: list[Corpus], test: list[Corpus], train_pos, score_roles):
    return make().fit(train, train_pos).file_scores(test, score_roles)


# ---------------------------------------------------------------- metrics
def _labels(corpora: list[Corpus]) -> dict[str, str]:
    return {str(i.path): r for c in corpora for i, r in zip(c.items, c.role, strict=True)}


def metrics(agitation: dict[str, float], low_energy: dict[str, float] | None,
            corpora: list[Corpus], common: set[str]) -> dict:
    """The four figures over the files in ``common`` (files every method can score)."""
    roles = _labels(corpora)

    def pick(scores, positive):
        files = [f for f in scores if f in common and (roles[f] in positive or
                                                       roles[f] == NEGATIVE)]
        s = np.array([scores[f] for f in files])
        y = np.array([roles[f] in positive for f in files])
        return s, y

    s, y = pick(agitation, ANGER)
    out = {"anger_auc": _r(auc(s, y)), "anger_tpr_at_5fpr": _r(tpr_at_fpr(s, y, FPR)),
           "anger_files": int(y.sum()), "neutral_files": int((~y).sum())}
    s, y = pick(agitation, HIGH_AROUSAL)
    out["high_arousal_auc"] = _r(auc(s, y))
    if low_energy is not None:
        s, y = pick(low_energy, LOW_AROUSAL)
        out["low_arousal_auc"] = _r(auc(s, y)) if y.any() else None
    return out


def tpr_at_fpr(scores: np.ndarray, positive: np.ndarray, fpr: float) -> float | None:
    """Share of positives above the (1 - fpr) quantile of the negatives' scores."""
    if not positive.any() or positive.all():
        return None
    threshold = np.quantile(scores[~positive], 1 - fpr)
    return float(np.mean(scores[positive] > threshold))


def _r(v):
    return None if v is None else round(float(v), 4)


# ---------------------------------------------------------------- the run
def _makers(c: float):
    return {"voiceline": OursHead, "egemaps-distance": DistanceHead,
            "egemaps-svm": lambda: SvmHead(c)}


def _choose(corpora: list[Corpus], common: set[str]) -> float:
    """The SVM's C by pooled leave-one-speaker-out anger AUC (ours has no free knob here:
    its ridge and prior are the product's, fixed in ``emotion.training``)."""
    roles = _labels(corpora)

    def anger_auc(scores):
        files = [f for f in scores if f in common and roles[f] in (*ANGER, NEGATIVE)]
        return auc(np.array([scores[f] for f in files]),
                   np.array([roles[f] in ANGER for f in files])) or 0.0

    everything = (*ANGER, NEGATIVE)
    return max(SVM_C_GRID, key=lambda v: anger_auc(
        loso_scores(lambda: SvmHead(v), corpora, ANGER, everything)))


def evaluate(corpora: list[Corpus]) -> dict:
    by_name = {c.name: c for c in corpora}
    all_roles = tuple(sorted({r for c in corpora for r in c.role}))
    from emotion.training import L2

    ours_any = OursHead().fit(corpora, ANGER).file_scores(corpora, all_roles)
    common = set(ours_any)
    all_files = {str(i.path) for c in corpora for i in c.items}
    c_svm = _choose(corpora, common)
    makers = _makers(c_svm)
    report = {"chosen": {"voiceline_l2": L2, "svm_c": c_svm},
              "files_scored": len(common), "files_without_window": len(all_files - common)}
    for method, make in makers.items():
        res = {}
        for name in CORPORA:
            if name not in by_name:
                continue
            cs = [by_name[name]]
            res[f"within_{name}"] = metrics(
                loso_scores(make, cs, ANGER, (*HIGH_AROUSAL, NEGATIVE)),
                loso_scores(make, cs, LOW_AROUSAL, (*LOW_AROUSAL, NEGATIVE))
                if any(np.isin(by_name[name].role, LOW_AROUSAL)) else None,
                cs, common)
        res["pooled"] = metrics(
            loso_scores(make, corpora, ANGER, (*HIGH_AROUSAL, NEGATIVE)),
            loso_scores(make, corpora, LOW_AROUSAL, (*LOW_AROUSAL, NEGATIVE)),
            corpora, common)
        for a, b in (("emodb", "ravdess"), ("ravdess", "emodb")):
            if a in by_name and b in by_name:
                res[f"cross_{a}_to_{b}"] = metrics(
                    cross_scores(make, [by_name[a]], [by_name[b]], ANGER,
                                 (*HIGH_AROUSAL, NEGATIVE)), None, [by_name[b]], common)
        report[method] = res
    return report


def _table(condition: str, report: dict) -> str:
    lines = [f"\n## {condition}: files scored {report['files_scored']}, without a valid "
             f"window {report['files_without_window']}; chosen {report['chosen']}",
             f"{'evaluation':28s} {'method':17s} {'anger AUC':>9s} {'TPR@5%':>7s} "
             f"{'high-ar AUC':>11s} {'low-ar AUC':>10s}"]
    for evaluation in report["voiceline"]:
        for method in METHODS:
            m = report[method][evaluation]
            lines.append(f"{evaluation:28s} {method:17s} {_fmt(m['anger_auc']):>9s} "
                         f"{_fmt(m['anger_tpr_at_5fpr']):>7s} {_fmt(m['high_arousal_auc']):>11s} "
                         f"{_fmt(m.get('low_arousal_auc')):>10s}")
    return "\n".join(lines)


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def run(data_dir: Path, conditions: list[str], quick: bool, seed: int) -> dict:
    summary: dict = {"mode": "quick" if quick else "full"}
    limit = 3 if quick else None
    for condition in conditions:
        t0 = time.perf_counter()
        corpora = [load_corpus(data_dir, name, condition, seed, limit) for name in CORPORA]
        report = evaluate(corpora)
        ours_audio = sum(c.ours_cost.audio_s for c in corpora)
        ours_cpu = sum(c.ours_cost.cpu_s for c in corpora)
        eg_audio = sum(c.egemaps_audio_s for c in corpora)
        eg_cpu = sum(c.egemaps_cpu_s for c in corpora)
        report["speed"] = {
            "voiceline_x_realtime_per_core": round(ours_audio / ours_cpu, 1),
            "egemaps_x_realtime_per_core": round(eg_audio / eg_cpu, 1),
        }
        report["speed"]["ratio_voiceline_to_egemaps"] = round(
            report["speed"]["voiceline_x_realtime_per_core"]
            / report["speed"]["egemaps_x_realtime_per_core"], 2)
        report["seconds"] = round(time.perf_counter() - t0, 1)
        print(_table(condition, report))
        print(f"speed: {report['speed']}")
        summary[condition] = report
        for method in METHODS:
            key = method.replace("-", "_")
            pooled_within = report[method]
            summary[f"{condition}_{key}_anger_auc_within"] = {
                name: pooled_within[f"within_{name}"]["anger_auc"] for name in CORPORA}
            summary[f"{condition}_{key}_anger_auc_cross"] = {
                k: v["anger_auc"] for k, v in pooled_within.items() if k.startswith("cross")}
            summary[f"{condition}_{key}_anger_tpr_at_5fpr_pooled"] = (
                pooled_within["pooled"]["anger_tpr_at_5fpr"])
            summary[f"{condition}_{key}_low_arousal_auc_emodb"] = (
                pooled_within["within_emodb"]["low_arousal_auc"])
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 speakers per corpus, phone only; under a minute")
    parser.add_argument("--conditions", default=None,
                        help="comma-separated: phone, clean (default both; quick: phone)")
    parser.add_argument("--data", default=None, help="directory holding emodb/ and ravdess/")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    data_dir = Path(args.data) if args.data else default_data_dir()
    if not (data_dir / "emodb" / "manifest.csv").exists():
        print(json.dumps({"mode": "quick" if args.quick else "full",
                          "skipped": f"{data_dir} has no emodb/ravdess corpora"}))
        return 0
    conditions = (args.conditions.split(",") if args.conditions
                  else ["phone"] if args.quick else ["phone", "clean"])
    quiet = contextlib.redirect_stdout(io.StringIO())
    with quiet if args.json_only else contextlib.nullcontext():
        summary = run(data_dir, conditions, args.quick, args.seed)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
