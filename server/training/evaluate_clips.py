"""How well the pain reading separates pained from pain-free clips, on a user's own labelled recordings.

    python -m server.training.evaluate_clips --clips DIR --labels labels.csv [--references DIR] \\
        [--estimator geometry] [--out report.json]

``labels.csv`` has a header and one row per clip: ``clip`` (a video path,
relative to ``--clips``), ``subject``, and ``rating`` (observer pain rating,
e.g. UNBC's OPR 0-5) and/or ``pspi`` (the clip's peak PSPI). With
``--references DIR`` each subject's neutral frames are ``DIR/<subject>/*``
(images) and every clip of that subject is read against them, as a clinician
would with "Calibrate neutral"; without, each clip learns its own neutral.

Each clip is read as the app reads an uploaded video: its verdict is the
highest level held for a second (``summary.level``) and its score the highest
PSPI held that long (``summary.sustained_pspi``). Printed, and written as JSON
to ``--out``: clips, AUC of the score for rating >= 2 against rating 0,
Spearman of the score against PSPI and against rating, the share of pain-free
clips (rating 0, or PSPI 0 when there is no rating) read "none", the share of
clips rated >= 2 read above "none", a confusion table (true level from the PSPI
label, or from the rating, against the level read), and the same per subject.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import stats

from server.assess.analysis import Analyzer
from server.config import Settings
from server.pain import scale
from server.pain.registry import EstimatorRegistry
from server.problems import InputProblem
from server.vision.face import FaceTracker

PAINED_RATING = 2.0  # observer rating at or above which a clip is "pained" (the AUC: >= 2 vs 0)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
# A rating (0-5) read as a level when a clip has no PSPI label: 0 none, 1-2 mild, 3 moderate, 4-5 severe.
RATING_LEVELS = {0: "none", 1: "mild", 2: "mild", 3: "moderate", 4: "severe", 5: "severe"}


@dataclass(frozen=True)
class Clip:
    """One labelled clip."""

    path: Path
    subject: str
    rating: float | None
    pspi: float | None

    @property
    def pain_free(self) -> bool | None:
        """True when the labels say no pain (rating 0, else PSPI 0); None without labels."""
        if self.rating is not None:
            return self.rating == 0
        return None if self.pspi is None else self.pspi == 0

    def true_level(self, thresholds: Sequence[float]) -> str | None:
        """The level its labels stand for (PSPI first, else the rating)."""
        if self.pspi is not None:
            return scale.level_for_pspi(self.pspi, thresholds)
        if self.rating is not None:
            return RATING_LEVELS[int(min(max(round(self.rating), 0), 5))]
        return None


@dataclass(frozen=True)
class Reading:
    """What the app read for one clip."""

    clip: Clip
    level: str | None
    score: float | None
    error: str | None = None


def read_labels(path: Path, clips_dir: Path) -> list[Clip]:
    """The labels file as clips; a row without a clip or subject is an error naming the line."""
    clips = []
    with open(path, newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            if not row.get("clip") or not row.get("subject"):
                raise ValueError(f"{path}:{line}: every row needs 'clip' and 'subject'")
            number = lambda key: float(row[key]) if row.get(key, "").strip() else None  # noqa: E731
            clips.append(Clip(clips_dir / row["clip"], row["subject"].strip(), number("rating"), number("pspi")))
    return clips


def auc(scores_pos: Sequence[float], scores_neg: Sequence[float]) -> float | None:
    """Area under the ROC curve: the chance a pained clip scores above a pain-free one (ties count half)."""
    if not scores_pos or not scores_neg:
        return None
    pos, neg = np.asarray(scores_pos, float)[:, None], np.asarray(scores_neg, float)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho, or None with fewer than three pairs or no spread."""
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(stats.spearmanr(x, y).statistic)


