"""python -m server.training.evaluate_clips on synthetic labelled clips: the figures a user's licensed data would get."""
from __future__ import annotations

import json

import cv2

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
    for subject, face in (("s1", calm), ("s2", small(calm))):
        (tmp_path / "refs" / subject).mkdir(parents=True)
        (tmp_path / "refs" / subject / "neutral.png").write_bytes(encode(face, "PNG"))
    out = tmp_path / "report.json"
    code = evaluate_clips.main([
        "--clips", str(tmp_path / "clips"), "--labels", str(tmp_path / "labels.csv"),
        "--references", str(tmp_path / "refs"), "--out", str(out),
    ])
    assert code == 0
    report = json.loads(out.read_text())
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["clips"] == report["clips"] == 5 and report["references"] is True
    assert report["pain_free_read_none"] == 1.0
    assert report["rated_pained_read_above_none"] == 1.0
    assert report["auc_rating_2_vs_0"] == 1.0
    assert report["spearman_pspi"] > 0.75 and report["spearman_rating"] > 0.75
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
