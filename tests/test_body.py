"""Body parts and movement: /api/v1/analyze/body and /api/v1/analyze/body/video on real pose models."""
from __future__ import annotations

import base64
import io
from itertools import pairwise

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from server.vision.body import BodyParts, PartStats, movement_summary
from server.vision.face import FaceTracker
from tests import media, synthetic
from tests.conftest import authed_client, multipart

ASTRONAUT = skdata.astronaut()  # 512 x 512, head and torso of Eileen Collins (NASA, public domain)
CANVAS_W, CANVAS_H = 720, 512  # a wider grey stage for the astronaut to slide across
GREY = synthetic.CAMERA_BACKGROUND
VIDEO_FPS, VIDEO_SECONDS = 10, 3
SLIDE_PX_PER_S = 60.0


def _on_canvas(x: int) -> np.ndarray:
    canvas = np.full((CANVAS_H, CANVAS_W, 3), GREY, np.uint8)
    canvas[:, x : x + ASTRONAUT.shape[1]] = ASTRONAUT
    return canvas


def _video(speed_px_per_s: float) -> bytes:
    times = np.arange(VIDEO_FPS * VIDEO_SECONDS) / VIDEO_FPS
    return media.write_video([_on_canvas(int(round(20 + speed_px_per_s * t))) for t in times], fps=VIDEO_FPS)


def _post_video(client, video: bytes):
    return client.post("/api/v1/analyze/body/video", data=multipart(video=video), content_type="multipart/form-data")


@pytest.fixture(scope="module")
def sliding(app):
    return _post_video(authed_client(app), _video(SLIDE_PX_PER_S))


@pytest.fixture(scope="module")
def still(app):
    return _post_video(authed_client(app), _video(0.0))


def _boxes_overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_the_astronaut_photo_shows_her_head_above_her_torso(client):
    response = client.post("/api/v1/analyze/body", data=multipart(image=synthetic.encode(ASTRONAUT, "PNG")),
                           content_type="multipart/form-data")
    assert response.status_code == 200
    body = response.get_json()
    assert body["person_found"] is True
    head, torso = body["parts"]["head"], body["parts"]["torso"]
    hx, hy, hw, hh = head["box"]
    # The head sits above the middle of the torso and is head-sized, not the whole picture.
    assert hy + hh / 2 < torso["centroid"][1]
    assert head["centroid"][1] < torso["centroid"][1]
    assert 0.02 < head["area_px"] / ASTRONAUT[..., 0].size < 0.25
    assert torso["area_px"] > head["area_px"]
    # Face Mesh's face box lies on the head part.
    face = FaceTracker().process(ASTRONAUT)[0]
    assert _boxes_overlap(head["box"], face.box)
    fx, fy, fw, fh = face.box
    assert hx <= fx + fw / 2 <= hx + hw and hy <= fy + fh / 2 <= hy + hh
    assert set(body["timing_ms"]) >= {"decode", "body", "total"}
    # The overlay is a PNG the size of the photo, tinted where the head is.
    png = Image.open(io.BytesIO(base64.b64decode(body["overlay_png"].split(",", 1)[1])))
    assert png.format == "PNG" and png.size == (512, 512)
    tinted = np.asarray(png.convert("RGB")).astype(int)
    cx, cy = (int(c) for c in head["centroid"])
    assert np.abs(tinted[cy, cx] - ASTRONAUT[cy, cx]).sum() > 30


def test_a_raw_jpeg_body_works_too(client):
    response = client.post("/api/v1/analyze/body", data=synthetic.encode(ASTRONAUT), content_type="image/jpeg")
    assert response.status_code == 200
    assert {"head", "torso"} <= set(response.get_json()["parts"])


def test_an_empty_grey_room_is_200_with_no_person(client):
    grey = np.full((480, 640, 3), GREY, np.uint8)
    response = client.post("/api/v1/analyze/body", data=multipart(image=synthetic.encode(grey, "PNG")),
                           content_type="multipart/form-data")
    assert response.status_code == 200
    body = response.get_json()
    assert body["person_found"] is False and body["parts"] == {} and body["overlay_png"] is None


def test_a_corrupt_photo_is_a_400_with_the_error_shape(client):
    broken = synthetic.encode(ASTRONAUT)[:300]
    response = client.post("/api/v1/analyze/body", data=multipart(image=broken), content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "corrupt_image"
    assert response.get_json()["error"]["message"]


def test_a_photo_sent_as_a_video_is_a_415(client):
    response = _post_video(client, synthetic.encode(ASTRONAUT))
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_a_sliding_person_has_rightward_tracks_at_about_the_true_speed(sliding):
    assert sliding.status_code == 200
    body = sliding.get_json()
    # 3 s sampled at 2 per second, the astronaut in every one.
    assert body["frames_analysed"] == 6 and body["frames_with_person"] == 6
    for part in ("head", "torso"):
        xs = [x for _, x, _ in body["tracks"][part]]
        assert len(xs) == 6
        assert xs[-1] - xs[0] > 0.6 * SLIDE_PX_PER_S * 2.5  # moved right by most of the 150 px slid
        assert all(b > a - 5 for a, b in pairwise(xs))  # never back by more than jitter
    # Movement index in body sizes per second: the slide's speed over the person's size.
    # The head's centre follows the slide closely; the torso's also shifts as its edges relabel.
    expected = SLIDE_PX_PER_S / body["body_size_px"]
    assert 0.7 * expected < body["movement_index"]["head"] < 1.4 * expected
    assert 0.5 * expected < body["movement_index"]["torso"] < 2.0 * expected


def test_a_still_person_moves_less_than_a_sliding_one(sliding, still):
    moving, steady = sliding.get_json(), still.get_json()
    assert steady["frames_with_person"] == 6
    for part in ("head", "torso"):
        assert steady["movement_index"][part] < 0.5 * moving["movement_index"][part]
    # The still head stays put to the pixel; the torso's centre wanders a little as pose
    # landmarks at its edges (elbows, hips) come and go, but far less than the slide.
    head_xs = [x for _, x, _ in steady["tracks"]["head"]]
    assert max(head_xs) - min(head_xs) < 5
    torso_xs = [x for _, x, _ in steady["tracks"]["torso"]]
    moving_xs = [x for _, x, _ in moving["tracks"]["torso"]]
    assert max(torso_xs) - min(torso_xs) < 0.25 * (max(moving_xs) - min(moving_xs))


def test_a_part_never_seen_has_no_movement_index_rather_than_zero():
    labels = np.zeros((100, 100), np.uint8)
    head = PartStats((40, 10, 20, 20), (50.0, 20.0), 400)
    frames = [(t, BodyParts(labels, {"head": head}, (40, 10, 20, 80))) for t in (0.0, 0.5, 1.0)]
    summary = movement_summary(frames)
    assert summary["movement_index"]["head"] == 0.0  # seen and still: measured as no movement
    assert summary["movement_index"]["leg"] is None and summary["tracks"]["leg"] == []
