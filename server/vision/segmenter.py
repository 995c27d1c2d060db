"""A learned body-part segmenter (an ONNX export of ``python -m server.training.segment``), run with ONNX Runtime.

The network labels every pixel background / head / arm / torso / leg (the
class values of :mod:`server.vision.body`). When ``models/segmentation.onnx``
(``PAINSCOPE_SEGMENTATION_MODEL``) is present, the body endpoints take their
label mask from it instead of from pose bones; boxes, centroids, areas,
overlay and movement are the same code either way.

The export carries its own metadata (JSON in the ONNX ``metadata_props``):
classes, input size and normalisation, data summary and test figures. The
image is resized (stretched) to the square input size the network was trained
at, normalised as the metadata says, and the logits are resized back to the
image. The preprocessing lives here and the trainer imports it, so training,
testing and serving prepare an image the same way.

ONNX Runtime is used directly rather than through ``server.pain.models.inference``:
that module imports torch, which a server with only a segmenter need not load.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from server.vision.body import CLASS_NAMES

# Key of the JSON metadata in the export's metadata_props; the same key as
# server.pain.models.inference.ONNX_METADATA_KEY (not imported from there: it imports torch).
METADATA_KEY = "painscope_metadata"
KIND = "segmentation"  # metadata "kind" of a segmenter export
INPUT_NAME = "image"  # N x 3 x H x W float32, normalised
OUTPUT_NAME = "logits"  # N x classes x H x W
# The class names in class-value order (0 background ... 4 leg): an export must list exactly these.
CLASSES: tuple[str, ...] = tuple(CLASS_NAMES[value] for value in sorted(CLASS_NAMES))
# Logits are resized bilinearly to the image, but to at most this many pixels on the long
# side; the labels are then scaled up by nearest neighbour. The network sees a 256 px
# square by default, so a boundary finer than 1/640 of the side carries no information,
# and 640 px is the frame width of the Youtube-Infant-Body-Parsing videos.
LOGITS_MAX_SIDE = 640
# Metadata kept out of /health: the per-epoch history grows with the epochs.
DESCRIBE_OMITTED = ("history",)


def resize_to_input(rgb: np.ndarray, size: int) -> np.ndarray:
    """An RGB uint8 image stretched to ``size`` x ``size`` (area averaging when shrinking)."""
    shrinking = rgb.shape[0] * rgb.shape[1] > size * size
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def normalise(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 N x H x W x 3 -> float32 N x 3 x H x W, ``(x / 255 - mean) / std`` per channel."""
    x = images.astype(np.float32) / 255.0
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def labels_from_logits(logits: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """classes x h x w logits -> uint8 labels of ``shape`` (H, W): bilinear logits, argmax, nearest up-scaling."""
    height, width = shape
    scale = min(1.0, LOGITS_MAX_SIDE / max(height, width))
    work_w, work_h = max(1, round(width * scale)), max(1, round(height * scale))
    planes = np.ascontiguousarray(logits.transpose(1, 2, 0), dtype=np.float32)  # h x w x classes for OpenCV
    if planes.shape[:2] != (work_h, work_w):
        planes = cv2.resize(planes, (work_w, work_h), interpolation=cv2.INTER_LINEAR)
        if planes.ndim == 2:  # OpenCV drops a single channel's axis
            planes = planes[:, :, None]
    labels = np.argmax(planes, axis=2).astype(np.uint8)
    if labels.shape != (height, width):
        labels = cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)
    return labels


