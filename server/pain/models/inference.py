"""Running a checkpoint's network: with torch, or with ONNX Runtime when an export is present and faster.

``python -m server.training.export MODEL.pt`` writes ``MODEL.onnx`` next to the
checkpoint, stamped with the checkpoint's SHA-256. At load time both runtimes
are timed on the model's own input shape and the faster one serves; an export
that does not belong to the checkpoint (stale, or of another file) is ignored
and reported.

A ``resnet_gru`` checkpoint is served as two networks, each exported and timed
on its own (``MODEL.features.onnx``, ``MODEL.head.onnx``): the ResNet-18 per
crop, run once per frame as it arrives, and the GRU + head per judged window
over the cached features (:class:`SplitRunner`).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from server.pain.models import checkpoint as ckpt
from server.pain.models import ecg_transformer, resnet
from server.pain.models.sequence import FeatureSpec

ONNX_DIGEST_KEY = "painscope_checkpoint_sha256"
ONNX_METADATA_KEY = "painscope_metadata"
# Runtime choice: a few untimed runs (allocations, lazy init), then the median of timed runs.
WARMUP_RUNS = 2
TIMED_RUNS = 7


class Runner(Protocol):
    """Runs the network on numpy inputs, returns numpy outputs."""

    name: str

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]: ...


class TorchRunner:
    """The checkpoint's torch module, without autograd."""

    name = "torch"

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            out = self.model(*(torch.from_numpy(np.ascontiguousarray(x)) for x in inputs))
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        return [o.numpy() for o in outputs]


class OnnxRunner:
    """An ONNX Runtime session on the CPU."""

    name = "onnxruntime"

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort  # imported only when an export exists

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, dict(zip(self.input_names, inputs)))

    def metadata(self) -> dict[str, str]:
        """The export's custom metadata."""
        return dict(self.session.get_modelmeta().custom_metadata_map)


