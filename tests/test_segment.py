"""The learned body-part segmenter: its data readers, training CLI, ONNX export, and the body endpoints serving it.

The data are drawn at test time: a stick-figure "infant" (head disc, torso
rectangle, arm and leg bars at random angles, in random skin and clothing
colours) on a noisy background with clutter, with the matching class mask.
A model trained on them proves the pipeline, not a body-part segmenter: such
a model is never shipped.
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from server.config import Settings
from server.training import segment, segment_data
from server.vision.body import ARM, HEAD, LEG, TORSO, parts_from_labels
from server.vision.segmenter import CLASSES, LearnedSegmenter
from tests.conftest import authed_client, create_test_app
from tests import media, reproducible, synthetic
from tests.conftest import multipart

ROOT = Path(__file__).resolve().parent.parent
BASE_SIDE = 112.0  # px: the figure's proportions below are for an image of this side
DATA_SIDE = 112  # training images
# 56 train, 12 validation, 12 test (write_folder_dataset's 70/15/15 split). Issue #13: with
# 40 images (28 train) for 30 epochs the model misplaced head or torso on 7 of 120 held-out
# photos (0, 4 and 3 of 40 for training seeds 0-2), so a machine whose arithmetic differed
# slightly could fail the endpoint test's three. Twice the figures for half the epochs costs
# the same steps and misplaced 2 of 160 (seeds 0-3; see the held-out check below).
DATA_IMAGES = 80
SPLIT_SIZES = {"train": 56, "validation": 12, "test": 12}
PHOTO_SIDE = 256  # the photo posted to the API: a figure twice the training size
# Training settings measured on this 2-core machine: 2.5-5.5 min on one thread (tests/reproducible.py)
# while other work ran, test mIoU ~0.6 against ~0.16 for "background everywhere" (DeepLabV3 sees
# a 128 px image as 8 x 8 features, so thin limbs stay coarse). Adam at 3e-3 leaves the
# all-background start within ~60 steps (4 epochs here).
TRAIN_ARGS = ["--size", "128", "--epochs", "15", "--patience", "15", "--batch-size", "4", "--lr", "3e-3"]
# Held-out photos (other seeds than the endpoint test's 101-103) on which the trained model must
# put head and torso where they were drawn before the endpoint is judged: it converged if it
# does so on at least HELD_OUT_PLACED_MIN of them (measured 40, 39, 39 and 40 of 40 for seeds 0-3).
HELD_OUT_SEEDS = range(1000, 1040)
HELD_OUT_PLACED_MIN = 36
MIOU_MARGIN = 0.2  # the test mIoU must beat "background everywhere" by this much (measured ~0.4)
PART_IOU_MIN = 0.25  # head and torso, the big parts (measured ~0.6 and ~0.73)
VIDEO_FPS, VIDEO_SECONDS, SLIDE_PX_PER_S = 10, 3, 10.0


def _bar(canvas: np.ndarray, start: tuple[float, float], angle: float, length: float, width: float,
         value: tuple[float, ...] | int) -> None:
    a = math.radians(angle)
    end = (start[0] + length * math.cos(a), start[1] + length * math.sin(a))
    cv2.line(canvas, (round(start[0]), round(start[1])), (round(end[0]), round(end[1])), value, max(1, round(width)))


def figure(rng: np.random.Generator, side: int, dx: float = 0.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """(RGB, class mask, drawn boxes {"head", "torso"} as x, y, w, h) of one random figure, moved ``dx`` px right.

    The same generator state with another ``dx`` draws the same figure and background, shifted.
    """
    u = side / BASE_SIDE * rng.uniform(0.8, 1.15)
    rgb = np.empty((side, side, 3), np.float32)
    rgb[:] = rng.uniform(30, 225, 3)
    for _ in range(3):  # clutter
        x0, y0 = rng.integers(0, side, 2)
        w, h = rng.integers(side // 10, side // 3, 2)
        cv2.rectangle(rgb, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), rng.uniform(0, 255, 3).tolist(), -1)
    mask = np.zeros((side, side), np.uint8)
    cx = rng.uniform(38 * u + 2, side - 38 * u - 2) + dx
    cy = rng.uniform(38 * u + 2, side - 51 * u - 2)
    tw, th = 24 * u * rng.uniform(0.9, 1.1), 34 * u * rng.uniform(0.9, 1.1)
    top, bottom = cy - th / 2, cy + th / 2
    radius = 13 * u * rng.uniform(0.9, 1.1)
    head = (cx + rng.uniform(-3, 3) * u, top - radius + u)
    skin = (rng.uniform(150, 255) * np.array([1.0, rng.uniform(0.6, 0.85), rng.uniform(0.45, 0.75)])).tolist()
    cloth = rng.uniform(0, 255, 3).tolist()
    for sign in (-1, 1):  # legs from the hips, down and outwards
        start, angle = (cx + sign * tw / 4, bottom - 2 * u), 90 - sign * rng.uniform(-10, 35)
        length = 34 * u * rng.uniform(0.9, 1.1)
        _bar(rgb, start, angle, length, 13 * u, skin)
        _bar(mask, start, angle, length, 13 * u, LEG)
    for sign in (-1, 1):  # arms from the shoulders, anywhere from raised to hanging
        start, lift = (cx + sign * (tw / 2 - 2 * u), top + 4 * u), rng.uniform(-60, 70)
        angle, length = (lift if sign > 0 else 180 - lift), 26 * u * rng.uniform(0.9, 1.1)
        _bar(rgb, start, angle, length, 10 * u, skin)
        _bar(mask, start, angle, length, 10 * u, ARM)
    corner0, corner1 = (round(cx - tw / 2), round(top)), (round(cx + tw / 2), round(bottom))
    cv2.rectangle(rgb, corner0, corner1, cloth, -1)
    cv2.rectangle(mask, corner0, corner1, TORSO, -1)
    centre, r = (round(head[0]), round(head[1])), round(radius)
    cv2.circle(rgb, centre, r, skin, -1)
    cv2.circle(mask, centre, r, HEAD, -1)
    rgb += rng.normal(0, 8, rgb.shape)
    boxes = {"head": (centre[0] - r, centre[1] - r, 2 * r + 1, 2 * r + 1),
             "torso": (corner0[0], corner0[1], corner1[0] - corner0[0] + 1, corner1[1] - corner0[1] + 1)}
    return np.clip(rgb, 0, 255).astype(np.uint8), mask, boxes


def write_folder_dataset(root: Path, count: int = DATA_IMAGES, seed: int = 0) -> list[str]:
    """images/, masks/ and the split files (train by stem, test by file name); the stems in order."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    stems = []
    for index in range(count):
        rgb, mask, _ = figure(rng, DATA_SIDE)
        stem = f"frame{index:03d}"
        Image.fromarray(rgb).save(root / "images" / f"{stem}.png")
        Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
        stems.append(stem)
    n_train, n_val = count * 7 // 10, max(1, count * 15 // 100)
    (root / "train.txt").write_text("# training\n" + "\n".join(stems[:n_train]) + "\n\n")
    (root / "val.txt").write_text("\n".join(stems[n_train:n_train + n_val]) + "\n")
    (root / "test.txt").write_text("\n".join(f"{s}.png" for s in stems[n_train + n_val:]) + "\n")
    return stems


