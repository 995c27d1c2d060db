"""Train an LSTM-family pain classifier on landmark sequences.

    python -m server.training.sequence --manifest FILE.csv --out models/lstm.pt \\
        --arch bi_lstm|attention_lstm|sta_lstm --label-set binary|biovid4|biovid5 \\
        [--from-biovid DIR] [--features coords|distances] [--subset pain|all] [--fps 10] [--window-s 5.5] \\
        [--epochs N] [--batch-size 16] [--test-subjects A,B | --folds K|loso] [--report-dir DIR] [--device cpu|cuda]

The manifest lists ``path,label,subject``; a path is a video (landmarks are
extracted once and cached) or a ``.npy`` T x 478 x 3 landmark array taken to be
at ``--fps``. ``--from-biovid DIR`` writes the manifest from a BioVid folder
first. Cross-entropy with class weights, early stopping on validation loss,
the best epoch kept; splits by subject (``--folds loso``: leave one subject
out), see :mod:`server.training.classifier`. One JSON line on stdout.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from server.pain.models import sequence as seq
from server.training.classifier import (
    Samples,
    add_classifier_arguments,
    data_summary,
    labelled,
    rows_from_args,
    train_all,
)
from server.training.extract import load_landmarks
from server.training.loop import add_common_arguments
from server.training.manifest import ManifestRow

DEFAULT_EPOCHS = 60
DEFAULT_BATCH = 16
DEFAULT_LR = 1e-3  # Adam's usual rate; the networks are small and start from random weights
DEFAULT_PATIENCE = 10
# Landmark jitter added to normalised training features (in feature standard
# deviations): Face Mesh's frame-to-frame noise on a still face is about this.
FEATURE_NOISE = 0.05


def load_sequences(
    rows: Sequence[ManifestRow], spec: seq.FeatureSpec, cache: Path | None
) -> tuple[list[np.ndarray | None], list[np.ndarray | None], dict[str, int]]:
    """Per row (features T x F, mask T), None for a row that could not be used, and the skipped counts."""
    features, masks, skipped = [], [], {"unreadable": 0, "no_face": 0}
    for row in tqdm(rows, desc="landmarks", unit="sample"):
        try:
            landmarks = load_landmarks(row.path, spec.fps, cache)
        except (ValueError, OSError) as exc:
            print(f"skipped {row.path}: {exc}", file=sys.stderr)
            skipped["unreadable"] += 1
            features.append(None)
            masks.append(None)
            continue
        values, mask = seq.sequence_features(landmarks, spec)
        values, mask = seq.fit_window(values, mask, spec.window_frames)
        if mask.sum() == 0:
            skipped["no_face"] += 1
            features.append(None)
            masks.append(None)
            continue
        features.append(values)
        masks.append(mask)
    return features, masks, skipped


def make_model(args: argparse.Namespace, spec: seq.FeatureSpec, features: np.ndarray, masks: np.ndarray):
    """The network builder for a split: normalised by its training frames' feature statistics."""
    def build(train_idx: np.ndarray) -> torch.nn.Module:
        model = seq.SequenceClassifier(args.arch, spec, len(seq.label_names(args.label_set)))
        train_frames = features[train_idx][masks[train_idx].astype(bool)]
        model.set_normalisation(train_frames.mean(axis=0), train_frames.std(axis=0))
        return model

    return build


def feature_noise(model: torch.nn.Module, xs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Landmark jitter on the frames with a face (FEATURE_NOISE standard deviations of each feature)."""
    x, m = xs
    noise = torch.randn_like(x) * FEATURE_NOISE * model.feature_std
    return [x + noise * m.unsqueeze(2), m]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    try:
        spec = seq.FeatureSpec(args.features, args.subset, args.fps, max(2, round(args.window_s * args.fps)))
        rows, skipped = rows_from_args(args)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    loaded, masks, extract_skips = load_sequences(rows, spec, args.cache)
    keep = [i for i, values in enumerate(loaded) if values is not None]
    skipped = {**skipped, **extract_skips}
    if not keep:
        raise SystemExit(f"No usable sample (skipped: {skipped}).")
    features = np.stack([loaded[i] for i in keep])
    masks_arr = np.stack([masks[i] for i in keep])
    targets, subjects = labelled(rows, keep, args.label_set)
    data = data_summary(args, targets, subjects, skipped)
    metadata = {"kind": "lstm", "architecture": args.arch, "input": spec.to_dict(), "hidden": seq.HIDDEN_SIZE}
    samples = Samples((features, masks_arr), targets, subjects)
    return train_all(args, samples, make_model(args, spec, features, masks_arr), metadata, data, args.arch,
                     feature_noise)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m server.training.sequence", description=__doc__.split("\n")[0])
    add_classifier_arguments(parser)
    parser.add_argument("--arch", choices=seq.ARCHITECTURES, required=True)
    parser.add_argument("--features", choices=seq.FEATURE_KINDS, default="coords")
    parser.add_argument("--subset", choices=tuple(seq.LANDMARK_SUBSETS), default="pain")
    parser.add_argument("--fps", type=float, default=seq.DEFAULT_FPS)
    parser.add_argument("--window-s", type=float, default=seq.DEFAULT_WINDOW_S)
    add_common_arguments(parser, DEFAULT_EPOCHS, DEFAULT_BATCH, DEFAULT_LR, DEFAULT_PATIENCE)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
