"""Train the learned body-part segmenter (DeepLabV3-MobileNetV3) and export it to ONNX for the body endpoints.

    python -m server.training.segment DATA_DIR --out models/segmentation.onnx \\
        [--epochs 30] [--batch-size 8] [--size 256] [--lr 1e-3] [--seed 0] [--init STATE_DICT] \\
        [--class-weights] [--patience 5] [--validation-fraction 0.2] [--device cpu|cuda] [--note TEXT]

Classes: 0 background, 1 head, 2 arm (hand), 3 torso (body), 4 leg (foot), the
values of ``server/vision/body.py``. DATA_DIR is read in one of two layouts, the
Youtube-Infant-Body-Parsing one or images/ + masks/ + train/val/test.txt: see
``server/training/segment_data.py``; the IoU figures are ``segment_metrics.py``'s.
A missing file, an unreadable image, a mask of another size than its image or
a class value outside 0-4 stops the run with a message naming the file
(exit status 1).

Training: images are stretched to ``--size`` square (as the server does),
flipped left-right at random and their brightness jittered; cross-entropy
(``--class-weights``: median-frequency balancing), Adam, early stopping on
the validation mean IoU (at the input size), the best epoch kept. The test
figures (per-class IoU, mean IoU, pixel accuracy, and the mean IoU of
answering "background" everywhere) are measured at each mask's own size,
through the same resizing as the server.

Writes the checkpoint (``--checkpoint``, default: OUT with ``.pt``), then the
ONNX export OUT (input ``image`` N x 3 x H x W float32 normalised with the
ImageNet mean and std, dynamic batch, height and width; output ``logits``
N x 5 x H x W) with the metadata as JSON in its ``metadata_props``, and checks
ONNX Runtime against torch. One JSON line on stdout; when they differ by
more than ``--tolerance`` the export is left as ``OUT`` with ``.rejected.onnx``
(the server only loads OUT's name) and the exit status is 1. Nothing is downloaded: the network starts
from random weights or from the local ``--init`` file.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from server.pain.models import checkpoint, inference, resnet
from server.training.export import OPSET
from server.training.loop import pick_device, seed_everything, summary_row, train
from server.training.segment_data import (
    DEFAULT_VALIDATION_FRACTION,
    NUM_CLASSES,
    DataProblem,
    Sample,
    SegmentationData,
    check_samples,
    load_arrays,
    read_pair,
    scan,
)
from server.training.segment_metrics import confusion, iou_figures
from server.vision.segmenter import (
    CLASSES,
    INPUT_NAME,
    KIND,
    METADATA_KEY,
    OUTPUT_NAME,
    labels_from_logits,
    normalise,
    resize_to_input,
)

ARCHITECTURE = "deeplabv3_mobilenet_v3_large"
DEFAULT_SIZE = 256  # px square; the dataset's frames are 640 x 360 or 480 x 360 and the infant fills much of them
DEFAULT_EPOCHS = 30
DEFAULT_BATCH = 8  # images of 256 px per step fit a CPU's memory with room to spare
DEFAULT_LR = 1e-3  # Adam's usual rate (Kingma & Ba 2015); try 1e-4 when --init starts from ImageNet weights
DEFAULT_PATIENCE = 5
# Largest absolute difference accepted between torch and ONNX Runtime logits: the issue's
# bar; float32 kernels differ in summation order, ~1e-6 of logits that reach ~10-20.
DEFAULT_TOLERANCE = 1e-3
CHECK_IMAGES = 3  # real images in the ONNX check's batch (a batch > 1 exercises the batch axis)
CHECK_OTHER_SHAPE = (3, 4)  # the check also runs one input of height:width 3:4 times the size (dynamic axes)
INFERENCE_BATCH = 16
# Brightness jitter of training images (multiplicative, +-): room and incubator lighting
# vary by about this much between recordings.
BRIGHTNESS_JITTER = 0.2
# BatchNorm in DeepLabV3's image-pooling branch sees one value per channel per image,
# so a training batch needs at least two images; a smaller last batch is dropped.
MIN_BATCH = 2
# BatchNorm running-statistics momentum: PyTorch's default. torchvision's MobileNetV3 uses
# 0.01 (TensorFlow's 0.99 decay), with which the statistics used at evaluation take
# thousands of steps to reach the data's; a small dataset gives a few hundred.
BN_MOMENTUM = 0.1
MIN_SIZE = 32  # px; the backbone reduces the image 16-fold: 2 x 2 features at 32 px


def build_model(init: Path | None = None) -> tuple[nn.Module, dict[str, Any] | None]:
    """DeepLabV3-MobileNetV3-Large for the five classes, random or from a local state dict; and what ``init`` gave.

    ``init`` may hold a torchvision ``mobilenet_v3_large`` (ImageNet classifier:
    its ``features.*`` become the backbone) or a ``deeplabv3_mobilenet_v3_large``
    state dict (any number of classes: a head of another shape is left random).
    A file none of whose weights fit is refused with ``ValueError``.
    """
    model = torchvision.models.segmentation.deeplabv3_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=NUM_CLASSES, aux_loss=False
    )
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = BN_MOMENTUM
    if init is None:
        return model, None
    try:
        state = torch.load(init, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise ValueError(f"{init}: not a readable state dict ({type(exc).__name__}: {exc})") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{init}: not a state dict")
    own = model.state_dict()
    renamed = {("backbone." + k[len("features."):] if k.startswith("features.") else k): v for k, v in state.items()}
    fitting = {k: v for k, v in renamed.items()
               if k in own and isinstance(v, torch.Tensor) and tuple(v.shape) == tuple(own[k].shape)}
    parameters = {name for name, _ in model.named_parameters()}
    if not fitting.keys() & parameters:
        raise ValueError(f"{init} holds no weights of this network (none of its keys fits "
                         f"{ARCHITECTURE} or a torchvision mobilenet_v3_large).")
    model.load_state_dict(fitting, strict=False)
    return model, {"file": init.name, "tensors_loaded": len(fitting), "tensors_in_model": len(own)}


def class_weights(masks: np.ndarray) -> np.ndarray:
    """Median-frequency balancing (Eigen & Fergus 2015): median class frequency / class frequency; 0 if absent."""
    counts = np.bincount(masks.ravel(), minlength=NUM_CLASSES).astype(np.float64)
    frequency = counts / counts.sum()
    present = frequency > 0
    weights = np.zeros(NUM_CLASSES)
    weights[present] = np.median(frequency[present]) / frequency[present]
    return weights.astype(np.float32)


class LogitsOnly(nn.Module):
    """The torchvision model's ``out`` logits as a plain tensor (what the export's single output carries)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` N x 3 x H x W normalised -> logits N x classes x H x W."""
        return self.model(image)["out"]


def logits(model: nn.Module, images: np.ndarray, device: torch.device) -> np.ndarray:
    """Logits N x classes x S x S (float32) of one batch of uint8 images N x S x S x 3."""
    model.eval()
    with torch.inference_mode():
        x = torch.from_numpy(normalise(images, resnet.IMAGENET_MEAN, resnet.IMAGENET_STD)).to(device)
        return model(x)["out"].float().cpu().numpy()


def predict_at_size(model: nn.Module, images: np.ndarray, device: torch.device) -> np.ndarray:
    """Classes N x S x S (uint8) of uint8 images N x S x S x 3, in batches (logits are never all in memory)."""
    labels = np.zeros(images.shape[:3], np.uint8)
    for start in range(0, len(images), INFERENCE_BATCH):
        labels[start:start + INFERENCE_BATCH] = logits(model, images[start:start + INFERENCE_BATCH], device).argmax(1)
    return labels


def evaluate(model: nn.Module, samples: Sequence[Sample], size: int, description: str) -> dict[str, Any]:
    """IoU figures over ``samples`` at each mask's own size, predicted the way the server predicts (CPU)."""
    counts = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    cpu = torch.device("cpu")
    for sample in tqdm(samples, desc=description, unit="image"):
        rgb, mask = read_pair(sample)
        scores = logits(model, resize_to_input(rgb, size)[None], cpu)[0]
        counts += confusion(mask, labels_from_logits(scores, mask.shape))
    return {"images": len(samples), **iou_figures(counts)}


def train_model(args: argparse.Namespace, data: SegmentationData, model: nn.Module, device: torch.device
                ) -> tuple[nn.Module, dict[str, Any]]:
    """Train on ``data.train`` with early stopping on ``data.validation``; the model (CPU, eval) and its record."""
    images, masks = load_arrays(data.train, args.size, "training images")
    val_images, val_masks = load_arrays(data.validation, args.size, "validation images")
    if len(images) < MIN_BATCH:
        raise DataProblem(f"{data.root}: {len(images)} training image(s); at least {MIN_BATCH} are needed")
    model = model.to(device)
    weights = class_weights(masks) if args.class_weights else None
    weight_tensor = torch.from_numpy(weights).to(device) if weights is not None else None
    generator = np.random.default_rng(args.seed)
    batch_size = args.batch_size

    def batches(epoch: int):
        # Index batches: loop.train lists an epoch's batches up front, so images are fetched in loss_of.
        order = generator.permutation(len(images))
        for step, start in enumerate(range(0, len(order), batch_size)):
            chosen = order[start:start + batch_size]
            if (args.max_steps and step >= args.max_steps) or len(chosen) < MIN_BATCH:
                break
            yield (torch.from_numpy(chosen),)

    def loss_of(net: nn.Module, batch) -> torch.Tensor:
        chosen = batch[0].numpy()
        x, y = images[chosen], masks[chosen]
        flip = generator.random(len(chosen)) < 0.5  # the classes have no left and right
        x = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
        y = np.where(flip[:, None, None], y[:, :, ::-1], y)
        gain = 1.0 + generator.uniform(-BRIGHTNESS_JITTER, BRIGHTNESS_JITTER, (len(chosen), 1, 1, 1))
        x = np.clip(x * gain, 0, 255).astype(np.uint8)
        inputs = torch.from_numpy(normalise(x, resnet.IMAGENET_MEAN, resnet.IMAGENET_STD)).to(device)
        target = torch.from_numpy(y.astype(np.int64)).to(device)
        return F.cross_entropy(net(inputs)["out"], target, weight=weight_tensor)

    def validate(net: nn.Module) -> float:
        miou = iou_figures(confusion(val_masks, predict_at_size(net, val_images, device)))["miou"]
        return 1.0 - (miou or 0.0)

    run = train(model, batches, loss_of, validate, args.epochs, args.patience, args.lr, "segmenter")
    model = model.cpu().eval()
    record = {
        **run.to_dict(),
        "validation_figure": "1 - mean IoU on the validation images at the input size",
        "epochs": args.epochs, "batch_size": batch_size, "learning_rate": args.lr, "patience": args.patience,
        "class_weights": [round(float(w), 4) for w in weights] if weights is not None else None,
        "device": args.device, "seed": args.seed,
        "augmentation": f"left-right flip, brightness x(1 +- {BRIGHTNESS_JITTER})",
    }
    pixels = np.bincount(masks.ravel(), minlength=NUM_CLASSES)
    return model, {"training": record, "train_pixel_share": dict(zip(CLASSES, (pixels / pixels.sum()).tolist()))}


def save_checkpoint(path: Path, model: nn.Module, metadata: dict[str, Any]) -> dict[str, Any]:
    """Write the weights with the metadata (plus code version and time) like ``server.pain.models.checkpoint.save``.

    Its own writer because ``checkpoint.save`` accepts only the pain estimators' kinds. Returns the metadata written.
    """
    full = {**metadata, "code": checkpoint.code_version(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    full = json.loads(json.dumps(full))  # plain JSON types only, as weights_only loading and /health need
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": checkpoint.FORMAT, "metadata": full, "state_dict": model.state_dict()}, tmp)
    tmp.replace(path)
    return full


def export_onnx(model: nn.Module, path: Path, size: int, metadata: dict[str, Any], digest: str) -> None:
    """Write the ONNX graph (dynamic batch, height and width) with the metadata and the checkpoint's digest."""
    import onnx

    axes = {name: {0: "batch", 2: "height", 3: "width"} for name in (INPUT_NAME, OUTPUT_NAME)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(LogitsOnly(model).eval(), (torch.zeros(1, 3, size, size),), str(path),
                      input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], dynamic_axes=axes,
                      opset_version=OPSET, dynamo=False)
    graph = onnx.load(str(path))
    for key, value in ((METADATA_KEY, json.dumps(metadata)), (inference.ONNX_DIGEST_KEY, digest)):
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(path))


def max_difference(model: nn.Module, out: Path, images: np.ndarray, size: int) -> float:
    """Largest absolute logit difference, torch vs ONNX Runtime: a batch of real images, and one other shape."""
    rng = np.random.default_rng(0)
    height, width = (max(1, size * k // CHECK_OTHER_SHAPE[1]) for k in CHECK_OTHER_SHAPE)
    inputs = [
        normalise(images[:CHECK_IMAGES], resnet.IMAGENET_MEAN, resnet.IMAGENET_STD),
        rng.standard_normal((1, 3, height, width)).astype(np.float32),
    ]
    torch_runner, onnx_runner = inference.TorchRunner(LogitsOnly(model).eval()), inference.OnnxRunner(out, threads=1)
    return max(float(np.max(np.abs(torch_runner(x)[0] - onnx_runner(x)[0]))) for x in inputs if len(x))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    checkpoint_file = args.checkpoint or args.out.with_suffix(".pt")
    device = pick_device(args.device)
    seed_everything(args.seed)
    try:
        model, init = build_model(args.init)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    try:
        data = scan(args.data_dir, args.validation_fraction, args.seed)
        print(f"{data.layout}: {data.summary()['images']}", file=sys.stderr)
        check_samples(data.train + data.validation + data.test)
        model, record = train_model(args, data, model, device)
        figures = {"validation": evaluate(model, data.validation, args.size, "validation figures"),
                   "test": evaluate(model, data.test, args.size, "test figures") if data.test else None}
        check_images, _ = load_arrays((data.test or data.validation)[:CHECK_IMAGES], args.size, "ONNX check images")
    except DataProblem as exc:
        raise SystemExit(str(exc)) from exc
    summary = {**data.summary(), "train_pixel_share": record["train_pixel_share"], "note": args.note}
    metadata = save_checkpoint(checkpoint_file, model, {
        "kind": KIND,
        "architecture": ARCHITECTURE,
        "classes": list(CLASSES),
        "input": {
            "size": args.size, "resize": "stretched to size x size", "layout": "N x 3 x H x W float32 RGB",
            "normalisation": "imagenet", "mean": _rounded(resnet.IMAGENET_MEAN), "std": _rounded(resnet.IMAGENET_STD),
            "dynamic_axes": ["batch", "height", "width"],
        },
        "output": f"{OUTPUT_NAME}: N x {NUM_CLASSES} x H x W",
        "data": summary,
        "training": {**record["training"], "init": init},
        "metrics": figures,
    })
    # Exported beside OUT and moved there only when it matches torch: the server loads OUT at start.
    candidate = args.out.with_suffix(".unchecked.onnx")
    export_onnx(model, candidate, args.size, metadata, checkpoint.file_digest(checkpoint_file))
    difference = max_difference(model, candidate, check_images, args.size)
    ok = difference <= args.tolerance
    written = args.out if ok else args.out.with_suffix(".rejected.onnx")
    candidate.replace(written)
    keys = ("images", "miou", "iou", "pixel_accuracy", "all_background_miou")
    row = summary_row(checkpoint_file, "test" if data.test else "validation",
                      {k: v for k, v in figures.items() if v is not None}, keys)
    print(json.dumps({**row, "onnx": str(written), "max_abs_difference": difference, "tolerance": args.tolerance,
                      "matches": ok, "data": {k: v for k, v in summary.items() if k != "note"}}))
    if not ok:
        print(f"ONNX Runtime and torch differ by {difference:.3g} > {args.tolerance:g}: the export is left as "
              f"{written}, not {args.out}, so the server does not load it", file=sys.stderr)
    return 0 if ok else 1


def _rounded(values: np.ndarray) -> list[float]:
    """float32 constants as the decimals they were written as (0.485, not 0.48500001430511475)."""
    return [round(float(v), 6) for v in values]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m server.training.segment", description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", type=Path, help="Youtube-Infant-Body-Parsing folder, or images/ masks/ *.txt")
    parser.add_argument("--out", type=Path, required=True, help="ONNX file to write, e.g. models/segmentation.onnx")
    parser.add_argument("--checkpoint", type=Path, default=None, help="checkpoint to write (default: OUT with .pt)")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="square input side in pixels")
    parser.add_argument("--init", type=Path, default=None,
                        help="local state dict: torchvision mobilenet_v3_large or deeplabv3_mobilenet_v3_large")
    parser.add_argument("--class-weights", action="store_true", help="weight the loss by median-frequency balancing")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--lr", type=float, default=DEFAULT_LR)
    parser.add_argument("--patience", type=int, default=DEFAULT_PATIENCE,
                        help="epochs without improvement before stopping")
    parser.add_argument("--max-steps", type=int, default=0, help="cap batches per epoch (0: all)")
    parser.add_argument("--validation-fraction", type=float, default=DEFAULT_VALIDATION_FRACTION,
                        help="of the training videos (Youtube-Infant-Body-Parsing layout only)")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help="largest accepted torch - ONNX Runtime logit difference")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="what the data is, stored in the checkpoint")
    args = parser.parse_args(argv)
    if args.size < MIN_SIZE:
        parser.error(f"--size must be at least {MIN_SIZE} px")
    if args.batch_size < MIN_BATCH:
        parser.error(f"--batch-size must be at least {MIN_BATCH} (BatchNorm needs two images per batch)")
    if args.out.suffix != ".onnx":
        parser.error("--out must end in .onnx")
    return args


if __name__ == "__main__":
    sys.exit(main())
