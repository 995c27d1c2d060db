"""The body-part segmenter's training data: the two folder layouts it reads, as image and class-mask pairs.

Classes: 0 background, 1 head, 2 arm (hand), 3 torso (body), 4 leg (foot), the
values of ``server/vision/body.py``. A data folder is read in one of two layouts:

* **Youtube-Infant-Body-Parsing** (github.com/nihaomiao/Youtube-Infant-Body-Parsing),
  chosen when ``train_label.json`` exists. ``train_label.json`` and
  ``test_label.json`` map each video id to a list of
  ``{"image": "<frame>.jpg", "label": "<base64 PNG>"}``. A label is a colour
  PNG: black background, head (44, 160, 44), hand (31, 119, 180),
  body (255, 127, 14), foot (214, 39, 40); any other colour counts as
  background, as in the dataset's own reading code. The frames (a separate
  download) may sit anywhere under the folder and are found by file name. The
  ``*_unlabel.json`` files are not used. Test: ``test_label.json``.
  Validation: ``--validation-fraction`` of the training *videos*, so frames
  of one video are never on both sides.
* **Folder layout** otherwise::

      images/<name>.jpg|.jpeg|.png   the images, RGB, any size
      masks/<name>.png               single channel (8-bit grey or palette indices),
                                     class values 0-4, the size of its image
      train.txt, val.txt, test.txt   one image per line, by file name or stem
                                     (relative to images/); blank lines and
                                     lines starting with # are ignored

  All three split files must exist; ``test.txt`` may be empty (then there are
  no test figures). An image may be listed in one split only.

A missing file, an unreadable image, a mask of another size than its image or
a class value outside 0-4 is a :class:`DataProblem` naming the file.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from server.training.splits import make_splits
from server.vision.body import ARM, BACKGROUND, HEAD, LEG, TORSO
from server.vision.segmenter import CLASSES, resize_to_input

# The class values a mask may hold: 0 .. NUM_CLASSES - 1 (server/vision/segmenter.py CLASSES).
NUM_CLASSES = len(CLASSES)
DEFAULT_VALIDATION_FRACTION = 0.2  # of the training videos (Youtube-Infant-Body-Parsing layout)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SPLIT_FILES = {"train": "train.txt", "validation": "val.txt", "test": "test.txt"}
# Youtube-Infant-Body-Parsing label colours (RGB), from the dataset's README, and the class each is here.
YIBP_COLOURS: dict[tuple[int, int, int], int] = {
    (44, 160, 44): HEAD,
    (31, 119, 180): ARM,  # "hand"
    (255, 127, 14): TORSO,  # "body"
    (214, 39, 40): LEG,  # "foot"
}
YIBP_TRAIN, YIBP_TEST = "train_label.json", "test_label.json"


class DataProblem(ValueError):
    """The data folder cannot be used as it is; the message names the file."""


@dataclass(frozen=True)
class Sample:
    """One labelled image: where the image is and where its classes come from."""

    name: str  # the image's name within its layout
    group: str  # frames that must stay on one side of a split: the video, or the image itself
    image: Path
    mask: Path | None = None  # single-channel PNG of class values (folder layout)
    label_png: bytes | None = None  # colour label PNG (Youtube-Infant-Body-Parsing)


@dataclass
class SegmentationData:
    """The three splits of a data folder."""

    layout: str
    root: Path
    train: list[Sample]
    validation: list[Sample]
    test: list[Sample]

    def summary(self) -> dict[str, Any]:
        """Counts per split (images, and videos / groups), for the checkpoint and the JSON line."""
        splits = {"train": self.train, "validation": self.validation, "test": self.test}
        return {
            "layout": self.layout,
            "root": str(self.root),
            "images": {name: len(samples) for name, samples in splits.items()},
            "groups": {name: len({s.group for s in samples}) for name, samples in splits.items()},
        }


def scan(root: Path, validation_fraction: float = DEFAULT_VALIDATION_FRACTION, seed: int = 0) -> SegmentationData:
    """The splits of ``root`` in whichever layout it has (see the module docstring); ``DataProblem`` if unusable."""
    if not root.is_dir():
        raise DataProblem(f"{root}: not a folder")
    if (root / YIBP_TRAIN).is_file():
        return scan_yibp(root, validation_fraction, seed)
    return scan_folder(root)


def scan_folder(root: Path) -> SegmentationData:
    """``images/``, ``masks/`` and ``train.txt`` / ``val.txt`` / ``test.txt``."""
    images, masks = root / "images", root / "masks"
    for folder in (images, masks):
        if not folder.is_dir():
            raise DataProblem(f"{folder}: missing (the folder layout needs images/, masks/ and split files; "
                              f"a Youtube-Infant-Body-Parsing folder has {YIBP_TRAIN})")
    splits: dict[str, list[Sample]] = {}
    seen: dict[Path, str] = {}
    for split, file_name in SPLIT_FILES.items():
        list_path = root / file_name
        if not list_path.is_file():
            raise DataProblem(f"{list_path}: missing split file (train.txt, val.txt and test.txt are all needed)")
        samples = []
        for number, line in enumerate(list_path.read_text().splitlines(), start=1):
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            image = _find_image(images, entry)
            if image is None:
                raise DataProblem(f"{list_path} line {number}: no image {entry!r} in {images}")
            if image in seen:
                raise DataProblem(f"{list_path} line {number}: {entry!r} is already in {seen[image]}")
            seen[image] = file_name
            relative = image.relative_to(images)
            samples.append(Sample(str(relative), str(relative), image, mask=masks / relative.with_suffix(".png")))
        splits[split] = samples
    for split in ("train", "validation"):
        if not splits[split]:
            raise DataProblem(f"{root / SPLIT_FILES[split]}: lists no image")
    return SegmentationData("folder (images/, masks/, train/val/test.txt)", root, **splits)


def _find_image(images: Path, entry: str) -> Path | None:
    """``images/entry`` when it is an image file, else ``images/entry.<suffix>``."""
    direct = images / entry
    if direct.suffix.lower() in IMAGE_SUFFIXES and direct.is_file():
        return direct
    for suffix in IMAGE_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES):
        candidate = images / f"{entry}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def scan_yibp(root: Path, validation_fraction: float, seed: int) -> SegmentationData:
    """``train_label.json`` / ``test_label.json`` and the frames somewhere under ``root``."""
    if not (root / YIBP_TEST).is_file():
        raise DataProblem(f"{root / YIBP_TEST}: missing (the Youtube-Infant-Body-Parsing test split)")
    frames: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            frames.setdefault(path.name, path)
    labelled = _yibp_samples(root / YIBP_TRAIN, frames)
    test = _yibp_samples(root / YIBP_TEST, frames)
    try:
        split = make_splits([s.group for s in labelled], validation_fraction=validation_fraction, seed=seed)[0]
    except ValueError as exc:
        raise DataProblem(f"{root / YIBP_TRAIN}: {exc}") from exc
    return SegmentationData(
        "Youtube-Infant-Body-Parsing (train_label.json, test_label.json, frames)", root,
        train=[s for s in labelled if s.group in split.train],
        validation=[s for s in labelled if s.group in split.validation],
        test=test,
    )


def _yibp_samples(json_path: Path, frames: dict[str, Path]) -> list[Sample]:
    """The labelled frames one of the dataset's JSON files lists."""
    try:
        videos = json.loads(json_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataProblem(f"{json_path}: not readable JSON ({exc})") from exc
    if not isinstance(videos, dict):
        raise DataProblem(f"{json_path}: expected an object of video id -> list of frames")
    samples, missing = [], []
    for video, entries in videos.items():
        if not isinstance(entries, list):
            raise DataProblem(f"{json_path}: video {video}: expected a list of frames")
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("image"), str) or "label" not in entry:
                raise DataProblem(f"{json_path}: video {video}: a frame without 'image' and 'label'")
            name = entry["image"]
            try:
                png = base64.b64decode(entry["label"], validate=True)
            except (binascii.Error, TypeError) as exc:
                raise DataProblem(f"{json_path}: {name}: the label is not base64 ({exc})") from exc
            if name not in frames:
                missing.append(name)
                continue
            samples.append(Sample(name, str(video), frames[name], label_png=png))
    if missing:
        raise DataProblem(
            f"{json_path}: {len(missing)} labelled frame(s) not found under {json_path.parent} "
            f"(first: {', '.join(missing[:3])}); unpack the dataset's frames there"
        )
    return samples


