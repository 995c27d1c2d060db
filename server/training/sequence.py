"""Train an LSTM-family pain classifier on landmark sequences.

    python -m server.training.sequence --manifest FILE.csv --out models/lstm.pt \\
        --arch bi_lstm|attention_lstm|sta_lstm --label-set binary|biovid4|biovid5 \\
        [--from-biovid DIR] [--features coords|distances] [--subset pain|all] [--fps 10] [--window-s 5.5] \\
        [--epochs N] [--batch-size 16] [--test-subjects A,B | --folds K] [--device cpu|cuda]

The manifest lists ``path,label,subject``; a path is a video (landmarks are
extracted once and cached) or a ``.npy`` T x 478 x 3 landmark array taken to be
at ``--fps``. ``--from-biovid DIR`` writes the manifest from a BioVid folder
first. Cross-entropy with class weights, early stopping on validation loss,
the best epoch kept; splits by subject. One JSON line on stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from server.pain import checkpoint, scale
from server.pain import sequence as seq
from server.training import metrics
from server.training.extract import load_landmarks
from server.training.loop import add_common_arguments, pick_device, seed_everything, summary_row, train
from server.training.manifest import ManifestRow, biovid_manifest, read_manifest, write_manifest
from server.training.splits import SubjectSplit, checkpoint_path, make_splits, select

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


def predict(model: torch.nn.Module, features: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Class probabilities N x C."""
    model.eval()
    with torch.inference_mode():
        logits = model(torch.from_numpy(features), torch.from_numpy(masks))
    return torch.softmax(logits, dim=1).numpy()


def classification_report(truth: np.ndarray, probs: np.ndarray, subjects: Sequence[str], label_set: str) -> dict:
    """Label figures, level figures and per-subject figures of class predictions."""
    labels = seq.label_names(label_set)
    true_labels = [labels[i] for i in truth]
    pred_labels = [labels[i] for i in probs.argmax(axis=1)] if len(probs) else []
    levels_true = [scale.level_for_label(label_set, lb) for lb in true_labels]
    levels_pred = [scale.level_for_label(label_set, lb) for lb in pred_labels]
    return {
        **metrics.classification_metrics(true_labels, pred_labels, labels),
        "levels": metrics.classification_metrics(levels_true, levels_pred, scale.LEVELS),
        "per_subject": metrics.per_subject(list(subjects), true_labels, pred_labels, "classification", labels),
    }


def train_split(args: argparse.Namespace, spec: seq.FeatureSpec, features: np.ndarray, masks: np.ndarray,
                targets: np.ndarray, subjects: np.ndarray, split: SubjectSplit, device: torch.device):
    """Train one model on a split; the model and its record."""
    seed_everything(args.seed)
    classes = len(seq.label_names(args.label_set))
    train_idx, val_idx = select(subjects, split.train), select(subjects, split.validation)
    model = seq.SequenceClassifier(args.arch, spec, classes)
    real = masks[train_idx].astype(bool)
    train_frames = features[train_idx][real]
    model.set_normalisation(train_frames.mean(axis=0), train_frames.std(axis=0))
    model = model.to(device)
    counts = np.bincount(targets[train_idx], minlength=classes).astype(np.float32)
    # Class weights: inverse frequency, so a rare class costs as much as a common one.
    class_weights = torch.from_numpy(np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / classes, 0.0)
                                     .astype(np.float32)).to(device)
    generator = np.random.default_rng(args.seed)

    def batches(epoch: int):
        order = generator.permutation(train_idx)
        for step, start in enumerate(range(0, len(order), args.batch_size)):
            if args.max_steps and step >= args.max_steps:
                break
            chosen = order[start:start + args.batch_size]
            x = torch.from_numpy(features[chosen]).to(device)
            m = torch.from_numpy(masks[chosen]).to(device)
            noise = torch.randn_like(x) * FEATURE_NOISE * model.feature_std
            yield x + noise * m.unsqueeze(2), m, torch.from_numpy(targets[chosen]).to(device)

    def loss_of(net, batch) -> torch.Tensor:
        x, m, y = batch
        return F.cross_entropy(net(x, m), y, weight=class_weights)

    def validate(net) -> float:
        x = torch.from_numpy(features[val_idx]).to(device)
        m = torch.from_numpy(masks[val_idx]).to(device)
        return float(F.cross_entropy(net(x, m), torch.from_numpy(targets[val_idx]).to(device)))

    run = train(model, batches, loss_of, validate, args.epochs, args.patience, args.lr, f"{args.arch} {split.name}")
    model = model.cpu()
    figures = {"validation": classification_report(targets[val_idx], predict(model, features[val_idx], masks[val_idx]),
                                                    subjects[val_idx], args.label_set)}
    if split.test:
        test_idx = select(subjects, split.test)
        figures["test"] = classification_report(targets[test_idx], predict(model, features[test_idx], masks[test_idx]),
                                                subjects[test_idx], args.label_set)
    return model, {"run": run.to_dict(), "metrics": figures}


