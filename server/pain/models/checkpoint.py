"""Model checkpoints: one file each, carrying the weights and everything needed to trust them.

A checkpoint is a ``torch.save`` dictionary ``{"format", "metadata",
"state_dict"}``. The metadata says what the model is (kind, architecture,
input, label set), what it was trained on (data summary, split), how it scored
(metrics) and which code made it. Loading uses ``weights_only=True``: a
checkpoint cannot run code.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from server.version import __version__
from server.pain.models import ecg_transformer, resnet, resnet_gru, sequence

FORMAT = "painscope-checkpoint/1"
KINDS = ("resnet18", "lstm", "resnet_gru", "ecg_transformer")  # the estimator (or ECG model) a checkpoint serves


@dataclass
class Checkpoint:
    """A loaded checkpoint: its metadata and a model in eval mode."""

    path: Path
    metadata: dict[str, Any]
    model: nn.Module

    @property
    def kind(self) -> str:
        """One of ``KINDS``."""
        return self.metadata["kind"]


def code_version() -> dict[str, str]:
    """PainScope's version and, when run from a git checkout, its commit."""
    version = {"painscope": __version__, "torch": str(torch.__version__)}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        version["commit"] = commit
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def save(path: Path, model: nn.Module, metadata: dict[str, Any]) -> None:
    """Write ``model``'s weights with ``metadata`` (code version and time are added)."""
    if metadata.get("kind") not in KINDS:
        raise ValueError(f"metadata kind must be one of {KINDS}")
    full = {**metadata, "code": code_version(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    # Plain JSON types only: weights_only loading accepts nothing else, and /health serves it as JSON.
    full = json.loads(json.dumps(full))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": FORMAT, "metadata": full, "state_dict": model.state_dict()}, tmp)
    tmp.replace(path)  # a reader never sees half a file


def build_model(metadata: dict[str, Any]) -> nn.Module:
    """An untrained network of the shape the metadata describes."""
    kind = metadata["kind"]
    if kind == "resnet18":
        return resnet.PspiResNet(classify=bool(metadata.get("classify")))
    if kind == "resnet_gru":
        return resnet_gru.build(metadata["label_set"], metadata.get("hidden", resnet_gru.GRU_HIDDEN))
    if kind == "ecg_transformer":
        return ecg_transformer.build(metadata["label_set"], float(metadata["input"]["window_s"]))
    spec = sequence.FeatureSpec(**metadata["input"])
    classes = len(sequence.label_names(metadata["label_set"]))
    hidden = metadata.get("hidden", sequence.HIDDEN_SIZE)
    return sequence.SequenceClassifier(metadata["architecture"], spec, classes, hidden)


def load(path: Path) -> Checkpoint:
    """Read a checkpoint; ``ValueError`` with the reason if it is not a usable PainScope checkpoint."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; all mean "not a checkpoint"
        raise ValueError(f"not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"not a PainScope checkpoint (format is not {FORMAT})")
    metadata = blob["metadata"]
    if metadata.get("kind") == "segmentation":
        raise ValueError("a body-segmenter checkpoint, not a pain model (the server uses its ONNX export)")
    if metadata.get("kind") not in KINDS:
        raise ValueError(f"unknown model kind {metadata.get('kind')!r}")
    try:
        model = build_model(metadata)
        model.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"weights do not fit the described model ({exc})") from exc
    model.eval()
    return Checkpoint(path=path, metadata=metadata, model=model)


def file_digest(path: Path) -> str:
    """SHA-256 of a file (ties an ONNX export to the checkpoint it came from)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
