"""How well the pain reading separates pained from pain-free clips, on labelled recordings.

    python -m server.training.evaluate_clips --clips DIR --labels labels.csv [--references DIR] \\
        [--estimator geometry] [--folds loso --data DIR] [--bootstrap 2000] [--out report.json]

``labels.csv`` has a header and one row per clip: ``clip`` (a video path,
relative to ``--clips``), ``subject``, and ``rating`` (observer pain rating,
e.g. UNBC's OPR 0-5) and/or ``pspi`` (the clip's peak PSPI). With
``--references DIR`` each subject's neutral frames are ``DIR/<subject>/*``
(images) and every clip of that subject is read against up to
REFERENCES_PER_CLIP of them, as a clinician would with "Calibrate neutral",
never against the one made from the clip's own first frame (same file stem);
without, each clip learns its own neutral.

Each clip is read as the app reads an uploaded video (``Analyzer.analyze_video``):
its verdict is the highest level held for a second (``summary.level``), and
three scores are kept side by side: the highest PSPI of any sampled frame
(``summary.max_pspi``, the score the product is judged by and so the one the
figures rank by), the mean, and the highest PSPI held for a second.

``--folds loso`` (with ``--data``, the development set's folder, for the cached
faces of ``server.training.clip_faces``): for each subject the pain head is
fitted on the other subjects only (``server.training.fit_pain_head``) and then
reads that subject's clips; the figures are pooled over the folds. Without it
the reading as shipped reads every clip.

Printed, and written as JSON to ``--out``: AUC of the ranked score for rating
>= 2 against rating 0; Spearman of each score against PSPI and rating; the
share of pain-free clips (rating 0, or PSPI 0 when there is no rating) read
"none" and of clips rated >= 2 read above "none"; a confusion table; each
figure's 95 % interval from a bootstrap over subjects (with a few dozen clips
the intervals are wide: read them before the point figures); and the same per
subject.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from server.assess.analysis import Analyzer
from server.config import Settings
from server.pain import scale
from server.pain.estimator import PainEstimator
from server.pain.facs.pain_head import level_bands
from server.pain.registry import EstimatorRegistry
from server.problems import InputProblem
from server.training.clip_figures import (  # noqa: F401 (auc, spearman: part of this tool's interface)
    BOOTSTRAP_ROUNDS, RANKED_BY, REFERENCES_PER_CLIP, SCORES, Clip, Reading, auc, bootstrap_intervals, figures,
    read_labels, spearman,
)
from server.vision.face import FaceTracker

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def read_clips(
    clips: Sequence[Clip],
    references_dir: Path | None,
    estimator_for: Callable[[Clip], PainEstimator],
    settings: Settings,
    log: Callable[[str], None] = lambda _line: None,
) -> list[Reading]:
    """Read every clip as an uploaded video, each by the estimator ``estimator_for`` gives for it."""
    analyzer = Analyzer(settings)
    tracker = FaceTracker(stream=False, max_side=settings.analysis_max_side)
    readings: list[Reading] = []
    try:
        for clip in clips:
            try:
                report = analyzer.analyze_video(
                    tracker, estimator_for(clip), clip.path.read_bytes(), references_for(references_dir, clip))
            except (InputProblem, OSError) as problem:
                readings.append(Reading(clip, None, {}, str(getattr(problem, "message", problem))))
                continue
            summary = report.summary
            scores = {score: summary.get(score) for score in SCORES}
            if scores[RANKED_BY] is None and summary.get("level") is not None:
                # estimators without a PSPI rank by their level
                scores = {score: float(scale.LEVELS.index(summary["level"])) for score in SCORES}
            readings.append(Reading(clip, summary.get("level"), scores))
            log(f"{clip.path.name}\tsubject {clip.subject}\trating {clip.rating}\tpspi {clip.pspi}"
                f"\t-> {summary.get('level')} (max {scores['max_pspi']}, held {scores['sustained_pspi']})")
    finally:
        tracker.close()
    return readings


def references_for(folder: Path | None, clip: Clip) -> list[bytes]:
    """Up to REFERENCES_PER_CLIP of the subject's neutral images, never the one made from this clip (same stem)."""
    if folder is None:
        return []
    files = sorted(p for p in (folder / clip.subject).glob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.stem != clip.path.stem)
    return [p.read_bytes() for p in files[:REFERENCES_PER_CLIP]]


