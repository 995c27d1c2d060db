"""Learned-model latency on this CPU: ResNet-18 per face, the window models per window, torch vs ONNX Runtime.

Random weights (latency does not depend on what a network learned), batch 1,
PAINSCOPE model threads (2 by default: the cores here). ResNet-18 at input 160
and 224 px; each LSTM architecture on a 5.5 s window at 10 fps of the "pain"
landmark subset; the ResNet-18 + GRU as served, in its two parts: ResNet-18 on
one 112 px crop (once per frame, cached) and the GRU + head on a 5.5 s window
of cached features at 7.5 frames/s (41 frames); the ECG Transformer on a 5.5 s
ECG window. Prints one JSON line.
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
from server.pain.models import checkpoint, ecg_transformer, inference, resnet, resnet_gru, sequence  # noqa: E402
from server.training.export import export  # noqa: E402

RESNET_SIZES = (160, 224)
TIMED_RUNS = 30


def _time(loaded: checkpoint.Checkpoint, onnx_path: Path, threads: int) -> dict[str, dict[str, float]]:
    """Torch and ONNX Runtime latency of each served part of the checkpoint (``inference.WHOLE`` for most)."""
    export(loaded, onnx_path)
    figures = {}
    for part, module in inference.part_modules(loaded).items():
        inputs = inference.example_inputs(loaded.metadata, part=part)
        onnx = inference.OnnxRunner(inference.part_path(onnx_path, part), threads)
        figures[part] = {
            "torch_ms": round(inference.median_ms(inference.TorchRunner(module), inputs, TIMED_RUNS), 2),
            "onnxruntime_ms": round(inference.median_ms(onnx, inputs, TIMED_RUNS), 2),
        }
    return figures


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
            figures[f"resnet18_{size}px"] = _time(loaded, folder / f"resnet{size}.onnx", threads)[inference.WHOLE]
        spec = sequence.FeatureSpec()
        for arch in sequence.ARCHITECTURES:
            log(arch)
            metadata = {"kind": "lstm", "architecture": arch, "input": spec.to_dict(), "label_set": "binary"}
            loaded = _saved(folder, arch, sequence.SequenceClassifier(arch, spec, 2), metadata)
            figures[f"{arch}_window"] = _time(loaded, folder / f"{arch}.onnx", threads)[inference.WHOLE]
        log("resnet_gru")
        frames = round(resnet_gru.DEFAULT_WINDOW_S * resnet_gru.DEFAULT_FPS)
        gru_input = {"image_size": resnet_gru.DEFAULT_IMAGE_SIZE, "fps": resnet_gru.DEFAULT_FPS,
                     "window_frames": frames}
        metadata = {"kind": "resnet_gru", "architecture": resnet_gru.ARCHITECTURE, "input": gru_input,
                    "label_set": "biovid5"}
        loaded = _saved(folder, "resnet_gru", resnet_gru.build("biovid5"), metadata)
        parts = _time(loaded, folder / "resnet_gru.onnx", threads)
        figures["resnet_gru_frame_features"], figures["resnet_gru_window_head"] = parts["features"], parts["head"]
        log("ecg_transformer")
        ecg_input = {"window_s": ecg_transformer.DEFAULT_WINDOW_S, "rate_hz": ecg_transformer.INPUT_RATE_HZ}
        metadata = {"kind": "ecg_transformer", "architecture": ecg_transformer.ARCHITECTURE, "input": ecg_input,
                    "label_set": "biovid5"}
        loaded = _saved(folder, "ecg_transformer", ecg_transformer.build("biovid5"), metadata)
        figures["ecg_transformer_window"] = _time(loaded, folder / "ecg_transformer.onnx", threads)[inference.WHOLE]
    print(json.dumps({
        "bench": "models", "threads": threads, "batch": 1,
        "lstm_window": {"frames": spec.window_frames, "features": spec.width},
        "resnet_gru_input": {"frames": frames, "image_size": resnet_gru.DEFAULT_IMAGE_SIZE},
        "ecg_transformer_input": {"seconds": ecg_transformer.DEFAULT_WINDOW_S}, **figures,
    }))


if __name__ == "__main__":
    main()
