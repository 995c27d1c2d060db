"""Train the ResNet-18 PSPI regressor on face images in the UNBC-McMaster layout.

    python -m server.training.resnet --images IMAGES --labels LABELS --out models/resnet18.pt \\
        [--epochs N] [--image-size 160] [--batch-size 32] [--test-subjects A,B | --folds K] \\
        [--init resnet18-imagenet.pth] [--device cpu|cuda] [--balanced] [--classify]

Splits are by subject. L1 loss on PSPI (plus cross-entropy on the level when
``--classify``), early stopping on validation MAE, the best epoch kept. With
``--folds K`` one checkpoint per fold is written (``OUT`` with ``.foldK``
before the suffix). One JSON line summarises the run on stdout.
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

from server.pain.models import checkpoint, resnet
from server.pain import scale
from server.training import metrics
from server.training.extract import face_crops
from server.training.loop import add_common_arguments, pick_device, seed_everything, summary_row, train
from server.training.splits import SubjectSplit, checkpoint_path, make_splits, select
from server.training.unbc import scan_unbc

DEFAULT_EPOCHS = 30
DEFAULT_BATCH = 32
DEFAULT_LR = 1e-4  # Adam; small because the trunk may start from ImageNet weights
DEFAULT_PATIENCE = 5
# Brightness jitter of the training crops (multiplicative, +-): webcams and
# ward lighting vary by about this much between sessions.
BRIGHTNESS_JITTER = 0.2
INFERENCE_BATCH = 64


def predict(model: torch.nn.Module, crops: np.ndarray, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(PSPI N, level logits N x L) for uint8 crops N x S x S x 3."""
    pspi, logits = [], []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(crops), INFERENCE_BATCH):
            x = torch.from_numpy(resnet.to_batch(crops[start:start + INFERENCE_BATCH])).to(device)
            p, lg = model(x)
            pspi.append(p.cpu().numpy())
            logits.append(lg.cpu().numpy())
    width = logits[0].shape[1] if logits else 0
    return (np.concatenate(pspi) if pspi else np.zeros(0, np.float32)), (
        np.concatenate(logits) if logits else np.zeros((0, width), np.float32)
    )


def regression_report(
    truth: np.ndarray, predicted: np.ndarray, subjects: Sequence[str], thresholds: Sequence[float]
) -> dict:
    """Regression figures, level figures, and per-subject figures of PSPI predictions."""
    predicted = np.clip(predicted, 0.0, scale.PSPI_MAX)
    true_levels = [scale.level_for_pspi(p, thresholds) for p in truth]
    pred_levels = [scale.level_for_pspi(p, thresholds) for p in predicted]
    return {
        **metrics.regression_metrics(truth, predicted),
        "levels": metrics.classification_metrics(true_levels, pred_levels, scale.LEVELS),
        "per_subject": metrics.per_subject(list(subjects), truth.tolist(), predicted.tolist(), "regression"),
    }


def _level_index(pspi: np.ndarray) -> np.ndarray:
    return np.array([scale.LEVELS.index(scale.level_for_pspi(p)) for p in pspi], dtype=np.int64)


def _sampling_weights(pspi: np.ndarray) -> np.ndarray:
    """Per-frame weights making every PainScope level equally likely (the high PSPI frames are rare)."""
    levels = _level_index(pspi)
    counts = np.bincount(levels, minlength=len(scale.LEVELS)).astype(np.float64)
    return 1.0 / counts[levels]


