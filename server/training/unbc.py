"""Reader for the UNBC-McMaster Shoulder Pain Expression Archive.

Layout (as distributed)::

    IMAGES/<subject>/<sequence>/<frame>.png
    LABELS/<subject>/<sequence>/<frame>_facs.txt   # first number = PSPI

Broken or unlabelled frames are skipped and counted rather than raised, so
one bad file in ~48,000 does not stop a training run, and the counts show
up in the training report.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from server.pain.scale import PSPI_MAX

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp"})
LABEL_SUFFIX = "_facs.txt"
# Skip reasons, in the order the checks run (a frame is counted once, under
# the first check it fails).
SKIP_REASONS: tuple[str, ...] = ("missing_label", "bad_label", "out_of_range", "unreadable_image")


@dataclass(frozen=True)
class LabelledFrame:
    """One image with its PSPI label."""

    path: Path
    subject: str
    sequence: str
    frame: str
    pspi: float


@dataclass
class ScanReport:
    """Usable frames, in sorted order, and how many were skipped for each reason."""

    frames: list[LabelledFrame]
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))

    def summary(self) -> dict:
        """JSON-ready counts: total frames, frames per subject, skipped per reason."""
        per_subject = Counter(frame.subject for frame in self.frames)
        return {
            "total": len(self.frames),
            "subjects": dict(sorted(per_subject.items())),
            "skipped": dict(self.skipped),
        }


def scan_unbc(images_dir: Path, labels_dir: Path) -> ScanReport:
    """Pair every image under ``images_dir`` with its PSPI label under ``labels_dir``.

    Raises ``FileNotFoundError`` if either folder does not exist and
    ``ValueError`` if no usable frame was found; every other problem is a
    skipped, counted frame.
    """
    images_dir, labels_dir = Path(images_dir), Path(labels_dir)
    for name, folder in (("images", images_dir), ("labels", labels_dir)):
        if not folder.is_dir():
            raise FileNotFoundError(f"UNBC {name} folder not found: {folder}")

    report = ScanReport(frames=[])
    for image in _image_files(images_dir):
        sequence_dir = image.parent
        subject, sequence, frame = sequence_dir.parent.name, sequence_dir.name, image.stem
        label_file = labels_dir / subject / sequence / f"{frame}{LABEL_SUFFIX}"
        # Label checks first: they are cheap, and unlabelled frames need no image decode.
        pspi, reason = _read_pspi(label_file)
        if reason is None and not _image_is_readable(image):
            reason = "unreadable_image"
        if reason is not None:
            report.skipped[reason] += 1
            continue
        report.frames.append(LabelledFrame(image, subject, sequence, frame, pspi))

    if not report.frames:
        skipped = sum(report.skipped.values())
        reasons = ", ".join(f"{k}: {v}" for k, v in report.skipped.items() if v) or "no images found"
        raise ValueError(f"no usable UNBC frames under {images_dir}; skipped {skipped} ({reasons})")
    return report


def _image_files(images_dir: Path) -> list[Path]:
    """Image files exactly at ``<subject>/<sequence>/<frame>``, sorted, hidden entries ignored."""
    found = []
    for subject_dir in _visible_dirs(images_dir):
        for sequence_dir in _visible_dirs(subject_dir):
            found.extend(
                p for p in sorted(sequence_dir.iterdir())
                if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
            )
    return found


def _visible_dirs(folder: Path) -> list[Path]:
    # Hidden folders (.git, macOS ._ files, etc.) are never subjects or sequences.
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read_pspi(label_file: Path) -> tuple[float, str | None]:
    """(PSPI, None) or (nan, skip reason). The first whitespace-separated token must be the number."""
    if not label_file.is_file():
        return math.nan, "missing_label"
    try:
        tokens = label_file.read_text(encoding="utf-8-sig").split()
        value = float(tokens[0])
    except (OSError, UnicodeDecodeError, IndexError, ValueError):
        return math.nan, "bad_label"
    if not math.isfinite(value) or not 0.0 <= value <= PSPI_MAX:
        return math.nan, "out_of_range"
    return value, None


def _image_is_readable(image: Path) -> bool:
    try:
        if image.stat().st_size == 0:
            return False
        with Image.open(image) as handle:
            handle.verify()
    # Pillow reports corrupt files with several exception types (OSError,
    # SyntaxError, ValueError, DecompressionBombError...); all mean "skip".
    except Exception:  # noqa: BLE001
        return False
    return True
