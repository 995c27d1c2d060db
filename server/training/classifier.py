"""What the window classifiers' trainers share (LSTM family, ResNet-18 + GRU, ECG Transformer).

Each trainer turns its manifest into input arrays, class targets and subject
ids (:class:`Samples`) and says how to build a network for a split; this
module trains one network per subject-wise split (hold-out, K folds or
leave-one-subject-out), scores validation and test subjects, writes the
checkpoints, pools the test predictions of every fold into cross-validation
figures and, with ``--report-dir``, draws their confusion matrix.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from server.pain.models import checkpoint
from server.pain import scale
from server.training import metrics
from server.training.loop import pick_device, seed_everything, summary_row, train
from server.training.manifest import ManifestRow, biovid_manifest, read_manifest, write_manifest
from server.training.splits import SubjectSplit, checkpoint_path, make_splits, select

PREDICT_BATCH = 16  # windows per forward pass when scoring: a ResNet-18 + GRU window is ~40 crops
HEADLINE = ("n", "accuracy", "macro_f1")  # figures of each split in the command's JSON summary
# Augmentation: (model, input tensors of a batch) -> the tensors trained on.
Augment = Callable[[nn.Module, list[torch.Tensor]], list[torch.Tensor]]


@dataclass
class Samples:
    """Usable samples: the stored input arrays (first axis: sample), class indices, subject ids.

    ``prepare`` turns stored arrays into the network's inputs batch by batch
    (face crops are kept as uint8 and normalised only when used).
    """

    inputs: tuple[np.ndarray, ...]
    targets: np.ndarray
    subjects: np.ndarray
    prepare: Callable[[tuple[np.ndarray, ...]], tuple[np.ndarray, ...]] | None = None

    def take(self, index: np.ndarray) -> tuple[np.ndarray, ...]:
        """The network's inputs for the samples at ``index``."""
        arrays = tuple(a[index] for a in self.inputs)
        return self.prepare(arrays) if self.prepare else arrays


def rows_from_args(args: argparse.Namespace, suffix: str | None = None) -> tuple[list[ManifestRow], dict]:
    """The manifest rows (writing the manifest from a BioVid folder first when asked); ``suffix``: BioVid files."""
    if args.from_biovid:
        rows, skipped = biovid_manifest(args.from_biovid, args.label_set, *(() if suffix is None else (suffix,)))
        write_manifest(rows, args.manifest)
        print(f"wrote {args.manifest}: {len(rows)} samples, skipped {skipped}", file=sys.stderr)
        return rows, skipped
    return read_manifest(args.manifest, args.label_set)


def labelled(rows: Sequence[ManifestRow], keep: Sequence[int], label_set: str) -> tuple[np.ndarray, np.ndarray]:
    """(class indices, subject ids) of the kept rows."""
    labels = scale.label_names(label_set)
    return (np.array([labels.index(rows[i].label) for i in keep], dtype=np.int64),
            np.array([rows[i].subject for i in keep]))


def data_summary(args: argparse.Namespace, targets: np.ndarray, subjects: np.ndarray, skipped: dict) -> dict:
    """What a checkpoint was trained on: manifest, counts by label and subject, skipped files, the user's note."""
    labels = scale.label_names(args.label_set)
    return {
        "manifest": str(args.manifest),
        "samples": len(targets),
        "subjects": int(len(set(subjects.tolist()))),
        "samples_by_label": {lb: int(n) for lb, n in zip(labels, np.bincount(targets, minlength=len(labels)))},
        "skipped": skipped,
        "note": args.note,
    }


def class_weights(targets: np.ndarray, classes: int) -> torch.Tensor:
    """Inverse class frequency, so a rare class costs as much as a common one (0 for an absent class)."""
    counts = np.bincount(targets, minlength=classes).astype(np.float32)
    return torch.from_numpy(np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / classes, 0.0)
                            .astype(np.float32))


