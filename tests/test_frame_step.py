"""The per-frame step: a frame is decoded and its patient and skin colour found the same way on every path."""
import numpy as np
import pytest

from server.assess.frame_step import FrameStep
from server.assess.stage_clock import StageClock
from server.problems import InputProblem
from server.vision.face import FaceTracker
from server.vision.frames import ImageLimits
from tests import synthetic

LIMITS = ImageLimits(max_bytes=10_000_000, max_pixels=20_000_000, min_side=32)


@pytest.fixture(scope="module")
def tracker():
    tracker = FaceTracker()
    yield tracker
    tracker.close()


def test_a_face_gives_the_patient_its_box_and_its_skin_regions(tracker):
    step = FrameStep(tracker, LIMITS)
    clock = StageClock()
    jpeg = synthetic.encode(synthetic.camera_frame(synthetic.astronaut_face()))
    seen = step.see(step.decode(jpeg, clock), clock=clock)
    assert seen.patient is seen.faces[0] and seen.box == tuple(seen.patient.box)
    assert {"forehead", "left_cheek", "right_cheek"} <= set(seen.skin)
    assert all(len(rgb) == 3 and 0 < min(rgb) for rgb in seen.skin.values())
    assert {"decode", "face", "blendshapes"} <= set(clock.ms)


def test_without_a_face_there_is_no_patient_and_no_skin(tracker):
    seen = FrameStep(tracker, LIMITS).see(np.full((480, 640, 3), 110, np.uint8))
    assert (seen.faces, seen.patient, seen.box, dict(seen.skin)) == ([], None, None, {})


def test_a_photo_step_measures_no_skin_and_refuses_a_face_that_is_not_there(tracker):
    step = FrameStep(tracker, LIMITS, skin=False)
    rgb = synthetic.camera_frame(synthetic.astronaut_face())
    assert step.see(rgb).patient is not None and not step.see(rgb).skin
    with pytest.raises(InputProblem) as refused:
        step.see(rgb, face_index=3)
    assert refused.value.code == "face_index_out_of_range"
    assert step.see(rgb, face_index=3, strict=False).patient is None  # a video's frame: no patient


def test_pre_cropped_skin_is_read_as_patches_without_a_face():
    seen = FrameStep(None, LIMITS).see(np.full((64, 64, 3), (180, 120, 100), np.uint8))
    assert seen.patient is None and len(seen.skin) > 1
    assert all(np.allclose(rgb, (180, 120, 100)) for rgb in seen.skin.values())


def test_a_bad_frame_of_a_batch_is_named_by_its_number():
    with pytest.raises(InputProblem) as refused:
        FrameStep(None, LIMITS).decode(b"not an image", number=4)
    assert refused.value.message.startswith("Frame 4: ")
