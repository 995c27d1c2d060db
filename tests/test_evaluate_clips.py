"""python -m server.training.evaluate_clips on synthetic labelled clips: the figures a user's licensed data would get."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from server.training import evaluate_clips
from tests import media
from tests.synthetic import astronaut_face, encode, grimace

FPS = 10.0


def _clip(faces) -> bytes:
    return media.write_video(faces, fps=FPS)


def test_the_tool_separates_held_grimaces_from_calm_and_spiking_clips(tmp_path, capsys):
    calm, pain, mild_pain = astronaut_face(), grimace(1.0), grimace(0.5)
    small = lambda image: cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA)  # noqa: E731
    clips = {
        "calm.mp4": ([calm] * 25, 0, 0.0),
        "spike.mp4": ([calm] * 10 + [pain] * 3 + [calm] * 12, 0, 0.0),  # a 0.3 s glitch, labelled pain-free
        "pain.mp4": ([calm] * 5 + [pain] * 20, 4, 9.0),
        "mild.mp4": ([calm] * 5 + [mild_pain] * 20, 2, 3.0),
        "far.mp4": ([small(calm)] * 25, 0, 0.0),
    }
    (tmp_path / "clips").mkdir()
    rows = ["clip,subject,rating,pspi"]
    for name, (faces, rating, pspi) in clips.items():
        (tmp_path / "clips" / name).write_bytes(_clip(faces))
        rows.append(f"{name},{'s2' if name == 'far.mp4' else 's1'},{rating},{pspi}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    # Each person's neutral is the first frame of a pain-free clip, as ../shared/tools/unbc-dev-set makes it
    # (a clean photo against a compressed video reads a calm face's lip a little raised: docs/validation.md "Limitations").
    for subject, face in (("s1", calm), ("s2", small(calm))):
        (tmp_path / "refs" / subject).mkdir(parents=True)
        first = media.first_frame(_clip([face] * 5))
        (tmp_path / "refs" / subject / "neutral.png").write_bytes(encode(first, "PNG"))
    out = tmp_path / "report.json"
    code = evaluate_clips.main([
        "--clips", str(tmp_path / "clips"), "--labels", str(tmp_path / "labels.csv"),
        "--references", str(tmp_path / "refs"), "--out", str(out), "--bootstrap", "200",
    ])
    assert code == 0
    report = json.loads(out.read_text())
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["clips"] == report["clips"] == 5 and report["references"] is True
    assert report["pain_free_read_none"] == 1.0
    assert report["rated_pained_read_above_none"] == 1.0
    # Ranked by the held PSPI every pained clip is above every calm one; the judged score (the highest
    # sampled PSPI) is reported beside it, so a glitch's peak shows in the figures instead of hiding.
    assert report["ranked_by"] == "max_pspi"
    assert report["by_score"]["sustained_pspi"]["auc_rating_2_vs_0"] == 1.0
    assert report["auc_rating_2_vs_0"] == report["by_score"]["max_pspi"]["auc_rating_2_vs_0"]
    assert report["by_score"]["sustained_pspi"]["spearman_pspi"] > 0.75
    low, high = report["intervals_95"]["pain_free_read_none"]
    assert low <= report["pain_free_read_none"] <= high
    assert report["confusion"]["none"]["none"] == 3
    assert set(report["per_subject"]) == {"s1", "s2"}
    assert report["per_subject"]["s2"]["pain_free_read_none"] == 1.0


def test_a_labels_file_without_subjects_is_refused_with_its_line(tmp_path, capsys):
    (tmp_path / "labels.csv").write_text("clip,rating\na.mp4,0\n")
    assert evaluate_clips.main(["--clips", str(tmp_path), "--labels", str(tmp_path / "labels.csv")]) == 2
    assert "labels.csv:2" in capsys.readouterr().err


def test_the_figures_count_ties_half_and_need_both_classes():
    assert evaluate_clips.auc([1.0, 2.0], [0.0, 1.0]) == 0.875
    assert evaluate_clips.auc([1.0], []) is None
    assert evaluate_clips.spearman([1, 2], [1, 2]) is None


def test_a_clip_is_never_read_against_the_reference_made_from_its_own_first_frame(tmp_path):
    refs = tmp_path / "refs" / "s1"
    refs.mkdir(parents=True)
    for stem in ("a", "b", "c", "d"):
        (refs / f"{stem}.png").write_bytes(stem.encode())
    clip = evaluate_clips.Clip(tmp_path / "clips" / "b.mp4", "s1", 0.0, 0.0)
    used = evaluate_clips.references_for(tmp_path / "refs", clip)
    assert used == [b"a", b"c", b"d"]  # up to three of the person's neutral frames, never its own


def test_intervals_come_from_resampling_whole_subjects():
    clip = lambda subject, rating: evaluate_clips.Clip(Path(f"{subject}{rating}.mp4"), subject, rating, rating)  # noqa: E731
    reading = lambda c, score, level: evaluate_clips.Reading(c, level, {s: score for s in evaluate_clips.SCORES})  # noqa: E731
    readings = [reading(clip("s1", 0.0), 0.0, "none"), reading(clip("s1", 3.0), 5.0, "mild"),
                reading(clip("s2", 0.0), 1.0, "mild"), reading(clip("s2", 3.0), 0.5, "none")]
    intervals = evaluate_clips.bootstrap_intervals(readings, (0.5, 5.5, 10.5), rounds=300)
    # s1 alone separates perfectly, s2 alone inverts: resampling subjects spans both
    assert intervals["auc_rating_2_vs_0"] == [0.0, 1.0]
    assert intervals["pain_free_read_none"] == [0.0, 1.0]


def test_leave_one_subject_out_needs_the_development_set_folder(tmp_path, capsys):
    (tmp_path / "labels.csv").write_text("clip,subject,rating\na.mp4,s1,0\n")
    with pytest.raises(SystemExit) as stopped:
        evaluate_clips.main(["--clips", str(tmp_path), "--labels", str(tmp_path / "labels.csv"), "--folds", "loso"])
    assert stopped.value.code == 2 and "--data" in capsys.readouterr().err