class SplitRunner:
    """A window network served as two: ``features`` of each frame (cached by the caller) and ``head`` per window.

    Called whole, on a window of frames N x T x ... and its mask N x T, it runs
    both, so it answers like the unsplit network.
    """

    def __init__(self, features: Runner, head: Runner) -> None:
        self.features, self.head = features, head
        names = dict.fromkeys((features.name, head.name))
        self.name = " + ".join(names)  # "onnxruntime", or "onnxruntime + torch" when the parts differ

    def __call__(self, frames: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        n, t = frames.shape[:2]
        (features,) = self.features(frames.reshape(n * t, *frames.shape[2:]))
        return self.head(features.reshape(n, t, -1), mask)


WHOLE = "whole"  # the part name of a checkpoint served as one network
# Checkpoint kinds served in parts (see the module docstring), in the order they run.
SPLIT_PARTS = {"resnet_gru": ("features", "head")}


def part_names(metadata: dict[str, Any]) -> tuple[str, ...]:
    """The networks a checkpoint is served as: ``(WHOLE,)``, or its parts."""
    return SPLIT_PARTS.get(metadata["kind"], (WHOLE,))


def part_modules(loaded: ckpt.Checkpoint) -> dict[str, torch.nn.Module]:
    """Each served network of a checkpoint by part name."""
    if loaded.kind in SPLIT_PARTS:
        return loaded.model.parts()
    return {WHOLE: loaded.model}


def example_inputs(metadata: dict[str, Any], batch: int = 1, part: str = WHOLE) -> tuple[np.ndarray, ...]:
    """Inputs of the right shape and type for a checkpoint's network, or one of its parts (batch ``batch``)."""
    kind, shape = metadata["kind"], metadata["input"]
    if kind == "resnet_gru" and part == "features":
        size = int(shape["image_size"])
        return (resnet.to_batch(np.full((batch, size, size, 3), 128, dtype=np.uint8)),)
    if kind == "resnet_gru" and part == "head":
        frames = int(shape["window_frames"])
        return np.zeros((batch, frames, resnet.FEATURE_WIDTH), np.float32), np.ones((batch, frames), np.float32)
    if kind == "resnet18":
        size = int(shape["image_size"])
        crops = np.full((batch, size, size, 3), 128, dtype=np.uint8)
        return (resnet.to_batch(crops),)
    if kind == "resnet_gru":
        size, frames = int(shape["image_size"]), int(shape["window_frames"])
        crops = np.full((batch * frames, size, size, 3), 128, dtype=np.uint8)
        return (
            resnet.to_batch(crops).reshape(batch, frames, 3, size, size),
            np.ones((batch, frames), dtype=np.float32),
        )
    if kind == "ecg_transformer":
        samples = ecg_transformer.patches_for(float(shape["window_s"])) * ecg_transformer.patch_samples()
        return (np.zeros((batch, samples), dtype=np.float32),)
    spec = FeatureSpec(**shape)
    return (
        np.zeros((batch, spec.window_frames, spec.width), dtype=np.float32),
        np.ones((batch, spec.window_frames), dtype=np.float32),
    )


# Names of each network's inputs and outputs (in the exported graph too), by kind or "kind.part".
INPUT_NAMES = {"resnet18": ["images"], "lstm": ["features", "mask"], "resnet_gru.features": ["crops"],
               "resnet_gru.head": ["features", "mask"], "ecg_transformer": ["ecg"]}
OUTPUT_NAMES = {"resnet18": ["pspi", "level_logits"], "lstm": ["logits"], "resnet_gru.features": ["features"],
                "resnet_gru.head": ["logits"], "ecg_transformer": ["logits"]}


def _network_key(metadata: dict[str, Any], part: str) -> str:
    return metadata["kind"] if part == WHOLE else f"{metadata['kind']}.{part}"


def input_names(metadata: dict[str, Any], part: str = WHOLE) -> list[str]:
    """Names of the network's (or part's) inputs (in the exported graph too)."""
    return INPUT_NAMES[_network_key(metadata, part)]


def output_names(metadata: dict[str, Any], part: str = WHOLE) -> list[str]:
    """Names of the network's (or part's) outputs."""
    return OUTPUT_NAMES[_network_key(metadata, part)]


def median_ms(runner: Runner, inputs: tuple[np.ndarray, ...], runs: int = TIMED_RUNS) -> float:
    """Median wall time of one call in milliseconds, after WARMUP_RUNS untimed calls."""
    for _ in range(WARMUP_RUNS):
        runner(*inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner(*inputs)
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


@dataclass
class RuntimeChoice:
    """The runner that serves a checkpoint (or one of its parts) and why."""

    runner: Runner
    latency_ms: dict[str, float] = field(default_factory=dict)
    note: str = ""
    parts: dict[str, RuntimeChoice] = field(default_factory=dict)  # per part, for a checkpoint served in parts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for /health (with each part's choice for a checkpoint served in parts)."""
        summary = {"runtime": self.runner.name, "latency_ms": self.latency_ms, "note": self.note}
        if self.parts:
            summary["parts"] = {name: choice.to_dict() for name, choice in self.parts.items()}
        return summary


def onnx_export_path(checkpoint_path: Path, part: str = WHOLE) -> Path:
    """Where ``export`` writes the ONNX twin of a checkpoint, or of one of its parts."""
    return part_path(checkpoint_path.with_suffix(".onnx"), part)


def part_path(onnx_path: Path, part: str) -> Path:
    """The file of one part of an export named ``onnx_path`` (``X.onnx`` -> ``X.features.onnx``)."""
    return onnx_path if part == WHOLE else onnx_path.with_suffix(f".{part}.onnx")


def combined(runners: dict[str, Runner]) -> Runner:
    """The runner of a whole checkpoint from its parts' runners."""
    if WHOLE in runners:
        return runners[WHOLE]
    return SplitRunner(runners["features"], runners["head"])


def onnx_runner(metadata: dict[str, Any], onnx_path: Path, threads: int) -> Runner:
    """ONNX Runtime over an export written to ``onnx_path`` (all its parts)."""
    return combined({part: OnnxRunner(part_path(onnx_path, part), threads) for part in part_names(metadata)})


def choose_runtime(loaded: ckpt.Checkpoint, threads: int) -> RuntimeChoice:
    """Torch, or ONNX Runtime where the checkpoint's own export is present and faster on its input shape.

    A checkpoint served in parts has each part chosen on its own.
    """
    choices = {part: _choose_part(loaded, part, module, threads) for part, module in part_modules(loaded).items()}
    if WHOLE in choices:
        return choices[WHOLE]
    runner = combined({part: choice.runner for part, choice in choices.items()})
    note = "; ".join(f"{part}: {choice.note}" for part, choice in choices.items())
    return RuntimeChoice(runner, note=note, parts=choices)


def _choose_part(loaded: ckpt.Checkpoint, part: str, module: torch.nn.Module, threads: int) -> RuntimeChoice:
    torch_runner = TorchRunner(module)
    onnx_path = onnx_export_path(loaded.path, part)
    if not onnx_path.exists():
        return RuntimeChoice(torch_runner, note="no ONNX export; torch")
    try:
        onnx = OnnxRunner(onnx_path, threads)
    except Exception as exc:  # onnxruntime raises its own types for a bad file
        return RuntimeChoice(torch_runner, note=f"ONNX export unreadable ({type(exc).__name__}); torch")
    if onnx.metadata().get(ONNX_DIGEST_KEY) != ckpt.file_digest(loaded.path):
        return RuntimeChoice(torch_runner, note="ONNX export is of another version of this checkpoint; torch")
    inputs = example_inputs(loaded.metadata, part=part)
    latency = {
        "torch": round(median_ms(torch_runner, inputs), 2),
        "onnxruntime": round(median_ms(onnx, inputs), 2),
    }
    faster = onnx if latency["onnxruntime"] < latency["torch"] else torch_runner
    return RuntimeChoice(faster, latency, note=f"{faster.name} was faster on this machine")


def stamp_metadata(loaded: ckpt.Checkpoint) -> dict[str, str]:
    """The custom metadata an export carries: the checkpoint's digest and metadata."""
    return {ONNX_DIGEST_KEY: ckpt.file_digest(loaded.path), ONNX_METADATA_KEY: json.dumps(loaded.metadata)}