def train_split(args: argparse.Namespace, crops: np.ndarray, pspi: np.ndarray, subjects: np.ndarray,
                split: SubjectSplit, device: torch.device) -> tuple[torch.nn.Module, dict]:
    """Train one model on a split; its training record and metrics."""
    seed_everything(args.seed)
    train_idx, val_idx = select(subjects, split.train), select(subjects, split.validation)
    model = resnet.build(classify=args.classify, init=args.init).to(device)
    weights = _sampling_weights(pspi[train_idx]) if args.balanced else None
    generator = np.random.default_rng(args.seed)
    levels = _level_index(pspi)

    def batches(epoch: int):
        order = (generator.choice(train_idx, size=len(train_idx), p=weights / weights.sum())
                 if weights is not None else generator.permutation(train_idx))
        steps = range(0, len(order), args.batch_size)
        for step, start in enumerate(steps):
            if args.max_steps and step >= args.max_steps:
                break
            chosen = order[start:start + args.batch_size]
            batch = crops[chosen]
            flip = generator.random(len(chosen)) < 0.5  # faces are left-right symmetric for PSPI
            batch = np.where(flip[:, None, None, None], batch[:, :, ::-1], batch)
            gain = 1.0 + generator.uniform(-BRIGHTNESS_JITTER, BRIGHTNESS_JITTER, (len(chosen), 1, 1, 1))
            batch = np.clip(batch * gain, 0, 255).astype(np.uint8)
            yield (torch.from_numpy(resnet.to_batch(batch)).to(device),
                   torch.from_numpy(pspi[chosen].astype(np.float32)).to(device),
                   torch.from_numpy(levels[chosen]).to(device))

    def loss_of(net: torch.nn.Module, batch) -> torch.Tensor:
        images, target, level = batch
        predicted, logits = net(images)
        loss = F.l1_loss(predicted, target)
        if logits.shape[1]:
            loss = loss + F.cross_entropy(logits, level)
        return loss

    def validate(net: torch.nn.Module) -> float:
        predicted, _ = predict(net, crops[val_idx], device)
        return float(np.mean(np.abs(np.clip(predicted, 0, scale.PSPI_MAX) - pspi[val_idx])))

    run = train(model, batches, loss_of, validate, args.epochs, args.patience, args.lr, f"resnet18 {split.name}")
    model = model.cpu()
    cpu = torch.device("cpu")
    figures = {"validation": regression_report(pspi[val_idx], predict(model, crops[val_idx], cpu)[0],
                                                subjects[val_idx], scale.DEFAULT_THRESHOLDS)}
    if split.test:
        test_idx = select(subjects, split.test)
        figures["test"] = regression_report(pspi[test_idx], predict(model, crops[test_idx], cpu)[0],
                                            subjects[test_idx], scale.DEFAULT_THRESHOLDS)
    return model, {"run": run.to_dict(), "metrics": figures}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    report = scan_unbc(args.images, args.labels)
    crops, kept = face_crops([f.path for f in report.frames], args.image_size, args.cache)
    frames = [report.frames[i] for i in kept]
    skipped = {**report.skipped, "no_face": len(report.frames) - len(frames)}
    print(f"{len(frames)} frames with a face, skipped {skipped}", file=sys.stderr)
    if not frames:
        raise SystemExit("No usable frame: every image was skipped (see the counts above).")
    pspi = np.array([f.pspi for f in frames], dtype=np.float32)
    subjects = np.array([f.subject for f in frames])
    try:
        splits = make_splits(subjects.tolist(), args.test_subjects, args.folds, args.validation_fraction, args.seed)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    device = pick_device(args.device)
    data = {
        "layout": "UNBC-McMaster (IMAGES/<subject>/<sequence>/<frame>, LABELS/..._facs.txt)",
        "images": str(args.images),
        "frames": len(frames),
        "subjects": int(len(set(subjects.tolist()))),
        "skipped": skipped,
        "frames_by_level": {lvl: int(n) for lvl, n in zip(scale.LEVELS, np.bincount(_level_index(pspi), minlength=4))},
        "note": args.note,
    }
    written = []
    for split in splits:
        model, record = train_split(args, crops, pspi, subjects, split, device)
        path = checkpoint_path(args.out, split, len(splits) > 1)
        checkpoint.save(path, model, {
            "kind": "resnet18",
            "architecture": resnet.ARCHITECTURE,
            "input": {"image_size": args.image_size, "alignment": "eyes", "normalisation": "imagenet"},
            "classify": args.classify,
            "output": "pspi",
            "data": data,
            "split": split.to_dict(),
            "training": {
                **record["run"],
                "epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.lr,
                "balanced": args.balanced, "init": args.init.name if args.init else None,
                "device": args.device, "seed": args.seed,
            },
            "metrics": record["metrics"],
        })
        written.append(summary_row(path, split.name, record["metrics"], ("n", "mae", "rmse", "pearson_r", "icc_3_1")))
    print(json.dumps({"trained": written, "data": {k: v for k, v in data.items() if k != "note"}}))
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m server.training.resnet", description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=Path, required=True, help="IMAGES/<subject>/<sequence>/<frame>.png")
    parser.add_argument("--labels", type=Path, required=True, help="LABELS/<subject>/<sequence>/<frame>_facs.txt")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    parser.add_argument("--image-size", type=int, default=resnet.DEFAULT_IMAGE_SIZE)
    parser.add_argument("--init", type=Path, default=None, help="local torchvision ResNet-18 weights for the trunk")
    parser.add_argument("--balanced", action="store_true", help="sample every pain level equally often")
    parser.add_argument("--classify", action="store_true", help="add a level-classification head")
    add_common_arguments(parser, DEFAULT_EPOCHS, DEFAULT_BATCH, DEFAULT_LR, DEFAULT_PATIENCE)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