def figures(readings: Sequence[Reading], thresholds: Sequence[float]) -> dict:
    """The evaluation figures of a set of clip readings."""
    read = [r for r in readings if r.level is not None]
    scored = [r for r in read if r.score is not None]
    pained = [r.score for r in scored if r.clip.rating is not None and r.clip.rating >= PAINED_RATING]
    free = [r.score for r in scored if r.clip.rating == 0]
    with_pspi = [(r.score, r.clip.pspi) for r in scored if r.clip.pspi is not None]
    with_rating = [(r.score, r.clip.rating) for r in scored if r.clip.rating is not None]
    pain_free = [r for r in read if r.clip.pain_free]
    rated_pained = [r for r in read if r.clip.rating is not None and r.clip.rating >= PAINED_RATING]
    confusion = {truth: {level: 0 for level in scale.LEVELS} for truth in scale.LEVELS}
    for r in read:
        truth = r.clip.true_level(thresholds)
        if truth is not None:
            confusion[truth][r.level] += 1
    share = lambda hits, of: round(hits / len(of), 4) if of else None  # noqa: E731
    return {
        "clips": len(readings),
        "clips_read": len(read),
        "auc_rating_2_vs_0": auc(pained, free),
        "spearman_pspi": spearman(*zip(*with_pspi)) if with_pspi else None,
        "spearman_rating": spearman(*zip(*with_rating)) if with_rating else None,
        "pain_free_read_none": share(sum(r.level == "none" for r in pain_free), pain_free),
        "rated_pained_read_above_none": share(sum(r.level != "none" for r in rated_pained), rated_pained),
        "confusion": confusion,
    }


def evaluate(
    clips: Sequence[Clip], references_dir: Path | None, estimator_name: str, settings: Settings
) -> tuple[dict, list[Reading]]:
    """Read every clip as an uploaded video and compute the figures, overall and per subject."""
    analyzer = Analyzer(settings)
    estimator = EstimatorRegistry(settings).get(estimator_name, settings.estimator)
    tracker = FaceTracker(stream=False, max_side=settings.analysis_max_side)
    readings: list[Reading] = []
    try:
        for clip in clips:
            references = _references(references_dir, clip.subject)
            try:
                report = analyzer.analyze_video(tracker, estimator, clip.path.read_bytes(), references)
            except (InputProblem, OSError) as problem:
                readings.append(Reading(clip, None, None, str(getattr(problem, "message", problem))))
                continue
            summary = report.summary
            score = summary.get("sustained_pspi")
            if score is None and summary.get("level") is not None:
                score = float(scale.LEVELS.index(summary["level"]))  # estimators without a PSPI
            readings.append(Reading(clip, summary.get("level"), score))
    finally:
        tracker.close()
    thresholds = settings.level_thresholds
    report = figures(readings, thresholds)
    subjects = sorted({r.clip.subject for r in readings})
    report["per_subject"] = {s: figures([r for r in readings if r.clip.subject == s], thresholds) for s in subjects}
    report["errors"] = [{"clip": str(r.clip.path), "error": r.error} for r in readings if r.error]
    report["estimator"] = estimator.name
    report["references"] = references_dir is not None
    return report, readings


def _references(folder: Path | None, subject: str) -> list[bytes]:
    if folder is None:
        return []
    files = sorted(p for p in (folder / subject).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return [p.read_bytes() for p in files[: Settings().max_reference_images]]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: prints the figures and one JSON line; writes ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m server.training.evaluate_clips", description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=Path, required=True, help="folder the labels' clip paths are relative to")
    parser.add_argument("--labels", type=Path, required=True, help="CSV: clip, subject, rating and/or pspi")
    parser.add_argument("--references", type=Path, help="folder of <subject>/ neutral images")
    parser.add_argument("--estimator", default="geometry")
    parser.add_argument("--out", type=Path, help="write the report here as JSON")
    args = parser.parse_args(argv)
    try:
        clips = read_labels(args.labels, args.clips)
    except (OSError, ValueError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    report, readings = evaluate(clips, args.references, args.estimator, Settings.from_env())
    for r in readings:
        print(f"{r.clip.path.name}\tsubject {r.clip.subject}\trating {r.clip.rating}\tpspi {r.clip.pspi}"
              f"\t-> {r.level} ({r.score}){'  ' + r.error if r.error else ''}")
    overall = {k: v for k, v in report.items() if k not in ("per_subject", "confusion", "errors")}
    print(json.dumps(overall))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
