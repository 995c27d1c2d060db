"""The pain head's whole loop on a made-up development set: cache the faces, fit, read by leave-one-subject-out.

The real development set (UNBC-McMaster clips) never reaches CI; this set is
the astronaut test face, calm and in graded grimaces, as three "people" (each
a different framing of it), laid out as ../shared/tools/unbc-dev-set lays out
the real one.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from server.pain.facs.pain_head import load_pain_head
from server.training import clip_faces, evaluate_clips, fit_pain_head
from tests import media
from tests.synthetic import astronaut_face, encode, grimace

FPS = 10.0
SECONDS = 2.0
# The "people": the same face framed three ways (a crop, a shrink, a mirror), so neutral faces differ.
FRAMINGS = {
    "s1": lambda image: image,
    "s2": lambda image: cv2.resize(image, (300, 300), interpolation=cv2.INTER_AREA),
    "s3": lambda image: np.ascontiguousarray(image[:, ::-1]),
}
# clip stem -> (face, observer rating, PSPI label)
CLIPS = {
    "calm_a": (lambda: astronaut_face(), 0.0, 0.0),
    "calm_b": (lambda: astronaut_face(), 0.0, 0.0),
    "calm_c": (lambda: astronaut_face(), 0.0, 0.0),
    "mild": (lambda: grimace(0.5), 2.0, 3.0),
    "pain": (lambda: grimace(1.0), 4.0, 8.0),
}


@pytest.fixture(scope="module")
def dev_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("devset")
    rows = ["clip,subject,rating,pspi"]
    for subject, frame in FRAMINGS.items():
        (root / "clips" / subject).mkdir(parents=True)
        (root / "refs" / subject).mkdir(parents=True)
        calm = frame(astronaut_face())
        for stem, (face, rating, pspi) in CLIPS.items():
            held = frame(face())
            frames = [calm] * 5 + [held] * int(SECONDS * FPS - 5)
            (root / "clips" / subject / f"{stem}.mp4").write_bytes(media.write_video(frames, FPS))
            rows.append(f"{subject}/{stem}.mp4,{subject},{rating},{pspi}")
            if rating == 0:  # the first frame of each pain-free clip is that person's neutral
                (root / "refs" / subject / f"{stem}.png").write_bytes(encode(calm, "PNG"))
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    assert clip_faces.main(["--data", str(root)]) == 0
    return root


def test_the_faces_are_cached_once_and_a_clip_never_meets_its_own_reference(dev_set):
    clip_set = clip_faces.load_clip_set(dev_set)
    assert len(clip_set.clips) == len(FRAMINGS) * len(CLIPS) and len(clip_set.labelled()) == len(clip_set.clips)
    assert all(face is not None for clip in clip_set.clips for face in clip.faces)
    calm = next(c for c in clip_set.clips if c.stem == "calm_a")
    assert len(clip_set.references_for(calm, 3)) == 2  # calm_b and calm_c, never calm_a's own frame


def test_fitting_writes_a_head_that_reads_calm_as_none_and_grimaces_above(dev_set, tmp_path, capsys):
    out = tmp_path / "pain_head.json"
    assert fit_pain_head.main(["--data", str(dev_set), "--out", str(out), "--bootstrap", "50",
                               "--describe", "the made-up test set"]) == 0
    printed = capsys.readouterr().out
    head = load_pain_head(out, None)
    assert head.sha256 in printed  # the tool says which hash to set
    provenance = head.provenance
    assert provenance["data"] == "the made-up test set" and provenance["labelled_clips"] == 15
    for figures in (provenance["loso"], provenance["nested_loso"]):
        assert figures["pain_free_read_none"] == 1.0 and figures["rated_pained_read_above_none"] == 1.0
        assert figures["auc_rating_2_vs_0"] == 1.0
    assert set(provenance["ablations_loso"]) == {f"{k}={v}" for k, v in (
        ("discount_smile", not head.discount_smile), ("discount_speech", not head.discount_speech),
        ("smoothing_s", 0.0 if head.smoothing_s else fit_pain_head.SMOOTHINGS_S[-1]))}


def test_leave_one_subject_out_reads_each_person_through_the_upload_path(dev_set, tmp_path):
    out = tmp_path / "report.json"
    assert evaluate_clips.main(["--data", str(dev_set), "--folds", "loso", "--bootstrap", "50",
                                "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["folds"] == "loso" and set(report["fold_thresholds"]) == set(FRAMINGS)
    assert report["clips_read"] == 15
    assert report["pain_free_read_none"] == 1.0 and report["rated_pained_read_above_none"] == 1.0
    assert report["auc_rating_2_vs_0"] == 1.0