def read_pair(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 H x W x 3, classes uint8 H x W) of a sample; ``DataProblem`` naming the file if unusable."""
    try:
        with Image.open(sample.image) as image:
            rgb = np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise DataProblem(f"{sample.image}: not a readable image ({exc})") from exc
    return rgb, _read_mask(sample, rgb.shape[:2])


def check_samples(samples: Sequence[Sample]) -> None:
    """Every image readable (its header) and every mask valid and of its image's size, before any training."""
    for sample in tqdm(samples, desc="checking images and masks", unit="image"):
        try:
            with Image.open(sample.image) as image:
                width, height = image.size
        except (OSError, UnidentifiedImageError) as exc:
            raise DataProblem(f"{sample.image}: not a readable image ({exc})") from exc
        _read_mask(sample, (height, width))


def _read_mask(sample: Sample, shape: tuple[int, int]) -> np.ndarray:
    """The sample's classes, which must be an image of ``shape`` (H, W)."""
    if sample.mask is not None:
        mask, source = _read_class_mask(sample.mask), str(sample.mask)
    else:
        mask, source = _read_colour_label(sample.label_png or b"", sample.name), f"the label of {sample.name}"
    if mask.shape != tuple(shape):
        raise DataProblem(f"{source} is {mask.shape[1]} x {mask.shape[0]} px, its image {sample.image} is "
                          f"{shape[1]} x {shape[0]} px")
    return mask


