"""The face-video + ECG learned system end to end: ResNet-18 + GRU and ECG Transformer, trained through their
command lines' main() (leave one subject out; in this process, so torch starts once), exported, served, and
fused 80/20 by their logits.

The data is synthetic (tests/tiny_datasets.py): BioVid-style videos of the warped astronaut whose motion
depends on the label, and simulated ECG whose heart rate depends on it. The models learn those; this proves
the pipeline and nothing about pain.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from server.config import Settings
from server.pain.estimator import Observation
from server.vision.align import aligned_crop
from server.vision.face import Face
from tests import synthetic, tiny_datasets
from tests.conftest import authed_client, create_test_app, live_client, multipart
from tests.media import write_video
from tests.reproducible import run_main
from tests.jobs import post_job

SUBJECTS = tiny_datasets.BIOVID_SUBJECTS
SERVED_FOLD = SUBJECTS[0]  # the fold whose models are served: this subject was never trained on
FACE_FPS, FACE_WINDOW_S, FACE_SIZE = 5.0, 3.0, 32  # tiny crops and window: the suite's time, not accuracy
VIDEO_FPS = 10.0
ECG_PER_CLASS = 6


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Both networks trained leave-one-subject-out; one fold of each copied into a models folder and exported."""
    root = tmp_path_factory.mktemp("face-ecg")
    videos = tiny_datasets.write_biovid(root / "video")
    biosignals = tiny_datasets.write_biovid_biosignals(root / "bio", per_class=ECG_PER_CLASS)
    face = run_main(
        "server.training.resnet_gru", "--from-biovid", videos, "--manifest", root / "video.csv",
        "--out", root / "loso" / "resnet_gru.pt", "--label-set", "binary", "--folds", "loso", "--epochs", "1",
        "--fps", FACE_FPS, "--window-s", FACE_WINDOW_S, "--image-size", FACE_SIZE, "--batch-size", "2",
        "--cache", root / "cache", "--report-dir", root / "face-report", "--note", "warped astronaut, not pain data",
    )
    ecg = run_main(
        "server.training.ecg_transformer", "--from-biovid", biosignals, "--manifest", root / "bio.csv",
        "--out", root / "loso" / "ecg_transformer.pt", "--label-set", "binary", "--folds", "loso",
        "--epochs", "15", "--report-dir", root / "ecg-report", "--note", "simulated ECG, not pain data",
    )
    models = root / "models"
    models.mkdir()
    for name in ("resnet_gru", "ecg_transformer"):
        shutil.copy(root / "loso" / f"{name}.loso-{SERVED_FOLD}.pt", models / f"{name}.pt")
    exports = {name: run_main("server.training.export", models / f"{name}.pt")
               for name in ("resnet_gru", "ecg_transformer")}
    evaluation = run_main("server.training.evaluate", models / "ecg_transformer.pt", "--manifest", root / "bio.csv",
                         "--subjects", SERVED_FOLD, "--report-dir", root / "ecg-evaluation")
    fused = run_main("server.training.evaluate_fusion",
                     "--face", *sorted((root / "loso").glob("resnet_gru.loso-*.pt")),
                     "--ecg", *sorted((root / "loso").glob("ecg_transformer.loso-*.pt")),
                     "--video-manifest", root / "video.csv", "--ecg-manifest", root / "bio.csv",
                     "--cache", root / "cache", "--report-dir", root / "fused-report")
    return {"root": root, "models": models, "face": face, "ecg": ecg, "exports": exports, "biosignals": biosignals,
            "evaluation": evaluation, "fused": fused}


