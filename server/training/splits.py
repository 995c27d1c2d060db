"""Subject-wise train/validation/test splits.

Frames of one person are strongly correlated, so a person's frames are
never on both sides of a split: otherwise a model is scored on faces it
has already seen and the figures are inflated.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIN_TRAINING_SUBJECTS = 2  # at least one for training and one for validation
MIN_FOLDS = 2
LOSO = "loso"  # folds=LOSO: leave one subject out, one fold per subject


@dataclass(frozen=True)
class SubjectSplit:
    """Subject ids on each side of one split (each tuple sorted)."""

    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]
    name: str

    def to_dict(self) -> dict:
        """JSON-ready form, for training reports."""
        return {
            "name": self.name,
            "train": list(self.train),
            "validation": list(self.validation),
            "test": list(self.test),
        }


def make_splits(
    subjects: Iterable[str],
    test_subjects: Sequence[str] | None = None,
    folds: int | str | None = None,
    validation_fraction: float = 0.2,
    seed: int = 0,
) -> list[SubjectSplit]:
    """Subject-wise splits.

    * ``test_subjects`` given: one split with exactly those test subjects.
    * ``folds=K``: K splits; the subjects are dealt into K folds and each fold
      is the test set once.
    * ``folds="loso"``: leave one subject out, one split per subject
      (named ``loso-<subject>``), as BioVid results are usually reported.
    * neither: one split with no test subjects.

    In every split, ``validation_fraction`` of the remaining subjects (at
    least one) become validation subjects; the rest train. The result
    depends only on the set of subjects and ``seed``, not on their order.
    """
    unique = sorted({str(s) for s in subjects})
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
    if test_subjects is not None and folds is not None:
        raise ValueError("give either test_subjects or folds, not both")

    if test_subjects is not None:
        test = sorted({str(s) for s in test_subjects})
        if not test:
            raise ValueError("test_subjects is empty; pass None for a split without a test set")
        unknown = [s for s in test if s not in unique]
        if unknown:
            raise ValueError(f"unknown test subject(s): {', '.join(unknown)}")
        _require_enough(unique, len(test), "test subjects given")
        return [_split(unique, test, validation_fraction, seed, "holdout")]

    if folds == LOSO:
        _require_enough(unique, 1, "leave one subject out")
        return [_split(unique, [subject], validation_fraction, seed, f"loso-{subject}") for subject in unique]
    if folds is not None:
        if not isinstance(folds, int):
            raise ValueError(f"folds must be a number of folds or {LOSO!r}, got {folds!r}")
        if folds < MIN_FOLDS:
            raise ValueError(f"folds must be at least {MIN_FOLDS}, got {folds}")
        if folds > len(unique):
            raise ValueError(f"{folds} folds need at least {folds} subjects, found {len(unique)}")
        # Deal the shuffled subjects round-robin, so fold sizes differ by at most one.
        order = _shuffled(unique, seed, "folds")
        test_folds = [order[k::folds] for k in range(folds)]
        _require_enough(unique, max(len(f) for f in test_folds), f"{folds} folds")
        return [
            _split(unique, fold, validation_fraction, seed, f"fold{k + 1}of{folds}")
            for k, fold in enumerate(test_folds)
        ]

    _require_enough(unique, 0, "no test set")
    return [_split(unique, [], validation_fraction, seed, "train-validation")]


def checkpoint_path(out: Path, split: SubjectSplit, several: bool) -> Path:
    """Where a split's checkpoint goes: ``out`` itself, or ``out`` with ``.<split name>`` before the suffix."""
    return out.with_name(f"{out.stem}.{split.name}{out.suffix}") if several else out


def select(items_subjects: Sequence[str], subjects: Iterable[str]) -> np.ndarray:
    """Indices (int64, ascending) of the items whose subject is in ``subjects``."""
    if isinstance(subjects, str):
        # A bare string would be read as a set of characters.
        raise TypeError("subjects must be a collection of subject ids, not a single string")
    wanted = {str(s) for s in subjects}
    return np.fromiter((i for i, s in enumerate(items_subjects) if str(s) in wanted), dtype=np.int64)


def _split(unique: list[str], test: Sequence[str], fraction: float, seed: int, name: str) -> SubjectSplit:
    test_set = set(test)
    remaining = [s for s in unique if s not in test_set]
    # Conventional rounding, at least one validation subject, at least one training subject.
    n_validation = min(max(1, int(fraction * len(remaining) + 0.5)), len(remaining) - 1)
    validation = set(_shuffled(remaining, seed, f"validation:{name}")[:n_validation])
    return SubjectSplit(
        train=tuple(s for s in remaining if s not in validation),
        validation=tuple(sorted(validation)),
        test=tuple(sorted(test_set)),
        name=name,
    )


def _shuffled(items: Sequence[str], seed: int, purpose: str) -> list[str]:
    """A seeded shuffle that is the same on every platform and library version.

    Ordering by a hash (rather than a random generator's stream) means a
    split named in an old training report can always be rebuilt.
    """
    def key(item: str) -> str:
        return hashlib.sha256(f"{seed}:{purpose}:{item}".encode()).hexdigest()

    return sorted(items, key=key)


def _require_enough(unique: list[str], n_test: int, context: str) -> None:
    remaining = len(unique) - n_test
    if remaining < MIN_TRAINING_SUBJECTS:
        needed = n_test + MIN_TRAINING_SUBJECTS
        raise ValueError(
            f"too few subjects ({context}): found {len(unique)}, need at least {needed} "
            f"so that {MIN_TRAINING_SUBJECTS} remain for training and validation"
        )