def report_of(readings: Sequence[Reading], thresholds: Sequence[float], rounds: int, seed: int) -> dict:
    """The figures overall, their intervals, per subject, and the clips that could not be read."""
    report = figures(readings, thresholds)
    report["intervals_95"] = bootstrap_intervals(readings, thresholds, rounds, seed) if rounds else None
    subjects = sorted({r.clip.subject for r in readings})
    report["per_subject"] = {s: figures([r for r in readings if r.clip.subject == s], thresholds) for s in subjects}
    report["errors"] = [{"clip": str(r.clip.path), "error": r.error} for r in readings if r.error]
    return report


def evaluate(
    clips: Sequence[Clip], references_dir: Path | None, estimator_name: str, settings: Settings,
    rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0,
) -> tuple[dict, list[Reading]]:
    """Read every clip with the reading as shipped and compute the figures, overall and per subject."""
    estimator = EstimatorRegistry(settings).get(estimator_name, settings.estimator)
    readings = read_clips(clips, references_dir, lambda _clip: estimator, settings, print)
    report = report_of(readings, level_bands(settings), rounds, seed)
    report.update(estimator=estimator.name, references=references_dir is not None, folds="none")
    return report, readings


def evaluate_loso(
    clips: Sequence[Clip], references_dir: Path | None, data: Path, settings: Settings,
    rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0,
) -> tuple[dict, list[Reading]]:
    """Leave one subject out: each subject read by a pain head fitted on the other subjects only."""
    from server.training import fit_pain_head  # the fitting tool, only for this mode

    fitted = fit_pain_head.fold_estimators(data, settings, sorted({c.subject for c in clips}))
    readings = read_clips(clips, references_dir, lambda clip: fitted[clip.subject], settings, print)
    # Each fold's own bands judged its clips; the pooled table uses the shipped bands for the true level.
    report = report_of(readings, level_bands(settings), rounds, seed)
    report.update(estimator="geometry", references=references_dir is not None, folds="loso",
                  fold_thresholds={s: list(e.thresholds) for s, e in fitted.items()})
    return report, readings


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: prints the figures and one JSON line; writes ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m server.training.evaluate_clips", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path,
                        help="a folder laid out as the development set (clips/, labels.csv, refs/); "
                             "sets --clips, --labels and --references, and holds the cached faces for --folds loso")
    parser.add_argument("--clips", type=Path, help="folder the labels' clip paths are relative to")
    parser.add_argument("--labels", type=Path, help="CSV: clip, subject, rating and/or pspi")
    parser.add_argument("--references", type=Path, help="folder of <subject>/ neutral images")
    parser.add_argument("--estimator", default="geometry")
    parser.add_argument("--folds", choices=("none", "loso"), default="none",
                        help="loso: fit the pain head without each subject, then read that subject")
    parser.add_argument("--bootstrap", type=int, default=BOOTSTRAP_ROUNDS, help="rounds (0: no intervals)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the report here as JSON")
    args = parser.parse_args(argv)
    if args.data is not None:
        args.clips = args.clips or args.data / "clips"
        args.labels = args.labels or args.data / "labels.csv"
        args.references = args.references or args.data / "refs"
    if args.clips is None or args.labels is None:
        parser.error("give --data, or --clips and --labels")
    if args.folds == "loso" and args.data is None:
        parser.error("--folds loso needs --data (the cached faces the folds are fitted on)")
    try:
        clips = read_labels(args.labels, args.clips)
    except (OSError, ValueError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    if args.folds == "loso":
        report, _ = evaluate_loso(clips, args.references, args.data, settings, args.bootstrap, args.seed)
    else:
        report, _ = evaluate(clips, args.references, args.estimator, settings, args.bootstrap, args.seed)
    overall = {k: v for k, v in report.items() if k not in ("per_subject", "confusion", "errors")}
    print(json.dumps(overall))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