def _read_class_mask(path: Path) -> np.ndarray:
    """A single-channel PNG of class values 0-4."""
    if not path.is_file():
        raise DataProblem(f"{path}: missing mask")
    try:
        with Image.open(path) as image:
            if image.mode not in ("1", "L", "P", "I", "I;16"):
                raise DataProblem(f"{path}: a {image.mode} image, not single-channel class values "
                                  "(save the classes 0-4 as 8-bit grey or palette indices)")
            values = np.asarray(image)
    except (OSError, UnidentifiedImageError) as exc:
        raise DataProblem(f"{path}: not a readable mask ({exc})") from exc
    bad = np.unique(values[values >= NUM_CLASSES]) if values.size else []
    if len(bad):
        raise DataProblem(f"{path}: class values {[int(v) for v in bad[:5]]} outside 0-{NUM_CLASSES - 1}")
    return values.astype(np.uint8)


def _read_colour_label(png: bytes, name: str) -> np.ndarray:
    """A Youtube-Infant-Body-Parsing colour label -> class values (unknown colours are background)."""
    try:
        rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise DataProblem(f"the label of {name} is not a readable PNG ({exc})") from exc
    classes = np.full(rgb.shape[:2], BACKGROUND, np.uint8)
    for colour, value in YIBP_COLOURS.items():
        classes[np.all(rgb == colour, axis=2)] = value
    return classes


def load_arrays(samples: Sequence[Sample], size: int, description: str) -> tuple[np.ndarray, np.ndarray]:
    """Images N x size x size x 3 and masks N x size x size (uint8), resized as the server resizes."""
    images = np.zeros((len(samples), size, size, 3), np.uint8)
    masks = np.zeros((len(samples), size, size), np.uint8)
    for index, sample in enumerate(tqdm(samples, desc=description, unit="image")):
        rgb, mask = read_pair(sample)
        images[index] = resize_to_input(rgb, size)
        masks[index] = cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)
    return images, masks
