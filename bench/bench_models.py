"""Learned-model latency on this CPU: ResNet-18 per face and the LSTM family per window, torch vs ONNX Runtime.

Random weights (latency does not depend on what a network learned), batch 1,
PAINSCOPE model threads (2 by default: the cores here). ResNet-18 at input 160
and 224 px; each sequence architecture on a 5.5 s window at 10 fps of the
"pain" landmark subset. Prints one JSON line.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from bench.common import log  # noqa: E402
from server.config import Settings  # noqa: E402
from server.pain import checkpoint, inference, resnet, sequence  # noqa: E402
from server.training.export import export  # noqa: E402

RESNET_SIZES = (160, 224)
TIMED_RUNS = 30


def _time(loaded: checkpoint.Checkpoint, onnx_path: Path, threads: int) -> dict[str, float]:
    export(loaded, onnx_path)
    inputs = inference.example_inputs(loaded.metadata)
    return {
        "torch_ms": round(inference.median_ms(inference.TorchRunner(loaded.model), inputs, TIMED_RUNS), 2),
        "onnxruntime_ms": round(inference.median_ms(inference.OnnxRunner(onnx_path, threads), inputs, TIMED_RUNS), 2),
    }


def _saved(folder: Path, name: str, model: torch.nn.Module, metadata: dict) -> checkpoint.Checkpoint:
    path = folder / f"{name}.pt"
    checkpoint.save(path, model, metadata)
    return checkpoint.load(path)


def main() -> None:
    """Measure and print."""
    threads = Settings.from_env().model_threads
    torch.set_num_threads(threads)
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in RESNET_SIZES:
            log(f"resnet18 {size}px")
            metadata = {"kind": "resnet18", "architecture": "resnet18", "input": {"image_size": size}}
            loaded = _saved(folder, f"resnet{size}", resnet.build(), metadata)
            figures[f"resnet18_{size}px"] = _time(loaded, folder / f"resnet{size}.onnx", threads)
        spec = sequence.FeatureSpec()
        for arch in sequence.ARCHITECTURES:
            log(arch)
            metadata = {"kind": "lstm", "architecture": arch, "input": spec.to_dict(), "label_set": "binary"}
            loaded = _saved(folder, arch, sequence.SequenceClassifier(arch, spec, 2), metadata)
            figures[f"{arch}_window"] = _time(loaded, folder / f"{arch}.onnx", threads)
    print(json.dumps({
        "bench": "models", "threads": threads, "batch": 1,
        "lstm_window": {"frames": spec.window_frames, "features": spec.width}, **figures,
    }))


if __name__ == "__main__":
    main()