def test_leave_one_subject_out_trains_a_face_model_per_subject_and_pools_the_held_out_figures(trained):
    run = trained["face"]
    assert [entry["split"] for entry in run["trained"]] == [f"loso-{s}" for s in SUBJECTS]
    assert all(entry["test"]["n"] == 2 for entry in run["trained"])  # each subject's BL1 and PA4 video
    pooled = run["cross_validation"]
    assert pooled["folds"] == 3 and pooled["n"] == 6 and pooled["labels"] == ["NO_PAIN", "PAIN"]
    assert sum(map(sum, pooled["confusion"])) == 6 and set(pooled["per_subject"]) == set(SUBJECTS)
    assert 0.0 <= pooled["accuracy"] <= 1.0 and "macro_f1" in pooled and "per_class" in pooled
    assert (trained["root"] / "face-report" / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run["data"]["skipped"]["unrecognised_name"] == 1  # the notes.txt beside the videos


def test_the_face_crops_are_cut_once_and_cached(trained):
    from server.pain.models import checkpoint

    cached = sorted((trained["root"] / "cache").glob("crops-*.npz"))
    assert len(cached) == 6  # one file per video, shared by the three folds
    with np.load(cached[0]) as stored:
        frames = int(tiny_datasets.SEQUENCE_FRAMES / VIDEO_FPS * FACE_FPS)
        assert stored["crops"].shape == (frames, FACE_SIZE, FACE_SIZE, 3) and stored["mask"].all()
    metadata = checkpoint.load(trained["models"] / "resnet_gru.pt").metadata
    assert metadata["input"]["window_frames"] == round(FACE_WINDOW_S * FACE_FPS) and metadata["label_set"] == "binary"
    assert metadata["split"]["test"] == [SERVED_FOLD] and metadata["data"]["note"] == "warped astronaut, not pain data"


def test_the_ecg_model_learns_the_heart_rate_of_subjects_it_never_saw(trained):
    run = trained["ecg"]
    assert run["data"]["samples_by_label"] == {"NO_PAIN": 3 * ECG_PER_CLASS, "PAIN": 3 * ECG_PER_CLASS}
    pooled = run["cross_validation"]
    assert pooled["n"] == 6 * ECG_PER_CLASS and pooled["accuracy"] >= 0.8 and pooled["macro_f1"] >= 0.8  # chance: 0.5
    assert (trained["root"] / "ecg-report" / "summary.json").exists()


def test_a_held_out_subject_is_evaluated_with_the_training_tools_figures(trained):
    figures = trained["evaluation"]
    assert figures["kind"] == "ecg_transformer" and figures["n"] == 2 * ECG_PER_CLASS
    assert list(figures["per_subject"]) == [SERVED_FOLD] and figures["accuracy"] >= 0.8
    assert (trained["root"] / "ecg-evaluation" / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_fused_system_is_scored_leave_one_subject_out_beside_each_network_alone(trained):
    figures = trained["fused"]
    assert figures["folds"] == 3 and figures["pairs_found"] == 6 and figures["samples"] == 6  # video 001 + ECG 001
    assert figures["ecg_weight"] == 0.2
    for system in ("face", "ecg", "fused"):
        assert figures[system]["n"] == 6 and set(figures[system]["per_subject"]) == set(SUBJECTS)
    assert figures["ecg"]["accuracy"] >= 0.8  # the heart rate carries the label
    assert (trained["root"] / "fused-report" / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_both_onnx_exports_give_torchs_logits(trained):
    for export in trained["exports"].values():
        assert export["matches"] is True and export["max_abs_difference"] < 1e-4
    # The face network is exported as its two served parts: ResNet-18 per crop, GRU + head per window.
    assert [Path(f).name for f in trained["exports"]["resnet_gru"]["onnx"]] == [
        "resnet_gru.features.onnx", "resnet_gru.head.onnx"]


def _window_runner(loaded, runtime: str):
    from server.pain.models import inference

    if runtime == "torch":
        return inference.SplitRunner(*map(inference.TorchRunner, inference.part_modules(loaded).values()))
    return inference.onnx_runner(loaded.metadata, inference.onnx_export_path(loaded.path), threads=1)


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_windows_judged_from_cached_crop_features_give_the_whole_window_networks_logits(trained, runtime):
    from server.pain.models import checkpoint, inference
    from server.pain.face.baseline import POPULATION_BASELINE
    from server.pain.models.resnet import to_batch
    from server.pain.models.resnet_gru_estimator import ResnetGruEstimator

    loaded = checkpoint.load(trained["models"] / "resnet_gru.pt")
    estimator = ResnetGruEstimator(_window_runner(loaded, runtime), loaded.metadata, "resnet_gru.pt")
    whole = inference.TorchRunner(loaded.model)  # every crop of the window through ResNet-18 at once
    frames = loaded.metadata["input"]["window_frames"]
    face = Face(box=(0, 0, 10, 10), landmarks=synthetic.astronaut_landmarks(), quality=0.9, turn_deg=0.0)
    looks = list(tiny_datasets.grimace_faces().values())
    track, crops, judged, judged_with_the_gap = estimator.track(), {}, 0, 0
    for step in range(int(5 * VIDEO_FPS)):  # 5 s of a 10 fps stream, judged at every frame like a live one
        t = step / VIDEO_FPS
        if 14 <= step < 20:
            continue  # the face is lost for 0.6 s: those slots stay masked
        observation = Observation(face, looks[step % len(looks)], t)
        track.add(observation)
        end = int(round(t * FACE_FPS))
        crops[end] = aligned_crop(observation.rgb, face.landmarks, FACE_SIZE)
        evidence = track.evidence(observation)
        if evidence is None:
            continue
        window = [crops.get(end - frames + 1 + i) for i in range(frames)]
        mask = np.array([crop is not None for crop in window], dtype=np.float32)
        blank = np.zeros((FACE_SIZE, FACE_SIZE, 3), np.uint8)
        batch = to_batch(np.stack([blank if crop is None else crop for crop in window]))
        (expected,) = whole(batch.reshape(1, frames, *batch.shape[1:]), mask[None])
        (cached,) = estimator.runner(*estimator.inputs(*evidence[:2]))  # what estimate() runs: GRU + head only
        assert np.array_equal(evidence[1], mask) and np.max(np.abs(cached - expected)) < 1e-5
        estimate = estimator.estimate(face, POPULATION_BASELINE, 1.0, evidence)
        assert estimate.label_logits == pytest.approx(expected[0].tolist(), abs=1e-4)  # reported to 4 decimals
        judged += 1
        judged_with_the_gap += step >= 20 and mask.sum() < frames
    assert judged >= 30 and judged_with_the_gap >= 10


@pytest.fixture(scope="module")
def served(trained):
    """An app serving both checkpoints, with the face network as fusion's only face part (the BioVid system)."""
    return create_test_app(Settings(models_dir=str(trained["models"]), fusion_weights="resnet_gru:1"))


def _bio_file(trained, label: str) -> bytes:
    return (trained["biosignals"] / SERVED_FOLD / f"{SERVED_FOLD}-{label}-001_bio.csv").read_bytes()


def test_health_lists_both_models_and_how_fusion_uses_them(served):
    health = authed_client(served).get("/health").get_json()
    by_file = {m["file"]: m for m in health["models"]}
    assert by_file["resnet_gru.pt"]["active"] and by_file["ecg_transformer.pt"]["active"]
    face_parts = by_file["resnet_gru.pt"]["runtime"]["parts"]  # ResNet-18 per crop, GRU + head per window
    assert set(face_parts) == {"features", "head"}
    assert all(part["runtime"] in ("torch", "onnxruntime") and "onnxruntime" in part["latency_ms"]
               for part in face_parts.values())
    assert "onnxruntime" in by_file["ecg_transformer.pt"]["runtime"]["latency_ms"]  # its own export was timed
    status = {e["name"]: e for e in health["estimators"]}
    assert status["resnet_gru"]["available"] and status["resnet_gru"]["model"] == "resnet_gru.pt"
    assert "ecg_transformer" not in status  # not a face estimator: the picker must not offer it
    assert health["ecg_model"]["available"] and health["ecg_model"]["model"] == "ecg_transformer.pt"
    assert "80% / 20% with the ECG Transformer" in status["fusion"]["detail"]


def test_without_checkpoints_health_says_why_and_ecg_uploads_stay_heuristic(app, trained):
    client = authed_client(app)
    health = client.get("/health").get_json()
    status = {e["name"]: e for e in health["estimators"]}
    assert not status["resnet_gru"]["available"] and "no resnet_gru checkpoint" in status["resnet_gru"]["detail"]
    assert not health["ecg_model"]["available"] and "heuristic" in health["ecg_model"]["detail"]
    body = client.post("/api/v1/analyze/ecg", data=multipart(file=_bio_file(trained, "PA4"))).get_json()
    assert body["answered_by"] == "heuristic_arousal" and body["model"] is None and body["arousal"]["method"]


@pytest.mark.parametrize("label", ["BL1", "PA4"])
def test_an_ecg_upload_is_answered_by_the_ecg_model(served, trained, label):
    response = authed_client(served).post("/api/v1/analyze/ecg", data=multipart(file=_bio_file(trained, label)))
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["answered_by"] == "ecg_transformer" and body["model"]["model"] == "ecg_transformer.pt"
    assert body["model"]["label"] == {"BL1": "NO_PAIN", "PA4": "PAIN"}[label]
    assert body["model"]["level"] == {"BL1": "none", "PA4": "moderate"}[label]
    assert 0 < body["model"]["confidence"] < 1 and body["vitals"]["heart_rate_bpm"]  # the heuristic's figures stay


def _neutral_then_grimace() -> bytes:
    neutral = synthetic.camera_frame(tiny_datasets.grimace_faces()[0.0])
    pained = synthetic.camera_frame(tiny_datasets.grimace_faces()[1.0])
    return write_video([neutral] * 20 + [pained] * 20, VIDEO_FPS)


def test_a_video_is_judged_window_by_window_and_fused_with_its_ecg_by_logits(served, trained):
    client = authed_client(served)
    video = _neutral_then_grimace()
    alone = post_job(client, "/api/v1/analyze/video", data=multipart(video=video, estimator="resnet_gru")).get_json()
    assert alone["timeline"][0]["level"] is None  # the window is still filling
    face = alone["peak"]["pain"]
    assert face["estimator"] == "resnet_gru" and face["model"] == "resnet_gru.pt" and len(face["label_logits"]) == 2
    assert set(face["label_probabilities"]) == {"NO_PAIN", "PAIN"}
    response = post_job(client, "/api/v1/analyze/video",
                           data=multipart(video=video, estimator="fusion", ecg=_bio_file(trained, "PA4")))
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["ecg"]["answered_by"] == "ecg_transformer" and body["ecg"]["model"]["label"] == "PAIN"
    fused = body["peak"]["pain"]
    parts = {p["estimator"]: p for p in fused["parts"]}
    assert parts["resnet_gru"]["weight"] == 0.8 and parts["ecg_transformer"]["weight"] == 0.2
    assert parts["heart_rate"]["weight"] == 0.0 and parts["ecg_transformer"]["label"] == "PAIN"
    face_logits, ecg_logits = parts["resnet_gru"]["label_logits"], body["ecg"]["model"]["label_logits"]
    expected = 0.8 * np.array(face_logits) + 0.2 * np.array(ecg_logits)
    assert fused["label_logits"] == pytest.approx(expected.tolist(), abs=1e-3)


def test_a_photo_cannot_be_judged_by_a_window_model(served):
    photo = synthetic.encode(synthetic.astronaut_face())
    response = authed_client(served).post("/api/v1/analyze/image?estimator=resnet_gru", data=photo,
                                          content_type="image/jpeg")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "estimator_needs_video"


def test_a_live_stream_is_judged_by_the_resnet_gru_once_its_window_fills(served):
    client = live_client(served)
    try:
        started = client.emit("start", {"estimator": "resnet_gru"}, namespace="/live", callback=True)
        assert started["session"]["estimator"] == "resnet_gru"
        frame = synthetic.encode(synthetic.camera_frame(tiny_datasets.grimace_faces()[1.0]), quality=85)
        acks = [client.emit("frame", {"seq": seq, "t_ms": seq * 1000.0 / VIDEO_FPS, "jpeg": frame},
                            namespace="/live", callback=True) for seq in range(12)]
        assert acks[0]["face"]["found"] and acks[0]["pain"] is None
        assert acks[-1]["pain"]["estimator"] == "resnet_gru" and acks[-1]["pain"]["label"] in ("NO_PAIN", "PAIN")
    finally:
        client.disconnect(namespace="/live")