class LearnedSegmenter:
    """An exported segmenter loaded with ONNX Runtime; ``label_mask(rgb)`` gives a class per pixel.

    ``ValueError`` with the reason when the file is not a usable PainScope
    segmenter (unreadable, no or wrong metadata, wrong input or output).
    ONNX Runtime sessions may be run from several threads at once.
    """

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort  # imported only when a segmenter file exists

        self.path = Path(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for a bad file
            raise ValueError(f"not a loadable ONNX model ({type(exc).__name__}: {exc})") from exc
        self.metadata = _read_metadata(self.session)
        self.size = int(self.metadata["input"]["size"])
        self.mean = [float(v) for v in self.metadata["input"]["mean"]]
        self.std = [float(v) for v in self.metadata["input"]["std"]]
        names = [i.name for i in self.session.get_inputs()]
        if names != [INPUT_NAME]:
            raise ValueError(f"expected one input named {INPUT_NAME!r}, found {names}")
        # One dry run: the file really runs, and gives one plane of logits per class.
        probe = np.zeros((1, 3, self.size, self.size), np.float32)
        try:
            out = self.session.run(None, {INPUT_NAME: probe})[0]
        except Exception as exc:  # onnxruntime's own types
            raise ValueError(f"the model does not run on a {self.size} px image ({type(exc).__name__}: {exc})") from exc
        if out.shape[:2] != (1, len(CLASSES)):
            raise ValueError(f"expected logits 1 x {len(CLASSES)} x H x W, got {list(out.shape)}")

    @property
    def method(self) -> str:
        """How body parts were found, as the API reports it."""
        return f"learned segmenter ({self.path.name})"

    def label_mask(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 H x W class values 0-4 (``server.vision.body`` classes) for an RGB uint8 H x W x 3 image."""
        x = normalise(resize_to_input(rgb, self.size)[None], self.mean, self.std)
        logits = self.session.run(None, {INPUT_NAME: x})[0][0]
        return labels_from_logits(logits, rgb.shape[:2])

    def describe(self) -> dict[str, Any]:
        """What /health says about it: file, classes, input, training data summary and figures."""
        training = {k: v for k, v in self.metadata.get("training", {}).items() if k not in DESCRIBE_OMITTED}
        return {
            "file": self.path.name,
            "method": self.method,
            "architecture": self.metadata.get("architecture"),
            "classes": list(CLASSES),
            "input": self.metadata["input"],
            "data": self.metadata.get("data"),
            "training": training,
            "metrics": self.metadata.get("metrics"),
        }


def _read_metadata(session: Any) -> dict[str, Any]:
    """The export's PainScope metadata, checked to describe a body-part segmenter of PainScope's classes."""
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if raw is None:
        raise ValueError(f"no PainScope metadata ({METADATA_KEY!r}); export it with python -m server.training.segment")
    try:
        metadata = json.loads(raw)
        kind, classes, size = metadata["kind"], metadata["classes"], int(metadata["input"]["size"])
        mean, std = metadata["input"]["mean"], metadata["input"]["std"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable PainScope metadata ({type(exc).__name__}: {exc})") from exc
    if kind != KIND:
        raise ValueError(f"the model is a {kind!r}, not a {KIND!r} model")
    if list(classes) != list(CLASSES):
        raise ValueError(f"its classes {classes} are not PainScope's body classes {list(CLASSES)}")
    if size < 1 or len(mean) != 3 or len(std) != 3:
        raise ValueError(f"bad input description {metadata['input']}")
    return metadata


@dataclass
class SegmenterFile:
    """The segmenter file found in the models directory: loaded, or broken with the reason."""

    file: str
    status: str  # "loaded" | "broken"
    detail: str
    segmenter: LearnedSegmenter | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for /health."""
        described = self.segmenter.describe() if self.segmenter is not None else {"file": self.file}
        return {**described, "status": self.status, "detail": self.detail}


def load_segmenter(models_dir: str | Path, file_name: str, threads: int) -> SegmenterFile | None:
    """The segmenter ``models_dir/file_name``: None when there is no such file; a broken file never raises."""
    path = Path(models_dir) / file_name
    if not file_name or not path.is_file():
        return None
    try:
        segmenter = LearnedSegmenter(path, threads)
    except (ValueError, OSError) as exc:
        return SegmenterFile(file=path.name, status="broken", detail=str(exc))
    return SegmenterFile(file=path.name, status="loaded", detail="ready", segmenter=segmenter)
