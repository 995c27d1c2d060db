"""The figures of a set of clip readings: ranking, verdict shares, confusion, and intervals over subjects.

Shared by ``evaluate_clips`` (clips read through the whole upload path) and
``fit_pain_head`` (clips read from cached faces while choosing the head's form).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import stats

from server.pain import scale

PAINED_RATING = 2.0  # observer rating at or above which a clip is "pained" (the AUC: >= 2 vs 0)
# A rating (0-5) read as a level when a clip has no PSPI label: 0 none, 1-2 mild, 3 moderate, 4-5 severe.
RATING_LEVELS = {0: "none", 1: "mild", 2: "mild", 3: "moderate", 4: "severe", 5: "severe"}
# How the product is judged: each clip with up to three of the person's neutral frames as references.
REFERENCES_PER_CLIP = 3
# The clip scores kept side by side (VideoReport.summary keys); the first is the one figures rank by.
SCORES: tuple[str, ...] = ("max_pspi", "mean_pspi", "sustained_pspi")
RANKED_BY = SCORES[0]
BOOTSTRAP_ROUNDS = 2000
INTERVAL_PERCENTILES = (2.5, 97.5)  # a 95 % interval
# The figures given an interval (the headline ones).
HEADLINE = ("auc_rating_2_vs_0", "spearman_pspi", "spearman_rating", "pain_free_read_none",
            "rated_pained_read_above_none")


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

    @property
    def pained(self) -> bool:
        """True when observers rated it PAINED_RATING or more."""
        return self.rating is not None and self.rating >= PAINED_RATING

    def true_level(self, thresholds: Sequence[float]) -> str | None:
        """The level its labels stand for (PSPI first, else the rating)."""
        if self.pspi is not None:
            return scale.level_for_pspi(self.pspi, thresholds)
        if self.rating is not None:
            return RATING_LEVELS[int(min(max(round(self.rating), 0), 5))]
        return None


@dataclass(frozen=True)
class Reading:
    """What the app read for one clip: its held level and its scores (SCORES keys)."""

    clip: Clip
    level: str | None
    scores: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None

    @property
    def score(self) -> float | None:
        """The score the figures rank by."""
        return self.scores.get(RANKED_BY)


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


def _ranking(readings: Sequence[Reading], score: str) -> dict:
    """AUC and Spearman of one clip score."""
    scored = [(r.scores[score], r.clip) for r in readings if r.scores.get(score) is not None]
    pained = [s for s, clip in scored if clip.pained]
    free = [s for s, clip in scored if clip.rating == 0]
    with_pspi = [(s, clip.pspi) for s, clip in scored if clip.pspi is not None]
    with_rating = [(s, clip.rating) for s, clip in scored if clip.rating is not None]
    return {
        "auc_rating_2_vs_0": auc(pained, free),
        "spearman_pspi": spearman(*zip(*with_pspi)) if with_pspi else None,
        "spearman_rating": spearman(*zip(*with_rating)) if with_rating else None,
    }


def figures(readings: Sequence[Reading], thresholds: Sequence[float]) -> dict:
    """The evaluation figures of a set of clip readings (ranked by RANKED_BY; every score under ``by_score``)."""
    read = [r for r in readings if r.level is not None]
    pain_free = [r for r in read if r.clip.pain_free]
    rated_pained = [r for r in read if r.clip.pained]
    confusion = {truth: {level: 0 for level in scale.LEVELS} for truth in scale.LEVELS}
    for r in read:
        truth = r.clip.true_level(thresholds)
        if truth is not None:
            confusion[truth][r.level] += 1
    share = lambda hits, of: round(hits / len(of), 4) if of else None  # noqa: E731
    return {
        "clips": len(readings),
        "clips_read": len(read),
        "ranked_by": RANKED_BY,
        **_ranking(read, RANKED_BY),
        "pain_free_read_none": share(sum(r.level == "none" for r in pain_free), pain_free),
        "rated_pained_read_above_none": share(sum(r.level != "none" for r in rated_pained), rated_pained),
        "by_score": {score: _ranking(read, score) for score in SCORES},
        "confusion": confusion,
    }


def bootstrap_intervals(
    readings: Sequence[Reading], thresholds: Sequence[float], rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> dict[str, list[float] | None]:
    """A 95 % interval for each headline figure, resampling whole subjects with replacement.

    Subjects, not clips, are the unit: clips of one person are not independent,
    and the product meets new people, not new clips of known ones.
    """
    by_subject: dict[str, list[Reading]] = {}
    for r in readings:
        by_subject.setdefault(r.clip.subject, []).append(r)
    subjects = sorted(by_subject)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in HEADLINE}
    for _ in range(rounds):
        pooled = [r for s in rng.choice(subjects, size=len(subjects)) for r in by_subject[s]]
        values = figures(pooled, thresholds)
        for name in HEADLINE:
            if values[name] is not None:
                draws[name].append(values[name])
    return {name: ([round(float(v), 4) for v in np.percentile(d, INTERVAL_PERCENTILES)] if d else None)
            for name, d in draws.items()}
