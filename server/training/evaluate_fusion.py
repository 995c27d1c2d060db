"""Evaluate the face + ECG system: ResNet-18 + GRU and ECG Transformer checkpoints fused by their logits.

    python -m server.training.evaluate_fusion --face models/resnet_gru.loso-*.pt \\
        --ecg models/ecg_transformer.loso-*.pt --video-manifest video.csv --ecg-manifest ecg.csv \\
        [--ecg-weight 0.2] [--report-dir DIR] [--cache DIR]

A video and an ECG file are one sample when they share a subject and a name
(BioVid: ``<subject>-<CLASS>-<n>.mp4`` and ``<subject>-<CLASS>-<n>_bio.csv``).
Each face checkpoint is paired with the ECG checkpoint that held out the same
test subjects (the folds of ``--folds loso`` / ``--folds K``), and scored on
those subjects only; a checkpoint pair without test subjects is scored on
every sample. The face alone, the ECG alone and the fused logits
(``(1 - w) x face + w x ECG``, as the server fuses them) get accuracy, macro-F1,
per-class and per-subject figures over the pooled samples; ``--report-dir``
receives the fused ``confusion.png`` and ``summary.json``. One JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from server.config import Settings
from server.pain.models import checkpoint
from server.pain import scale
from server.pain.physiology.fusion import fuse_logits
from server.training import classifier
from server.training import ecg_transformer as ecg_training
from server.training import resnet_gru as face_training
from server.training.manifest import BIOVID_BIO_SUFFIX, BIOVID_SUFFIX, ManifestRow, read_manifest


def sample_key(row: ManifestRow) -> tuple[str, str]:
    """(subject, name without the BioVid video / biosignal suffix or the file extension): what pairs two files."""
    name = row.path.name
    for suffix in (BIOVID_BIO_SUFFIX, BIOVID_SUFFIX):
        if name.lower().endswith(suffix):
            return row.subject, name[: -len(suffix)]
    return row.subject, row.path.stem


def paired_rows(
    videos: Sequence[ManifestRow], ecgs: Sequence[ManifestRow]
) -> list[tuple[ManifestRow, ManifestRow]]:
    """(video, ECG) rows of the same sample and label, in the video manifest's order."""
    by_key = {sample_key(row): row for row in ecgs}
    pairs = []
    for video in videos:
        ecg = by_key.get(sample_key(video))
        if ecg is not None and ecg.label == video.label:
            pairs.append((video, ecg))
    return pairs


def fold_pairs(
    face: Sequence[checkpoint.Checkpoint], ecg: Sequence[checkpoint.Checkpoint]
) -> list[tuple[checkpoint.Checkpoint, checkpoint.Checkpoint, tuple[str, ...]]]:
    """(face, ECG, test subjects) per fold: checkpoints matched by the subjects they held out."""
    by_test = {tuple(c.metadata["split"]["test"]): c for c in ecg}
    folds = []
    for loaded in face:
        test = tuple(loaded.metadata["split"]["test"])
        if test not in by_test:
            raise SystemExit(f"{loaded.path.name}: no ECG checkpoint held out the same subjects {list(test)}.")
        folds.append((loaded, by_test[test], test))
    return folds


def window_logits(
    face: checkpoint.Checkpoint, ecg: checkpoint.Checkpoint, pairs: Sequence[tuple[ManifestRow, ManifestRow]],
    args: argparse.Namespace,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(face logits, ECG logits, kept pair indices) of the pairs both networks can read."""
    shape = face.metadata["input"]
    windows, _ = face_training.load_windows([v for v, _ in pairs], float(shape["fps"]), int(shape["window_frames"]),
                                            int(shape["image_size"]), args.cache)
    signals, _ = ecg_training.load_windows([e for _, e in pairs], args.sampling_rate,
                                           float(ecg.metadata["input"]["window_s"]))
    keep = [i for i in range(len(pairs)) if windows[i] is not None and signals[i] is not None]
    if not keep:
        return np.zeros((0, 0)), np.zeros((0, 0)), keep
    frames = face_training.to_network((np.stack([windows[i][0] for i in keep]),
                                       np.stack([windows[i][1] for i in keep])))
    return (classifier.predict_logits(face.model, frames),
            classifier.predict_logits(ecg.model, (np.stack([signals[i] for i in keep]),)), keep)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    try:
        face = [checkpoint.load(p) for p in args.face]
        ecg = [checkpoint.load(p) for p in args.ecg]
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    label_sets = {c.metadata.get("label_set") for c in face + ecg}
    right_kinds = all(c.kind == "resnet_gru" for c in face) and all(c.kind == "ecg_transformer" for c in ecg)
    if not right_kinds or len(label_sets) != 1:
        raise SystemExit("--face takes resnet_gru checkpoints and --ecg ecg_transformer ones, all of one label set.")
    label_set = label_sets.pop()
    videos, _ = read_manifest(args.video_manifest, label_set)
    ecgs, _ = read_manifest(args.ecg_manifest, label_set)
    pairs = paired_rows(videos, ecgs)
    labels = scale.label_names(label_set)
    pooled: dict[str, list[np.ndarray]] = {"face": [], "ecg": [], "fused": []}
    truth, subjects = [], []
    for face_ckpt, ecg_ckpt, test in fold_pairs(face, ecg):
        chosen = [p for p in pairs if not test or p[0].subject in test]
        face_logits, ecg_logits, keep = window_logits(face_ckpt, ecg_ckpt, chosen, args)
        if not keep:
            continue
        pooled["face"].append(face_logits)
        pooled["ecg"].append(ecg_logits)
        pooled["fused"].append(fuse_logits(face_logits, ecg_logits, args.ecg_weight))
        truth += [labels.index(chosen[i][0].label) for i in keep]
        subjects += [chosen[i][0].subject for i in keep]
    if not truth:
        raise SystemExit("No sample had both a readable video with a face and a readable ECG.")
    figures = {
        name: classifier.classification_report(np.array(truth), np.concatenate(parts), subjects, label_set)
        for name, parts in pooled.items()
    }
    summary = {"samples": len(truth), "pairs_found": len(pairs), "folds": len(face), "ecg_weight": args.ecg_weight,
               **figures}
    if args.report_dir:
        title = f"face + ECG, {1 - args.ecg_weight:.0%} / {args.ecg_weight:.0%}"
        summary["confusion_png"] = classifier.write_report(args.report_dir, figures["fused"], title)
    print(json.dumps(summary))
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m server.training.evaluate_fusion",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--face", type=Path, nargs="+", required=True, help="resnet_gru checkpoints (one per fold)")
    parser.add_argument("--ecg", type=Path, nargs="+", required=True,
                        help="ecg_transformer checkpoints (one per fold)")
    parser.add_argument("--video-manifest", type=Path, required=True)
    parser.add_argument("--ecg-manifest", type=Path, required=True)
    parser.add_argument("--ecg-weight", type=float, default=Settings().ecg_model_weight,
                        help="the ECG's share of the fused logits (PAINSCOPE_ECG_MODEL_WEIGHT)")
    parser.add_argument("--sampling-rate", type=float, default=None, help="Hz, ECG files without a time column")
    parser.add_argument("--cache", type=Path, default=None, help="face crop cache (the trainer's)")
    parser.add_argument("--report-dir", type=Path, default=None)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
