"""Train the ECG Transformer pain classifier on windows of band-passed ECG.

    python -m server.training.ecg_transformer --manifest FILE.csv --out models/ecg_transformer.pt \\
        --label-set binary|biovid4|biovid5 [--from-biovid DIR] [--sampling-rate HZ] [--window-s 5.5] \\
        [--epochs N] [--batch-size 32] [--test-subjects A,B | --folds K|loso] [--report-dir DIR]

The manifest lists ``path,label,subject`` of ECG files in any form the ECG
endpoint reads (server/vitals/ecg_files.py ``parse_ecg``: a BioVid biosignal file,
a ``time,ecg`` CSV, or one ECG column with ``--sampling-rate``);
``--from-biovid DIR`` writes it from a BioVid Part A biosignal folder first
(``<subject>/<subject>-<CLASS>-<n>_bio.csv``). Each recording is band-passed
(server/vitals/ecg_bandpass.py) and its last ``--window-s`` seconds resampled
and standardised as the server does (server/pain/models/ecg_transformer.py). Training,
splits by subject, leave-one-subject-out and the figures are those of
:mod:`server.training.classifier`. One JSON line on stdout.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from server.pain.models import ecg_transformer
from server.problems import InputProblem
from server.training.classifier import (
    Samples,
    add_classifier_arguments,
    data_summary,
    labelled,
    rows_from_args,
    train_all,
)
from server.training.loop import add_common_arguments
from server.training.manifest import BIOVID_BIO_SUFFIX, ManifestRow
from server.vitals.ecg_files import parse_ecg
from server.vitals import ecg_bandpass

DEFAULT_EPOCHS = 60
DEFAULT_BATCH = 32
DEFAULT_LR = 1e-3  # Adam's usual rate; the network is small and starts from random weights
DEFAULT_PATIENCE = 10


def load_windows(
    rows: Sequence[ManifestRow], sampling_rate: float | None, window_s: float
) -> tuple[list[np.ndarray | None], dict[str, int]]:
    """Per row the network's input (its last window), None when the file is no usable ECG, and the skip counts."""
    windows: list[np.ndarray | None] = []
    skipped = {"unreadable": 0}
    for row in tqdm(rows, desc="ECG", unit="file"):
        try:
            signal = parse_ecg(row.path.read_bytes(), sampling_rate, label=str(row.path))
            filtered = ecg_bandpass.bandpass(signal.values, signal.sampling_rate_hz)
            windows.append(ecg_transformer.to_input(filtered, signal.sampling_rate_hz, window_s))
        except (InputProblem, ValueError, OSError) as exc:
            print(f"skipped {row.path}: {exc}", file=sys.stderr)
            skipped["unreadable"] += 1
            windows.append(None)
    return windows, skipped


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    try:
        rows, skipped = rows_from_args(args, BIOVID_BIO_SUFFIX)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(str(exc)) from exc
    windows, read_skips = load_windows(rows, args.sampling_rate, args.window_s)
    keep = [i for i, window in enumerate(windows) if window is not None]
    skipped = {**skipped, **read_skips}
    if not keep:
        raise SystemExit(f"No usable sample (skipped: {skipped}).")
    targets, subjects = labelled(rows, keep, args.label_set)
    data = data_summary(args, targets, subjects, skipped)
    metadata = {
        "kind": "ecg_transformer",
        "architecture": ecg_transformer.ARCHITECTURE,
        "input": {"window_s": args.window_s, "rate_hz": ecg_transformer.INPUT_RATE_HZ,
                  "patch_s": ecg_transformer.PATCH_S,
                  "filter": f"band-pass {ecg_bandpass.LOW_HZ:g}-{ecg_bandpass.HIGH_HZ:g} Hz"},
    }

    def build(train_idx: np.ndarray) -> torch.nn.Module:
        return ecg_transformer.build(args.label_set, args.window_s)

    samples = Samples((np.stack([windows[i] for i in keep]),), targets, subjects)
    return train_all(args, samples, build, metadata, data, ecg_transformer.ARCHITECTURE)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m server.training.ecg_transformer",
                                     description=__doc__.split("\n")[0])
    add_classifier_arguments(parser)
    parser.add_argument("--sampling-rate", type=float, default=None, help="Hz, for files without a time column")
    parser.add_argument("--window-s", type=float, default=ecg_transformer.DEFAULT_WINDOW_S)
    add_common_arguments(parser, DEFAULT_EPOCHS, DEFAULT_BATCH, DEFAULT_LR, DEFAULT_PATIENCE)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