def predict_logits(model: nn.Module, inputs: Sequence[np.ndarray], batch: int = PREDICT_BATCH) -> np.ndarray:
    """Class logits N x C, in batches."""
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(inputs[0]), batch):
            out.append(model(*(torch.from_numpy(np.ascontiguousarray(a[start:start + batch])) for a in inputs)).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def predict(model: nn.Module, inputs: Sequence[np.ndarray], batch: int = PREDICT_BATCH) -> np.ndarray:
    """Class probabilities N x C, in batches."""
    logits = predict_logits(model, inputs, batch)
    return torch.softmax(torch.from_numpy(logits), dim=1).numpy() if len(logits) else logits


def classification_report(truth: np.ndarray, probs: np.ndarray, subjects: Sequence[str], label_set: str) -> dict:
    """Label figures, level figures and per-subject figures of class predictions."""
    labels = scale.label_names(label_set)
    true_labels = [labels[i] for i in truth]
    pred_labels = [labels[i] for i in probs.argmax(axis=1)] if len(probs) else []
    levels_true = [scale.level_for_label(label_set, lb) for lb in true_labels]
    levels_pred = [scale.level_for_label(label_set, lb) for lb in pred_labels]
    return {
        **metrics.classification_metrics(true_labels, pred_labels, labels),
        "levels": metrics.classification_metrics(levels_true, levels_pred, scale.LEVELS),
        "per_subject": metrics.per_subject(list(subjects), true_labels, pred_labels, "classification", labels),
    }


def train_split(
    args: argparse.Namespace,
    make_model: Callable[[np.ndarray], nn.Module],
    samples: Samples,
    split: SubjectSplit,
    description: str,
    augment: Augment | None = None,
) -> tuple[nn.Module, dict, tuple[np.ndarray, np.ndarray]]:
    """Train one network on a split (``make_model(train indices)``): the model, its record, (test indices, probs)."""
    seed_everything(args.seed)
    device = pick_device(args.device)
    classes = len(scale.label_names(args.label_set))
    train_idx, val_idx = select(samples.subjects, split.train), select(samples.subjects, split.validation)
    model = make_model(train_idx).to(device)
    weights = class_weights(samples.targets[train_idx], classes).to(device)
    generator = np.random.default_rng(args.seed)

    def batches(epoch: int):
        order = generator.permutation(train_idx)
        for step, start in enumerate(range(0, len(order), args.batch_size)):
            if args.max_steps and step >= args.max_steps:
                break
            chosen = order[start:start + args.batch_size]
            xs = [torch.from_numpy(a).to(device) for a in samples.take(chosen)]
            yield (*(augment(model, xs) if augment else xs), torch.from_numpy(samples.targets[chosen]).to(device))

    def loss_of(net: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        *xs, y = batch
        return F.cross_entropy(net(*xs), y, weight=weights)

    def validate(net: nn.Module) -> float:
        losses = []
        for start in range(0, len(val_idx), PREDICT_BATCH):
            chosen = val_idx[start:start + PREDICT_BATCH]
            xs = [torch.from_numpy(a).to(device) for a in samples.take(chosen)]
            y = torch.from_numpy(samples.targets[chosen]).to(device)
            losses.append(float(F.cross_entropy(net(*xs), y, reduction="sum")))
        return sum(losses) / max(len(val_idx), 1)

    run = train(model, batches, loss_of, validate, args.epochs, args.patience, args.lr, f"{description} {split.name}")
    model = model.cpu()

    def report(index: np.ndarray) -> tuple[dict, np.ndarray]:
        chunks = [predict(model, samples.take(index[s:s + PREDICT_BATCH])) for s in range(0, len(index), PREDICT_BATCH)]
        probs = np.concatenate(chunks) if chunks else np.zeros((0, classes), np.float32)
        return classification_report(samples.targets[index], probs, samples.subjects[index], args.label_set), probs

    figures = {"validation": report(val_idx)[0]}
    test_idx, test_probs = np.zeros(0, np.int64), np.zeros((0, classes), np.float32)
    if split.test:
        test_idx = select(samples.subjects, split.test)
        figures["test"], test_probs = report(test_idx)
    return model, {"run": run.to_dict(), "metrics": figures}, (test_idx, test_probs)


def train_all(
    args: argparse.Namespace,
    samples: Samples,
    make_model: Callable[[np.ndarray], nn.Module],
    metadata: dict[str, Any],
    data: dict[str, Any],
    description: str,
    augment: Augment | None = None,
) -> int:
    """One checkpoint per split, pooled cross-validation figures, the confusion image; one JSON line on stdout.

    ``metadata``: the checkpoint's kind, architecture, input and label set
    (data, split, training and metrics are added here).
    """
    try:
        splits = make_splits(samples.subjects.tolist(), args.test_subjects, args.folds, args.validation_fraction,
                             args.seed)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    written, pooled_idx, pooled_probs = [], [], []
    for split in splits:
        model, record, (test_idx, test_probs) = train_split(args, make_model, samples, split, description, augment)
        pooled_idx.append(test_idx)
        pooled_probs.append(test_probs)
        path = checkpoint_path(args.out, split, len(splits) > 1)
        checkpoint.save(path, model, {
            **metadata,
            "label_set": args.label_set,
            "data": data,
            "split": split.to_dict(),
            "training": {**record["run"], "epochs": args.epochs, "batch_size": args.batch_size,
                         "learning_rate": args.lr, "device": args.device, "seed": args.seed},
            "metrics": record["metrics"],
        })
        written.append(summary_row(path, split.name, record["metrics"], HEADLINE))
    summary: dict[str, Any] = {"trained": written, "data": {k: v for k, v in data.items() if k != "note"}}
    index = np.concatenate(pooled_idx)
    if len(splits) > 1 and len(index):
        # Every fold's held-out subjects together: each sample scored once, by a model that never saw its subject.
        pooled = classification_report(samples.targets[index], np.concatenate(pooled_probs),
                                       samples.subjects[index], args.label_set)
        summary["cross_validation"] = {"folds": len(splits), **pooled}
        if args.report_dir:
            summary["confusion_png"] = write_report(args.report_dir, pooled, f"{args.out.stem}: {len(splits)} folds")
    print(json.dumps(summary))
    return 0


def write_report(folder: Path, figures: dict, title: str) -> str:
    """``confusion.png`` and ``summary.json`` of pooled figures in ``folder``; the PNG's path."""
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / "confusion.png"
    png.write_bytes(metrics.confusion_png(figures["confusion"], figures["labels"], title))
    (folder / "summary.json").write_text(json.dumps(figures, indent=2))
    return str(png)


def add_classifier_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every window-classifier trainer: manifest, BioVid folder, output, label set, report folder."""
    parser.add_argument("--manifest", type=Path, required=True,
                        help="CSV path,label,subject (written by --from-biovid)")
    parser.add_argument("--from-biovid", type=Path, default=None,
                        help="BioVid folder: <subject>/<subject>-<class>-<n>...")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt); one per fold with folds")
    parser.add_argument("--label-set", choices=tuple(scale.LABEL_SETS), required=True)
    parser.add_argument("--report-dir", type=Path, default=None,
                        help="with --folds: confusion.png and summary.json of the pooled held-out predictions")
