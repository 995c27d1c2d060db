"""Running a checkpoint's network: with torch, or with ONNX Runtime when an export is present and faster.

``python -m server.training.export MODEL.pt`` writes ``MODEL.onnx`` next to the
checkpoint, stamped with the checkpoint's SHA-256. At load time both runtimes
are timed on the model's own input shape and the faster one serves; an export
that does not belong to the checkpoint (stale, or of another file) is ignored
and reported.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from server.pain import checkpoint as ckpt
from server.pain import ecg_transformer, resnet
from server.pain.sequence import FeatureSpec

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


def example_inputs(metadata: dict[str, Any], batch: int = 1) -> tuple[np.ndarray, ...]:
    """Inputs of the right shape and type for a checkpoint's network (batch ``batch``)."""
    kind, shape = metadata["kind"], metadata["input"]
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


# Names of each kind's inputs and outputs (in the exported graph too).
INPUT_NAMES = {"resnet18": ["images"], "lstm": ["features", "mask"], "resnet_gru": ["frames", "mask"],
               "ecg_transformer": ["ecg"]}
OUTPUT_NAMES = {"resnet18": ["pspi", "level_logits"], "lstm": ["logits"], "resnet_gru": ["logits"],
                "ecg_transformer": ["logits"]}


def input_names(metadata: dict[str, Any]) -> list[str]:
    """Names of the network's inputs (in the exported graph too)."""
    return INPUT_NAMES[metadata["kind"]]


def output_names(metadata: dict[str, Any]) -> list[str]:
    """Names of the network's outputs."""
    return OUTPUT_NAMES[metadata["kind"]]


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
    """The runner that serves a checkpoint and why."""

    runner: Runner
    latency_ms: dict[str, float] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for /health."""
        return {"runtime": self.runner.name, "latency_ms": self.latency_ms, "note": self.note}


def onnx_export_path(checkpoint_path: Path) -> Path:
    """Where ``export`` writes the ONNX twin of a checkpoint."""
    return checkpoint_path.with_suffix(".onnx")


def choose_runtime(loaded: ckpt.Checkpoint, threads: int) -> RuntimeChoice:
    """Torch, or ONNX Runtime if the checkpoint's own export is present and faster on its input shape."""
    torch_runner = TorchRunner(loaded.model)
    onnx_path = onnx_export_path(loaded.path)
    if not onnx_path.exists():
        return RuntimeChoice(torch_runner, note="no ONNX export; torch")
    try:
        onnx_runner = OnnxRunner(onnx_path, threads)
    except Exception as exc:  # onnxruntime raises its own types for a bad file
        return RuntimeChoice(torch_runner, note=f"ONNX export unreadable ({type(exc).__name__}); torch")
    if onnx_runner.metadata().get(ONNX_DIGEST_KEY) != ckpt.file_digest(loaded.path):
        return RuntimeChoice(torch_runner, note="ONNX export is of another version of this checkpoint; torch")
    inputs = example_inputs(loaded.metadata)
    latency = {
        "torch": round(median_ms(torch_runner, inputs), 2),
        "onnxruntime": round(median_ms(onnx_runner, inputs), 2),
    }
    faster = onnx_runner if latency["onnxruntime"] < latency["torch"] else torch_runner
    return RuntimeChoice(faster, latency, note=f"{faster.name} was faster on this machine")


def stamp_metadata(loaded: ckpt.Checkpoint) -> dict[str, str]:
    """The custom metadata an export carries: the checkpoint's digest and metadata."""
    return {ONNX_DIGEST_KEY: ckpt.file_digest(loaded.path), ONNX_METADATA_KEY: json.dumps(loaded.metadata)}