def rows_from_args(args: argparse.Namespace) -> tuple[list[ManifestRow], dict]:
    """The manifest rows (writing the manifest from a BioVid folder first when asked)."""
    if args.from_biovid:
        rows, skipped = biovid_manifest(args.from_biovid, args.label_set)
        write_manifest(rows, args.manifest)
        print(f"wrote {args.manifest}: {len(rows)} samples, skipped {skipped}", file=sys.stderr)
        return rows, skipped
    return read_manifest(args.manifest, args.label_set)


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
    labels = seq.label_names(args.label_set)
    features = np.stack([loaded[i] for i in keep])
    masks_arr = np.stack([masks[i] for i in keep])
    targets = np.array([labels.index(rows[i].label) for i in keep], dtype=np.int64)
    subjects = np.array([rows[i].subject for i in keep])
    try:
        splits = make_splits(subjects.tolist(), args.test_subjects, args.folds, args.validation_fraction, args.seed)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    device = pick_device(args.device)
    data = {
        "manifest": str(args.manifest),
        "samples": len(keep),
        "subjects": int(len(set(subjects.tolist()))),
        "samples_by_label": {lb: int(n) for lb, n in zip(labels, np.bincount(targets, minlength=len(labels)))},
        "skipped": skipped,
        "note": args.note,
    }
    written = []
    for split in splits:
        model, record = train_split(args, spec, features, masks_arr, targets, subjects, split, device)
        path = checkpoint_path(args.out, split, len(splits) > 1)
        checkpoint.save(path, model, {
            "kind": "lstm",
            "architecture": args.arch,
            "input": spec.to_dict(),
            "label_set": args.label_set,
            "hidden": seq.HIDDEN_SIZE,
            "data": data,
            "split": split.to_dict(),
            "training": {**record["run"], "epochs": args.epochs, "batch_size": args.batch_size,
                         "learning_rate": args.lr, "device": args.device, "seed": args.seed},
            "metrics": record["metrics"],
        })
        written.append(summary_row(path, split.name, record["metrics"], ("n", "accuracy", "macro_f1")))
    print(json.dumps({"trained": written, "data": {k: v for k, v in data.items() if k != "note"}}))
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m server.training.sequence", description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", type=Path, required=True, help="CSV path,label,subject (written by --from-biovid)")
    parser.add_argument("--from-biovid", type=Path, default=None, help="BioVid folder <subject>/<subject>-<label>-<n>.mp4")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--arch", choices=seq.ARCHITECTURES, required=True)
    parser.add_argument("--label-set", choices=tuple(scale.LABEL_SETS), required=True)
    parser.add_argument("--features", choices=seq.FEATURE_KINDS, default="coords")
    parser.add_argument("--subset", choices=tuple(seq.LANDMARK_SUBSETS), default="pain")
    parser.add_argument("--fps", type=float, default=seq.DEFAULT_FPS)
    parser.add_argument("--window-s", type=float, default=seq.DEFAULT_WINDOW_S)
    add_common_arguments(parser, DEFAULT_EPOCHS, DEFAULT_BATCH, DEFAULT_LR, DEFAULT_PATIENCE)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
