"""Landmark sequence features and windows: pose-free, padded on the left, on the model's clock."""
import numpy as np
import pytest

from server.pain.models import sequence
from server.pain.estimator import Observation
from server.pain.models.sequence_estimator import MIN_WINDOW_FILL, WindowTrack
from server.vision.align import RIGHT_EYE_AT, aligned_crop, eye_centres
from server.vision.face import Face
from tests import synthetic


def _moved(points: np.ndarray, scale: float, roll_deg: float, shift) -> np.ndarray:
    angle = np.radians(roll_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = points.copy()
    out[:, :2] = points[:, :2] @ rotation.T * scale + np.array(shift)
    out[:, 2] *= scale
    return out


@pytest.mark.parametrize("kind", sequence.FEATURE_KINDS)
def test_features_do_not_change_with_head_size_position_or_roll(kind):
    points = synthetic.astronaut_landmarks()
    spec = sequence.FeatureSpec(kind=kind)
    original = sequence.frame_features(points, spec)
    moved = sequence.frame_features(_moved(points, 0.6, 12.0, (80, -40)), spec)
    assert original.shape == (spec.width,)
    assert np.allclose(original, moved, atol=1e-4)


def test_the_pain_subset_is_smaller_than_all_landmarks_and_features_follow_it():
    assert len(sequence.LANDMARK_SUBSETS["pain"]) < len(sequence.LANDMARK_SUBSETS["all"]) == 478
    assert sequence.FeatureSpec(subset="all", kind="coords").width == 478 * 3
    assert sequence.FeatureSpec(subset="pain", kind="distances").width == len(sequence.LANDMARK_SUBSETS["pain"])
    with pytest.raises(ValueError):
        sequence.FeatureSpec(kind="pixels")


def test_short_sequences_are_padded_on_the_left_and_long_ones_keep_their_end():
    values = np.arange(6, dtype=np.float32).reshape(3, 2)
    padded, mask = sequence.fit_window(values, np.ones(3, np.float32), 5)
    assert mask.tolist() == [0, 0, 1, 1, 1] and padded[-1].tolist() == [4, 5]
    cut, mask = sequence.fit_window(values, np.ones(3, np.float32), 2)
    assert cut.tolist() == [[2, 3], [4, 5]] and mask.tolist() == [1, 1]


def test_no_face_frames_are_masked_out():
    points = synthetic.astronaut_landmarks()
    stack = np.stack([points, np.full_like(points, np.nan), points])
    _, mask = sequence.sequence_features(stack, sequence.FeatureSpec())
    assert mask.tolist() == [1, 0, 1]


def _face() -> Face:
    return Face(box=(0, 0, 10, 10), landmarks=synthetic.astronaut_landmarks(), quality=0.9, turn_deg=0.0)


def test_the_live_window_keeps_the_model_frame_rate_and_waits_until_it_is_full_enough():
    spec = sequence.FeatureSpec(fps=10.0, window_frames=20)
    track = WindowTrack(spec.fps, spec.window_frames, lambda o: sequence.frame_features(o.face.landmarks, spec))
    face, rgb = _face(), np.zeros((4, 4, 3), np.uint8)
    t = 0.0
    needed = int(np.ceil(MIN_WINDOW_FILL * spec.window_frames))
    for frame in range(30 * 3):  # 3 s of a 30 fps camera: 3 frames per model slot
        t = frame / 30.0
        track.add(Observation(face, rgb, t))
        evidence = track.evidence(Observation(face, rgb, t))
        slots_seen = round(t * spec.fps) + 1
        assert (evidence is None) == (slots_seen < needed)
    features, mask, fill = track.evidence(Observation(face, rgb, t))
    assert features.shape == (20, spec.width) and mask.sum() == pytest.approx(20, abs=1)
    assert mask[-1] == 1.0 and fill == pytest.approx(1.0, abs=0.05)


def test_the_live_window_encodes_each_kept_frame_once_however_often_it_is_judged():
    encoded: list[float] = []  # the time of every frame encoded (its value is its time)

    def encode(values: np.ndarray) -> np.ndarray:
        encoded.extend(values[:, 0].tolist())
        return values * 2.0

    track = WindowTrack(10.0, 20, lambda o: np.array([o.t_s, 1.0]), encode)
    face, rgb = _face(), np.zeros((4, 4, 3), np.uint8)
    for frame in range(30 * 3):  # 3 s of a 30 fps camera, a window asked for at every frame
        t = frame / 30.0
        track.add(Observation(face, rgb, t))
        evidence = track.evidence(Observation(face, rgb, t))
    values, mask, _ = evidence
    assert values[-1] == pytest.approx([2 * t, 2.0]) and values[mask == 0].sum() == 0
    # Each asked-for window encodes only its newest frame, never one already encoded.
    assert len(encoded) == len(set(encoded)) and len(encoded) < 30 * 3


def test_aligned_crops_put_the_eyes_on_the_template_whatever_the_roll():
    face = synthetic.astronaut_face()
    for degrees in (0.0, 15.0):
        image = synthetic.rotated(face, degrees)
        points = synthetic.astronaut_landmarks() if degrees == 0 else _landmarks_of(image)
        crop = aligned_crop(image, points, 160)
        assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8
        right, _ = eye_centres(_landmarks_of(crop))
        assert np.allclose(right, np.array(RIGHT_EYE_AT) * 160, atol=4.0)


def _landmarks_of(image: np.ndarray) -> np.ndarray:
    from server.vision.face import FaceTracker

    tracker = FaceTracker(stream=False, max_faces=1)
    try:
        return tracker.process(image)[0].landmarks
    finally:
        tracker.close()
