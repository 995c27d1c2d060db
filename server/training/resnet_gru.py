"""Train the ResNet-18 + GRU face-video pain classifier on windows of aligned face crops.

    python -m server.training.resnet_gru --manifest FILE.csv --out models/resnet_gru.pt \\
        --label-set binary|biovid4|biovid5 [--from-biovid DIR] [--fps 7.5] [--window-s 5.5] [--image-size 112] \\
        [--epochs N] [--batch-size 4] [--test-subjects A,B | --folds K|loso] [--report-dir DIR] [--cache DIR]

The manifest lists ``path,label,subject`` of face videos; ``--from-biovid DIR``
writes it from a BioVid Part A folder first (``<subject>/<subject>-<CLASS>-<n>.mp4``).
Each video is sampled at ``--fps``, its face found with Face Mesh and cut into
aligned crops (server/vision/align.py, as the server does), cached once under
``--cache``; its last ``--window-s`` seconds are a sample. Training, splits by
subject, leave-one-subject-out and the figures are those of
:mod:`server.training.classifier`. One JSON line on stdout.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from server.pain.models import resnet, resnet_gru
from server.pain.models.sequence import fit_window
from server.training.classifier import (
    Samples,
    add_classifier_arguments,
    data_summary,
    labelled,
    rows_from_args,
    train_all,
)
from server.training.extract import video_crops
from server.training.loop import add_common_arguments
from server.training.manifest import ManifestRow

DEFAULT_EPOCHS = 30
DEFAULT_BATCH = 4  # windows of ~40 crops each: four keep a CPU step under a few seconds
DEFAULT_LR = 1e-4  # lower than the LSTM's: the ResNet trunk has 11 M weights
DEFAULT_PATIENCE = 5


def load_windows(
    rows: Sequence[ManifestRow], fps: float, frames: int, size: int, cache: Path | None
) -> tuple[list[tuple[np.ndarray, np.ndarray] | None], dict[str, int]]:
    """Per row (crops T x S x S x 3 uint8, mask T) of its last window, None when unusable, and the skip counts."""
    windows: list[tuple[np.ndarray, np.ndarray] | None] = []
    skipped = {"unreadable": 0, "no_face": 0}
    for row in tqdm(rows, desc="face crops", unit="video"):
        try:
            crops, mask = video_crops(row.path, fps, size, cache)
        except (ValueError, OSError) as exc:
            print(f"skipped {row.path}: {exc}", file=sys.stderr)
            skipped["unreadable"] += 1
            windows.append(None)
            continue
        crops, mask = fit_window(crops, mask, frames)
        if mask.sum() == 0:
            skipped["no_face"] += 1
            windows.append(None)
            continue
        windows.append((crops, mask))
    return windows, skipped


def to_network(arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Stored uint8 crops N x T x H x W x 3 and masks -> normalised frames N x T x 3 x H x W and masks."""
    crops, mask = arrays
    n, t, h, w, _ = crops.shape
    return resnet.to_batch(crops.reshape(n * t, h, w, 3)).reshape(n, t, 3, h, w), mask


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    frames = max(2, round(args.window_s * args.fps))
    try:
        rows, skipped = rows_from_args(args)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(str(exc)) from exc
    windows, extract_skips = load_windows(rows, args.fps, frames, args.image_size, args.cache)
    keep = [i for i, window in enumerate(windows) if window is not None]
    skipped = {**skipped, **extract_skips}
    if not keep:
        raise SystemExit(f"No usable sample (skipped: {skipped}).")
    crops = np.stack([windows[i][0] for i in keep])
    masks = np.stack([windows[i][1] for i in keep])
    targets, subjects = labelled(rows, keep, args.label_set)
    data = data_summary(args, targets, subjects, skipped)
    metadata = {
        "kind": "resnet_gru",
        "architecture": resnet_gru.ARCHITECTURE,
        "input": {"image_size": args.image_size, "fps": args.fps, "window_frames": frames,
                  "alignment": "eyes", "normalisation": "imagenet"},
        "hidden": args.hidden,
    }

    def build(train_idx: np.ndarray) -> torch.nn.Module:
        return resnet_gru.build(args.label_set, args.hidden)

    samples = Samples((crops, masks), targets, subjects, to_network)
    return train_all(args, samples, build, metadata, data, resnet_gru.ARCHITECTURE)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m server.training.resnet_gru", description=__doc__.split("\n")[0])
    add_classifier_arguments(parser)
    parser.add_argument("--fps", type=float, default=resnet_gru.DEFAULT_FPS, help="crops per second (5-10)")
    parser.add_argument("--window-s", type=float, default=resnet_gru.DEFAULT_WINDOW_S)
    parser.add_argument("--image-size", type=int, default=resnet_gru.DEFAULT_IMAGE_SIZE)
    parser.add_argument("--hidden", type=int, default=resnet_gru.GRU_HIDDEN, help="GRU units")
    add_common_arguments(parser, DEFAULT_EPOCHS, DEFAULT_BATCH, DEFAULT_LR, DEFAULT_PATIENCE)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
