"""Evaluate a checkpoint on held-out data: one JSON line of figures, a confusion-matrix PNG.

    python -m server.training.evaluate MODEL.pt --images IMAGES --labels LABELS [--subjects A,B]
    python -m server.training.evaluate MODEL.pt --manifest FILE.csv [--subjects A,B]

ResNet-18 checkpoints: MAE, RMSE, Pearson r and ICC(3,1) of PSPI, then level
accuracy, macro-F1 and confusion. Sequence checkpoints (LSTM family on
landmarks, ResNet-18 + GRU on face videos, ECG Transformer on ECG files):
accuracy, macro-F1 and confusion over their label set and over levels. Both: per-subject figures.
``--report-dir`` receives ``confusion.png`` and ``summary.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from server.pain.models import checkpoint
from server.pain import scale
from server.pain.models import sequence as seq
from server.training import metrics
from server.training import resnet as resnet_training
from server.training import classifier
from server.training import ecg_transformer as ecg_training
from server.training import resnet_gru as resnet_gru_training
from server.training import sequence as sequence_training
from server.training.extract import face_crops
from server.training.manifest import read_manifest
from server.training.unbc import scan_unbc


def evaluate_resnet(loaded: checkpoint.Checkpoint, args: argparse.Namespace) -> tuple[dict, list[list[int]], list[str]]:
    """Figures of a PSPI regressor on UNBC-layout data."""
    report = scan_unbc(args.images, args.labels)
    frames = [f for f in report.frames if not args.subjects or f.subject in args.subjects]
    crops, kept = face_crops([f.path for f in frames], int(loaded.metadata["input"]["image_size"]), args.cache)
    used = [frames[i] for i in kept]
    if not used:
        raise SystemExit("No frame with a face to evaluate on.")
    import torch

    predicted, _ = resnet_training.predict(loaded.model, crops, torch.device("cpu"))
    truth = np.array([f.pspi for f in used], dtype=np.float32)
    figures = resnet_training.regression_report(truth, predicted, [f.subject for f in used], scale.DEFAULT_THRESHOLDS)
    figures["skipped"] = {**report.skipped, "no_face": len(frames) - len(used)}
    return figures, figures["levels"]["confusion"], list(scale.LEVELS)


def evaluate_sequence(
    loaded: checkpoint.Checkpoint, args: argparse.Namespace
) -> tuple[dict, list[list[int]], list[str]]:
    """Figures of a sequence classifier on a manifest."""
    label_set = loaded.metadata["label_set"]
    spec = seq.FeatureSpec(**loaded.metadata["input"])
    rows, skipped = read_manifest(args.manifest, label_set)
    rows = [r for r in rows if not args.subjects or r.subject in args.subjects]
    loaded_rows, masks, extract_skips = sequence_training.load_sequences(rows, spec, args.cache)
    keep = [i for i, values in enumerate(loaded_rows) if values is not None]
    if not keep:
        raise SystemExit("No usable sample to evaluate on.")
    labels = seq.label_names(label_set)
    features = np.stack([loaded_rows[i] for i in keep])
    mask_arr = np.stack([masks[i] for i in keep])
    truth = np.array([labels.index(rows[i].label) for i in keep])
    probs = classifier.predict(loaded.model, (features, mask_arr))
    figures = classifier.classification_report(truth, probs, [rows[i].subject for i in keep], label_set)
    figures["skipped"] = {**skipped, **extract_skips}
    return figures, figures["confusion"], labels


def evaluate_window_model(
    loaded: checkpoint.Checkpoint, args: argparse.Namespace
) -> tuple[dict, list[list[int]], list[str]]:
    """Figures of a ResNet-18 + GRU (face videos) or ECG Transformer (ECG files) classifier on a manifest."""
    label_set, shape = loaded.metadata["label_set"], loaded.metadata["input"]
    rows, skipped = read_manifest(args.manifest, label_set)
    rows = [r for r in rows if not args.subjects or r.subject in args.subjects]
    if loaded.kind == "resnet_gru":
        windows, read_skips = resnet_gru_training.load_windows(
            rows, float(shape["fps"]), int(shape["window_frames"]), int(shape["image_size"]), args.cache)
        keep = [i for i, w in enumerate(windows) if w is not None]
        inputs = resnet_gru_training.to_network((np.stack([windows[i][0] for i in keep]),
                                                 np.stack([windows[i][1] for i in keep]))) if keep else ()
    else:
        windows, read_skips = ecg_training.load_windows(rows, args.sampling_rate, float(shape["window_s"]))
        keep = [i for i, w in enumerate(windows) if w is not None]
        inputs = (np.stack([windows[i] for i in keep]),) if keep else ()
    if not keep:
        raise SystemExit("No usable sample to evaluate on.")
    labels = seq.label_names(label_set)
    truth = np.array([labels.index(rows[i].label) for i in keep])
    probs = classifier.predict(loaded.model, inputs)
    figures = classifier.classification_report(truth, probs, [rows[i].subject for i in keep], label_set)
    figures["skipped"] = {**skipped, **read_skips}
    return figures, figures["confusion"], labels


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    try:
        loaded = checkpoint.load(args.model)
    except ValueError as exc:
        raise SystemExit(f"{args.model}: {exc}") from exc
    if loaded.kind == "resnet18":
        if not (args.images and args.labels):
            raise SystemExit("A ResNet-18 checkpoint is evaluated on --images and --labels (UNBC layout).")
        figures, confusion, labels = evaluate_resnet(loaded, args)
    else:
        if not args.manifest:
            raise SystemExit("A sequence checkpoint is evaluated on --manifest FILE.csv.")
        window_model = loaded.kind in ("resnet_gru", "ecg_transformer")
        figures, confusion, labels = (evaluate_window_model if window_model else evaluate_sequence)(loaded, args)
    architecture = loaded.metadata["architecture"]
    summary = {"model": args.model.name, "kind": loaded.kind, "architecture": architecture, **figures}
    if args.report_dir:
        args.report_dir.mkdir(parents=True, exist_ok=True)
        png = args.report_dir / "confusion.png"
        png.write_bytes(metrics.confusion_png(confusion, labels, f"{args.model.name}: confusion"))
        (args.report_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        summary["confusion_png"] = str(png)
    print(json.dumps(summary))
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m server.training.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="checkpoint (.pt)")
    parser.add_argument("--images", type=Path)
    parser.add_argument("--labels", type=Path)
    parser.add_argument("--manifest", type=Path)
    parser.add_argument("--subjects", type=lambda s: {x for x in s.split(",") if x}, default=None,
                        help="only these subjects (the held-out ones)")
    parser.add_argument("--report-dir", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--sampling-rate", type=float, default=None, help="Hz, ECG files without a time column")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
