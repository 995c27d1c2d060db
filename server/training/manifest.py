"""Manifests for sequence models: CSV files of ``path,label,subject``.

A manifest can be written by hand, or built from the BioVid Heat Pain
layout with :func:`biovid_manifest`. Bad rows are skipped and counted, so
a report can say how much of a dataset was actually used.
"""
from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from server.pain.scale import LABEL_SETS

COLUMNS: tuple[str, ...] = ("path", "label", "subject")
READ_SKIP_REASONS: tuple[str, ...] = ("blank_field", "unknown_label", "missing_file")
BIOVID_SKIP_REASONS: tuple[str, ...] = ("unrecognised_name", "not_in_label_set")

# BioVid Heat Pain Database, Part A (Walter et al. 2013): per subject, videos
# named <subject>-<class>-<n>.mp4 with class BL1 (baseline) or PA1-PA4 (heat
# from pain threshold up to pain tolerance). The binary task is "BL1 vs. PA4"
# (baseline vs. tolerance), the two-class setting most BioVid papers report
# (e.g. Werner et al. 2014); PA1-PA3 have no binary label.
BIOVID_TO_LABEL_SET: Mapping[str, Mapping[str, str]] = {
    "binary": {"BL1": "NO_PAIN", "PA4": "PAIN"},
    "biovid4": {"BL1": "BL1", "PA1": "PA1", "PA2": "PA2", "PA3": "PA3"},
    "biovid5": {"BL1": "BL1", "PA1": "PA1", "PA2": "PA2", "PA3": "PA3", "PA4": "PA4"},
}
BIOVID_CLASSES: tuple[str, ...] = ("BL1", "PA1", "PA2", "PA3", "PA4")
BIOVID_SUFFIX = ".mp4"  # the face videos
BIOVID_BIO_SUFFIX = "_bio.csv"  # the biosignal files (time, GSR, ECG, ...) of the same samples
_SAMPLE_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class ManifestRow:
    """One training sample: a file, its class label and the person in it."""

    path: Path
    label: str
    subject: str


def read_manifest(csv_path: Path, label_set: str) -> tuple[list[ManifestRow], dict[str, int]]:
    """Rows of a ``path,label,subject`` CSV that are usable for ``label_set``, and skip counts.

    Relative paths are resolved against the manifest's folder, so a dataset
    folder with its manifest inside can be moved as a whole.
    """
    labels = _labels_of(label_set)
    csv_path = Path(csv_path)
    rows: list[ManifestRow] = []
    skipped = dict.fromkeys(READ_SKIP_REASONS, 0)
    # utf-8-sig: spreadsheet programs often save CSV with a byte-order mark.
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        for column in COLUMNS:
            if column not in (reader.fieldnames or ()):
                raise ValueError(f"manifest {csv_path} has no {column!r} column (header must be path,label,subject)")
        for record in reader:
            # Short rows give None for the missing fields.
            path, label, subject = ((record.get(c) or "").strip() for c in COLUMNS)
            if not (path and label and subject):
                skipped["blank_field"] += 1
            elif label not in labels:
                skipped["unknown_label"] += 1
            elif not (full := csv_path.parent / path).is_file():
                skipped["missing_file"] += 1
            else:
                rows.append(ManifestRow(full, label, subject))
    return rows, skipped


def biovid_manifest(
    folder: Path, label_set: str, suffix: str = BIOVID_SUFFIX
) -> tuple[list[ManifestRow], dict[str, int]]:
    """Rows for every BioVid video (or, with ``suffix`` BIOVID_BIO_SUFFIX, biosignal file) under ``folder``
    whose class maps into ``label_set``.

    Expects ``<folder>/<subject>/<subject>-<CLASS>-<n><suffix>``. A file whose
    name does not start with its folder's subject id is counted as
    ``unrecognised_name``: taking it would risk putting one person's video
    under another's id, and so on both sides of a subject-wise split.
    """
    _labels_of(label_set)
    if label_set not in BIOVID_TO_LABEL_SET:
        raise ValueError(f"no BioVid mapping for label set {label_set!r}; known: {sorted(BIOVID_TO_LABEL_SET)}")
    mapping = BIOVID_TO_LABEL_SET[label_set]
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"BioVid folder not found: {folder}")

    rows: list[ManifestRow] = []
    skipped = dict.fromkeys(BIOVID_SKIP_REASONS, 0)
    for subject_dir in sorted(folder.iterdir()):
        if not subject_dir.is_dir():  # a file outside any subject folder
            skipped["unrecognised_name"] += 1
            continue
        subject = subject_dir.name
        for video in sorted(p for p in subject_dir.iterdir() if p.is_file()):
            biovid_class = parse_biovid_name(video.name, subject, suffix)
            if biovid_class is None:
                skipped["unrecognised_name"] += 1
            elif biovid_class not in mapping:
                skipped["not_in_label_set"] += 1
            else:
                rows.append(ManifestRow(video, mapping[biovid_class], subject))
    return rows, skipped


def parse_biovid_name(name: str, subject: str, suffix: str = BIOVID_SUFFIX) -> str | None:
    """The BioVid class (BL1, PA1-PA4) in ``<subject>-<CLASS>-<n><suffix>``, or None if it does not match.

    Subject ids contain dashes and underscores themselves (``071309_w_21``),
    so the class is read as the second-to-last dash-separated field.
    """
    if not name.lower().endswith(suffix):
        return None
    parts = name[: -len(suffix)].split("-")
    if len(parts) < 3:
        return None
    prefix, biovid_class, number = "-".join(parts[:-2]), parts[-2], parts[-1]
    if prefix != subject or biovid_class not in BIOVID_CLASSES or not _SAMPLE_NUMBER.fullmatch(number):
        return None
    return biovid_class


def write_manifest(rows: Sequence[ManifestRow], csv_path: Path) -> None:
    """Write ``rows`` as a ``path,label,subject`` CSV.

    Paths inside the CSV's folder are written relative to it (so the folder
    can be moved); others are written absolute. Forward slashes throughout,
    so the file reads the same on every OS.
    """
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    base = csv_path.parent.resolve()
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow((_relative_if_inside(Path(row.path), base), row.label, row.subject))


def _relative_if_inside(path: Path, base: Path) -> str:
    absolute = path.resolve()
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        return absolute.as_posix()


def _labels_of(label_set: str) -> Mapping[str, str]:
    try:
        return LABEL_SETS[label_set]
    except KeyError:
        raise ValueError(f"unknown label set {label_set!r}; known: {sorted(LABEL_SETS)}") from None
