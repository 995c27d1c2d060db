"""SkinBetweenDetections: every frame's skin colour from landmarks found on a few frames (server/vitals/skin_between.py)."""
from __future__ import annotations

import numpy as np

from server.vitals.skin_between import SkinBetweenDetections
from tests.synthetic import astronaut_landmarks


def where_measured() -> tuple[SkinBetweenDetections, list[np.ndarray]]:
    """A tracker whose 'measure' records the landmarks it was given and answers their mean x as a colour."""
    seen: list[np.ndarray] = []

    def measure(rgb: np.ndarray, landmarks: np.ndarray) -> dict[str, np.ndarray]:
        seen.append(landmarks.copy())
        return {"forehead": np.full(3, float(landmarks[:, 0].mean()))}

    return SkinBetweenDetections(max_held=8, measure=measure), seen


FRAME = np.zeros((4, 4, 3), np.uint8)


def test_frames_between_two_detections_follow_a_moving_face():
    skin, seen = where_measured()
    start = astronaut_landmarks()
    moved = start + (30.0, 0.0, 0.0)  # the head moved 30 px right over 0.2 s
    assert len(skin.detection(0.0, FRAME, start)) == 1
    for t in (0.05, 0.10, 0.15):
        skin.frame(t, FRAME)
    rows = skin.detection(0.2, FRAME, moved)
    assert [t for t, _ in rows] == [0.05, 0.10, 0.15, 0.2]
    shifts = [float((landmarks - start)[:, 0].mean()) for landmarks in seen[1:]]
    assert np.allclose(shifts, [7.5, 15.0, 22.5, 30.0])  # each frame's regions sit where the face was then


def test_a_lost_face_leaves_the_frames_around_it_without_skin():
    skin, _ = where_measured()
    skin.detection(0.0, FRAME, astronaut_landmarks())
    skin.frame(0.1, FRAME)
    assert skin.detection(0.2, FRAME, None) == []  # nothing guessed across the loss
    skin.frame(0.3, FRAME)
    rows = skin.detection(0.4, FRAME, astronaut_landmarks())
    assert [t for t, _ in rows] == [0.4]


def test_the_frames_after_the_last_detection_keep_its_place():
    skin, seen = where_measured()
    skin.detection(0.0, FRAME, astronaut_landmarks())
    skin.frame(0.1, FRAME)
    assert [t for t, _ in skin.finish()] == [0.1]
    assert np.array_equal(seen[-1], astronaut_landmarks())


def test_memory_is_bounded_by_the_spacing_of_detections():
    skin, _ = where_measured()
    skin.detection(0.0, FRAME, astronaut_landmarks())
    for i in range(1, 100):  # a detection that never comes: only the newest max_held frames wait
        skin.frame(i / 30.0, FRAME)
    assert len(skin.detection(100 / 30.0, FRAME, astronaut_landmarks())) == 8 + 1