def run_cli(argv: list[str]) -> dict:
    """``segment.main(argv)`` in this process; its JSON line (the last line on stdout)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = segment.main(argv)
    assert status == 0
    return json.loads(out.getvalue().strip().splitlines()[-1])


def _boxes_overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _places_head_and_torso(parts: dict, drawn: dict) -> bool:
    """Head and torso found, each box over the drawn part, the head above the torso (``parts``: name -> dict)."""
    if not {"head", "torso"} <= set(parts):
        return False
    head, torso = parts["head"], parts["torso"]
    return (_boxes_overlap(head["box"], drawn["head"]) and _boxes_overlap(torso["box"], drawn["torso"])
            and head["centroid"][1] < torso["centroid"][1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("segment")
    write_folder_dataset(root / "data")
    onnx_path = root / "out" / "segmentation.onnx"
    with reproducible.one_arithmetic_path():
        summary = run_cli([str(root / "data"), "--out", str(onnx_path), *TRAIN_ARGS, "--note", "test figures"])
    return {"root": root, "onnx": onnx_path, "summary": summary}


@pytest.fixture(scope="module")
def served(trained, tmp_path_factory):
    models = tmp_path_factory.mktemp("segment-models")
    shutil.copy(trained["onnx"], models / "segmentation.onnx")
    shutil.copy(trained["summary"]["checkpoint"], models / "segmentation.pt")  # as the trainer leaves it
    return authed_client(create_test_app(Settings(models_dir=str(models))))


def test_training_beats_background_everywhere_on_the_test_split(trained):
    summary = trained["summary"]
    test = summary["test"]
    assert summary["split"] == "test" and test["images"] == SPLIT_SIZES["test"]
    assert test["miou"] > test["all_background_miou"] + MIOU_MARGIN
    assert test["iou"]["head"] > PART_IOU_MIN and test["iou"]["torso"] > PART_IOU_MIN
    assert summary["data"]["images"] == SPLIT_SIZES
    assert summary["matches"] is True and summary["max_abs_difference"] <= 1e-3
    stored = torch.load(summary["checkpoint"], map_location="cpu", weights_only=True)
    metadata = stored["metadata"]
    assert metadata["kind"] == "segmentation" and metadata["classes"] == list(CLASSES)
    assert metadata["input"]["size"] == 128 and metadata["data"]["note"] == "test figures"
    assert metadata["metrics"]["test"]["miou"] == pytest.approx(test["miou"])
    assert len(metadata["training"]["history"]) == metadata["training"]["epochs_run"] >= 1


def test_the_onnx_export_matches_torch_and_labels_at_the_image_size(trained):
    segmenter = LearnedSegmenter(trained["onnx"], threads=1)
    described = segmenter.describe()
    assert described["classes"] == ["background", "head", "arm", "torso", "leg"]
    assert described["input"]["size"] == 128 and "history" not in described["training"]
    assert described["metrics"]["test"]["miou"] == pytest.approx(trained["summary"]["test"]["miou"])
    # Torch from the checkpoint against ONNX Runtime, at a size and aspect it was not exported at.
    model, _ = segment.build_model()
    model.load_state_dict(torch.load(trained["summary"]["checkpoint"], weights_only=True)["state_dict"])
    x = np.random.default_rng(1).standard_normal((2, 3, 96, 160)).astype(np.float32)
    with torch.inference_mode():
        expected = model.eval()(torch.from_numpy(x))["out"].numpy()
    actual = segmenter.session.run(None, {"image": x})[0]
    assert np.max(np.abs(expected - actual)) <= 1e-3
    rgb, _, _ = figure(np.random.default_rng(7), 150)
    labels = segmenter.label_mask(np.ascontiguousarray(rgb[:, :130]))
    assert labels.shape == (150, 130) and labels.dtype == np.uint8 and labels.max() <= 4


def test_the_trained_segmenter_places_head_and_torso_on_held_out_photos(trained):
    # The convergence check the endpoint test relies on: a model that fails here failed to
    # train (look at the history in its checkpoint), not the endpoint that serves it.
    segmenter = LearnedSegmenter(trained["onnx"], threads=1)
    missed = []
    for seed in HELD_OUT_SEEDS:
        rgb, _, drawn = figure(np.random.default_rng(seed), PHOTO_SIDE)
        parts = parts_from_labels(segmenter.label_mask(rgb)).to_dict()["parts"]
        if not _places_head_and_torso(parts, drawn):
            missed.append(seed)
    placed = len(HELD_OUT_SEEDS) - len(missed)
    assert placed >= HELD_OUT_PLACED_MIN, f"head and torso misplaced on the photos of seeds {missed}"


def test_the_body_endpoint_labels_parts_with_the_learned_segmenter(served):
    for seed in (101, 102, 103):
        rgb, _, drawn = figure(np.random.default_rng(seed), PHOTO_SIDE)
        response = served.post("/api/v1/analyze/body", data=multipart(image=synthetic.encode(rgb, "PNG")),
                                content_type="multipart/form-data")
        assert response.status_code == 200
        body = response.get_json()
        assert body["method"] == "learned segmenter (segmentation.onnx)"
        assert body["person_found"] is True and {"head", "torso"} <= set(body["parts"])
        head, torso = body["parts"]["head"], body["parts"]["torso"]
        assert _boxes_overlap(head["box"], drawn["head"]) and _boxes_overlap(torso["box"], drawn["torso"])
        assert head["centroid"][1] < torso["centroid"][1]
        assert body["overlay_png"].startswith("data:image/png;base64,")
    health = served.get("/health").get_json()["body_segmenter"]
    assert health["status"] == "loaded" and health["file"] == "segmentation.onnx"
    assert health["classes"] == list(CLASSES) and health["metrics"]["test"]["miou"] > 0
    assert served.get("/health").get_json()["models"] == []  # its training checkpoint is no pain model


def test_a_sliding_figure_has_rightward_tracks_from_the_learned_masks(served):
    times = np.arange(VIDEO_FPS * VIDEO_SECONDS) / VIDEO_FPS
    frames = [figure(np.random.default_rng(101), PHOTO_SIDE, dx=SLIDE_PX_PER_S * t)[0] for t in times]
    response = served.post("/api/v1/analyze/body/video", data=multipart(video=media.write_video(frames, VIDEO_FPS)),
                           content_type="multipart/form-data")
    assert response.status_code == 200
    body = response.get_json()
    assert body["method"] == "learned segmenter (segmentation.onnx)"
    assert body["frames_analysed"] == 6 and body["frames_with_person"] == 6
    xs = [x for _, x, _ in body["tracks"]["torso"]]
    assert len(xs) == 6 and xs[-1] - xs[0] > 0.5 * SLIDE_PX_PER_S * 2.5
    assert body["movement_index"]["torso"] > 0


def test_a_broken_segmenter_file_is_reported_and_the_pose_method_serves(tmp_path):
    (tmp_path / "segmentation.onnx").write_bytes(np.random.default_rng(0).bytes(4096))
    client = authed_client(create_test_app(Settings(models_dir=str(tmp_path))))
    health = client.get("/health").get_json()
    assert health["status"] == "ok"
    entry = health["body_segmenter"]
    assert entry["file"] == "segmentation.onnx" and entry["status"] == "broken" and entry["detail"]
    rgb, _, _ = figure(np.random.default_rng(5), PHOTO_SIDE)
    response = client.post("/api/v1/analyze/body", data=multipart(image=synthetic.encode(rgb, "PNG")),
                           content_type="multipart/form-data")
    assert response.status_code == 200 and response.get_json()["method"] == "pose"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert authed_client(create_test_app(Settings(models_dir=str(empty)))).get("/health").get_json()["body_segmenter"] is None


def test_a_missing_split_file_is_a_clear_error_from_the_real_cli(tmp_path):
    write_folder_dataset(tmp_path / "data", count=6)
    (tmp_path / "data" / "val.txt").unlink()
    done = subprocess.run(
        [sys.executable, "-m", "server.training.segment", str(tmp_path / "data"), "--out", str(tmp_path / "s.onnx")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "val.txt" in done.stderr and "missing split file" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "s.onnx").exists()


@pytest.mark.parametrize("damage, message", [
    ("smaller mask", "is 50 x 40 px, its image"),
    ("class 7", "class values [7] outside 0-4"),
    ("colour mask", "not single-channel"),
    ("unknown image", "no image 'nobody'"),
    ("listed twice", "is already in train.txt"),
])
def test_unusable_data_stops_the_cli_with_a_message_naming_the_file(tmp_path, damage, message):
    data = tmp_path / "data"
    stems = write_folder_dataset(data, count=6)
    mask = data / "masks" / f"{stems[-1]}.png"  # the test split's: checked before any training
    if damage == "smaller mask":
        Image.new("L", (50, 40)).save(mask)
    elif damage == "class 7":
        Image.fromarray(np.full((DATA_SIDE, DATA_SIDE), 7, np.uint8)).save(mask)
    elif damage == "colour mask":
        Image.new("RGB", (DATA_SIDE, DATA_SIDE)).save(mask)
    elif damage == "unknown image":
        (data / "val.txt").write_text("nobody\n")
    else:
        (data / "test.txt").write_text(f"{stems[0]}.png\n")
    with pytest.raises(SystemExit) as exit_info:
        segment.main([str(data), "--out", str(tmp_path / "s.onnx"), "--epochs", "1", "--size", "64"])
    assert isinstance(exit_info.value.code, str) and message in exit_info.value.code  # a message: exit status 1
    if damage in ("smaller mask", "class 7", "colour mask"):
        assert str(mask) in exit_info.value.code
    assert not (tmp_path / "s.onnx").exists()


def test_an_export_that_does_not_match_torch_is_not_left_where_the_server_loads(tmp_path, monkeypatch, capsys):
    write_folder_dataset(tmp_path / "data", count=8)
    monkeypatch.setattr(segment, "max_difference", lambda *args: 1.0)
    out = tmp_path / "models" / "segmentation.onnx"
    status = segment.main([str(tmp_path / "data"), "--out", str(out), "--epochs", "1", "--size", "64",
                           "--batch-size", "2"])
    assert status == 1
    assert not out.exists() and (tmp_path / "models" / "segmentation.rejected.onnx").is_file()
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["matches"] is False
    assert "differ by 1 > 0.001" in captured.err


def test_the_youtube_infant_body_parsing_layout_reads_as_the_same_classes(tmp_path):
    folder = tmp_path / "folder"
    stems = write_folder_dataset(folder, count=12)
    yibp = tmp_path / "yibp"
    (yibp / "frames").mkdir(parents=True)
    colour_of = {value: colour for colour, value in segment_data.YIBP_COLOURS.items()}
    videos: dict[str, dict[str, list]] = {"train": {}, "test": {}}
    for index, stem in enumerate(stems):
        name = f"{1000000 + index // 3}{index % 3:06d}.jpg"  # the dataset's {video}{frame} names, 3 frames a video
        Image.open(folder / "images" / f"{stem}.png").save(yibp / "frames" / name, quality=95)
        classes = np.asarray(Image.open(folder / "masks" / f"{stem}.png"))
        label = np.zeros((*classes.shape, 3), np.uint8)
        for value, colour in colour_of.items():
            label[classes == value] = colour
        label[:2, :2] = (220, 101, 20)  # a colour the dataset does not name: background
        buffer = io.BytesIO()
        Image.fromarray(label).save(buffer, format="PNG")
        side = "test" if index >= 9 else "train"
        label_text = base64.b64encode(buffer.getvalue()).decode()
        videos[side].setdefault(name[:7], []).append({"image": name, "label": label_text})
    for side in ("train", "test"):
        (yibp / f"{side}_label.json").write_text(json.dumps(videos[side]))
    data = segment_data.scan(yibp, validation_fraction=0.34, seed=0)
    assert data.layout.startswith("Youtube-Infant-Body-Parsing")
    assert data.summary()["images"] == {"train": 6, "validation": 3, "test": 3}
    assert not {s.group for s in data.train} & {s.group for s in data.validation}  # split by video
    for sample in data.train + data.validation + data.test:
        _, classes = segment_data.read_pair(sample)
        truth = np.asarray(Image.open(folder / "masks" / f"{stems[_index_of(sample.name)]}.png")).copy()
        truth[:2, :2] = 0
        assert np.array_equal(classes, truth)
    (yibp / "frames" / data.test[0].name).unlink()
    with pytest.raises(segment_data.DataProblem, match="1 labelled frame"):
        segment_data.scan(yibp)


def _index_of(frame_name: str) -> int:
    """Index in the folder dataset of a ``{video}{frame}.jpg`` name written above (3 frames a video)."""
    return (int(frame_name[:7]) - 1000000) * 3 + int(frame_name[7:13])


def test_init_weights_must_fit_the_network(tmp_path):
    import torchvision

    classifier = tmp_path / "mobilenet.pth"
    torch.save(torchvision.models.mobilenet_v3_large(weights=None).state_dict(), classifier)
    _, loaded = segment.build_model(classifier)
    assert loaded["tensors_loaded"] > 200 and loaded["file"] == "mobilenet.pth"
    stranger = tmp_path / "stranger.pth"
    torch.save({"fc.weight": torch.zeros(3, 3), "layer1.0.bn1.running_mean": torch.zeros(64)}, stranger)
    with pytest.raises(ValueError, match="holds no weights of this network"):
        segment.build_model(stranger)
