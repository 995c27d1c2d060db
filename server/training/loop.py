"""The training loop both trainers share: epochs, early stopping on a validation figure, best weights kept."""
from __future__ import annotations

import argparse
import copy
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from server.training.splits import LOSO


@dataclass
class TrainingRun:
    """What happened: the figure per epoch, the best epoch and its figure."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = float("inf")
    stopped_early: bool = False

    def to_dict(self) -> dict:
        """JSON-ready form (stored in the checkpoint)."""
        return {
            "epochs_run": len(self.history),
            "best_epoch": self.best_epoch,
            "best_validation": self.best_score,
            "stopped_early": self.stopped_early,
            "history": self.history,
        }


def seed_everything(seed: int) -> None:
    """Same seed, same run (on the CPU)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    """``cpu`` or ``cuda``; asking for CUDA where there is none is a clear error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but torch sees no CUDA device here.")
    return torch.device(name)


def train(
    model: nn.Module,
    batches: Callable[[int], Iterable[tuple[torch.Tensor, ...]]],
    loss_of: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    validate: Callable[[nn.Module], float],
    epochs: int,
    patience: int,
    learning_rate: float,
    description: str,
) -> TrainingRun:
    """Train with Adam; after each epoch score on validation (lower is better); keep the best weights.

    Stops after ``patience`` epochs without improvement. ``batches(epoch)``
    yields training batches; ``loss_of(model, batch)`` is the loss to minimise.
    The model is left holding the best epoch's weights.
    """
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    run = TrainingRun()
    best_state = copy.deepcopy(model.state_dict())
    for epoch in range(1, epochs + 1):
        model.train()
        losses = []
        progress = tqdm(list(batches(epoch)), desc=f"{description} epoch {epoch}/{epochs}", unit="batch", leave=False)
        for batch in progress:
            optimiser.zero_grad()
            loss = loss_of(model, batch)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        model.eval()
        with torch.inference_mode():
            score = float(validate(model))
        train_loss = float(np.mean(losses)) if losses else None
        run.history.append({"epoch": epoch, "train_loss": train_loss, "validation": score})
        tqdm.write(f"{description} epoch {epoch}: train loss {run.history[-1]['train_loss']}, validation {score:.4f}")
        if score < run.best_score:
            run.best_score, run.best_epoch = score, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - run.best_epoch >= patience:
            run.stopped_early = True
            break
    model.load_state_dict(best_state)
    model.eval()
    return run


def add_common_arguments(parser: argparse.ArgumentParser, epochs: int, batch: int, lr: float, patience: int) -> None:
    """The options both trainers share: epochs, batches, subject split, device, stopping, cache, seed, note."""
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--test-subjects", type=lambda s: [x for x in s.split(",") if x], default=None,
                       help="comma-separated subjects held out for the test figures")
    group.add_argument("--folds", type=folds_argument, default=None,
                       help="K-fold cross-validation by subject, or 'loso' (leave one subject out)")
    parser.add_argument("--validation-fraction", type=float, default=0.2, help="of the training subjects")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--patience", type=int, default=patience, help="epochs without improvement before stopping")
    parser.add_argument("--max-steps", type=int, default=0, help="cap batches per epoch (0: all)")
    parser.add_argument("--cache", type=Path, default=None, help="folder for extracted face crops / landmarks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="what the data is, stored in the checkpoint")


def folds_argument(text: str) -> int | str:
    """``--folds``: a number of folds, or ``loso``."""
    if text.strip().lower() == LOSO:
        return LOSO
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--folds takes a number or {LOSO!r}, not {text!r}") from None


def summary_row(path: Path, split_name: str, figures: dict, keys: Sequence[str]) -> dict:
    """One trained checkpoint in the command's JSON summary: where it is and its headline figures per part."""
    return {"checkpoint": str(path), "split": split_name,
            **{part: {k: values.get(k) for k in keys} for part, values in figures.items()}}
