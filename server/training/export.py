"""Export a checkpoint to ONNX next to it, and check ONNX Runtime gives torch's outputs.

    python -m server.training.export MODEL.pt [--out MODEL.onnx] [--tolerance 1e-4]

The export carries the checkpoint's SHA-256 and metadata, so the server only
uses it with the checkpoint it came from. A ``resnet_gru`` checkpoint is written
as its two served parts, ``MODEL.features.onnx`` (ResNet-18 per crop) and
``MODEL.head.onnx`` (GRU + head per window); the check runs them together on
whole windows against the torch network. Exits non-zero if the outputs differ
by more than the tolerance. One JSON line on stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from server.pain.models import checkpoint, inference

# Largest absolute difference accepted between torch and ONNX Runtime outputs:
# float32 kernels differ in summation order, ~1e-6 relative on these sizes.
DEFAULT_TOLERANCE = 1e-4
OPSET = 17  # supported by every ONNX Runtime release of the last years
CHECK_BATCH = 3  # check a batch > 1 so the dynamic batch axis is exercised


def export(loaded: checkpoint.Checkpoint, out: Path) -> list[Path]:
    """Write the ONNX graph of each served part (dynamic batch) with the checkpoint's digest and metadata.

    Returns the files written: ``out``, or one file per part beside it.
    """
    modules = inference.part_modules(loaded)
    return [_export_part(loaded, part, module, inference.part_path(out, part)) for part, module in modules.items()]


def _export_part(loaded: checkpoint.Checkpoint, part: str, module: torch.nn.Module, out: Path) -> Path:
    import onnx

    metadata = loaded.metadata
    inputs = tuple(torch.from_numpy(x) for x in inference.example_inputs(metadata, part=part))
    names_in, names_out = inference.input_names(metadata, part), inference.output_names(metadata, part)
    axes = {name: {0: "batch"} for name in names_in + names_out}
    tmp = out.with_suffix(".onnx.tmp")
    torch.onnx.export(module, inputs, str(tmp), input_names=names_in, output_names=names_out,
                      dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    graph = onnx.load(str(tmp))
    for key, value in inference.stamp_metadata(loaded).items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(tmp))
    tmp.replace(out)
    return out


def max_difference(loaded: checkpoint.Checkpoint, out: Path) -> float:
    """Largest absolute difference between torch and ONNX Runtime on random inputs of the whole model's shape."""
    rng = np.random.default_rng(0)
    inputs = [x.copy() for x in inference.example_inputs(loaded.metadata, CHECK_BATCH)]
    inputs[0] = rng.standard_normal(inputs[0].shape).astype(np.float32)
    expected = inference.TorchRunner(loaded.model)(*inputs)
    actual = inference.onnx_runner(loaded.metadata, out, threads=1)(*inputs)
    return max(float(np.max(np.abs(e - a))) if e.size else 0.0 for e, a in zip(expected, actual))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m server.training.export", description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="default: the checkpoint with .onnx")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    args = parser.parse_args(argv)
    try:
        loaded = checkpoint.load(args.model)
    except ValueError as exc:
        raise SystemExit(f"{args.model}: {exc}") from exc
    out = args.out or inference.onnx_export_path(args.model)
    written = export(loaded, out)
    difference = max_difference(loaded, out)
    ok = difference <= args.tolerance
    print(json.dumps({"model": str(args.model), "onnx": [str(path) for path in written],
                      "max_abs_difference": difference, "tolerance": args.tolerance, "matches": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
