"""Learned estimators end to end: tiny datasets -> train (CLI) -> evaluate -> export -> served by the app.

The datasets are the warped astronaut (tests/tiny_datasets.py): the models
learn that warp, which proves the pipeline and nothing about pain.
"""
from __future__ import annotations

import io

import numpy as np
import pytest

from server.config import Settings
from tests import synthetic, tiny_datasets
from tests.conftest import authed_client, create_test_app, live_client
from tests.media import write_video
from tests.reproducible import run_cli
from tests.jobs import post_job

ARCHES = ("bi_lstm", "attention_lstm", "sta_lstm")
VIDEO_FPS = 10.0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every architecture trained, evaluated and exported into one models folder."""
    root = tmp_path_factory.mktemp("learned")
    images, labels = tiny_datasets.write_unbc(root / "unbc")
    manifest = tiny_datasets.write_sequences(root / "sequences")
    models = root / "models"
    runs = {"resnet18": run_cli(
        "server.training.resnet", "--images", str(images), "--labels", str(labels), "--out", str(models / "resnet18.pt"),
        "--epochs", "15", "--image-size", "64", "--batch-size", "8", "--lr", "1e-3", "--test-subjects", "S4",
        "--classify", "--note", "warped astronaut test set, not pain data",
    )}
    for arch in ARCHES:
        runs[arch] = run_cli(
            "server.training.sequence", "--manifest", str(manifest), "--out", str(models / f"{arch}.pt"), "--arch", arch,
            "--label-set", "binary", "--window-s", "3", "--epochs", "15", "--test-subjects", "S4",
        )
    evaluations = {
        "resnet18": run_cli("server.training.evaluate", str(models / "resnet18.pt"), "--images", str(images),
                         "--labels", str(labels), "--subjects", "S4", "--report-dir", str(root / "report-resnet")),
        "sta_lstm": run_cli("server.training.evaluate", str(models / "sta_lstm.pt"), "--manifest", str(manifest),
                         "--subjects", "S4", "--report-dir", str(root / "report-lstm")),
    }
    exports = {name: run_cli("server.training.export", str(models / f"{name}.pt")) for name in ("resnet18", "sta_lstm")}
    return {"root": root, "models": models, "runs": runs, "evaluations": evaluations, "exports": exports}


def test_training_skips_bad_frames_counts_them_and_splits_by_subject(trained):
    run = trained["runs"]["resnet18"]
    assert run["data"]["skipped"]["unreadable_image"] == 1 and run["data"]["skipped"]["missing_label"] == 1
    assert run["data"]["frames"] == 20 and run["data"]["subjects"] == 4
    from server.pain.models import checkpoint

    metadata = checkpoint.load(trained["models"] / "resnet18.pt").metadata
    split = metadata["split"]
    assert split["test"] == ["S4"] and not set(split["train"]) & set(split["validation"])
    assert metadata["data"]["note"] == "warped astronaut test set, not pain data"
    assert metadata["training"]["best_epoch"] >= 1 and metadata["metrics"]["validation"]["mae"] is not None
    assert "commit" in metadata["code"] or "painscope" in metadata["code"]


def test_the_regressor_learns_the_warp_on_a_held_out_subject(trained):
    figures = trained["evaluations"]["resnet18"]
    assert figures["n"] == 5 and figures["pearson_r"] > 0.5
    assert (trained["root"] / "report-resnet" / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("arch", ARCHES)
def test_each_sequence_architecture_separates_the_held_out_subject(trained, arch):
    test = trained["runs"][arch]["trained"][0]["test"]
    assert test["n"] == 8 and test["accuracy"] >= 0.75


def test_a_biovid_folder_becomes_a_manifest_cached_landmarks_and_one_model_per_fold(tmp_path):
    folder = tiny_datasets.write_biovid(tmp_path / "biovid")
    manifest, cache = tmp_path / "biovid.csv", tmp_path / "cache"
    run = run_cli("server.training.sequence", "--from-biovid", str(folder), "--manifest", str(manifest),
               "--out", str(tmp_path / "lstm.pt"), "--arch", "bi_lstm", "--label-set", "binary", "--window-s", "3",
               "--epochs", "1", "--cache", str(cache), "--folds", "3")
    assert run["data"]["samples"] == 6 and run["data"]["subjects"] == 3
    written = sorted(entry["checkpoint"] for entry in run["trained"])
    assert written == sorted(str(tmp_path / f"lstm.fold{k}of3.pt") for k in (1, 2, 3))
    assert all(entry["test"]["n"] == 2 for entry in run["trained"])  # each fold holds out one subject
    assert run["data"]["samples_by_label"] == {"NO_PAIN": 3, "PAIN": 3}
    assert manifest.read_text().splitlines()[0] == "path,label,subject"
    cached = sorted(cache.glob("landmarks-*.npy"))
    assert len(cached) == 6
    landmarks = np.load(cached[0])
    assert landmarks.shape[1:] == (478, 3) and np.isfinite(landmarks).all()  # every frame had the face


def test_evaluation_reports_labels_levels_and_subjects(trained):
    figures = trained["evaluations"]["sta_lstm"]
    assert figures["labels"] == ["NO_PAIN", "PAIN"] and sum(map(sum, figures["confusion"])) == 8
    assert set(figures["levels"]["labels"]) == {"none", "mild", "moderate", "severe"}
    assert list(figures["per_subject"]) == ["S4"]


def test_onnx_exports_match_torch(trained):
    for export in trained["exports"].values():
        assert export["matches"] is True and export["max_abs_difference"] < 1e-4


@pytest.fixture(scope="module")
def served(trained):
    (trained["models"] / "broken.pt").write_bytes(b"this is not a checkpoint")
    # An export that belongs to another checkpoint must not be used for this one.
    (trained["models"] / "bi_lstm.onnx").write_bytes((trained["models"] / "sta_lstm.onnx").read_bytes())
    app = create_test_app(Settings(models_dir=str(trained["models"]), lstm_model="sta_lstm.pt"))
    return app


def test_health_lists_every_checkpoint_and_reports_the_broken_one(served):
    health = authed_client(served).get("/health").get_json()
    by_file = {m["file"]: m for m in health["models"]}
    assert by_file["broken.pt"]["status"] == "broken" and by_file["broken.pt"]["detail"]
    assert by_file["sta_lstm.pt"]["active"] and not by_file["bi_lstm.pt"]["active"]
    resnet = by_file["resnet18.pt"]
    assert resnet["status"] == "loaded" and resnet["metadata"]["input"]["image_size"] == 64
    assert resnet["runtime"]["runtime"] in ("torch", "onnxruntime") and "onnxruntime" in resnet["runtime"]["latency_ms"]
    assert by_file["bi_lstm.pt"]["runtime"]["runtime"] == "torch" and "another" in by_file["bi_lstm.pt"]["runtime"]["note"]
    assert by_file["attention_lstm.pt"]["runtime"]["note"] == "no ONNX export; torch"
    available = {e["name"]: e["available"] for e in health["estimators"]}
    assert available == {"geometry": True, "resnet18": True, "lstm": True, "resnet_gru": False, "fusion": True}
    assert not health["ecg_model"]["available"]


def test_the_api_answers_with_the_resnet_and_with_fusion(served):
    client = authed_client(served)
    photo = synthetic.encode(synthetic.grimace(1.0))
    pain = client.post("/api/v1/analyze/image?estimator=resnet18", data=photo, content_type="image/jpeg").get_json()["pain"]
    assert pain["estimator"] == "resnet18" and pain["model"] == "resnet18.pt"
    assert pain["action_units"] is None and 0 <= pain["pspi"] <= 16 and 0 < pain["confidence"] < 1
    blurred = synthetic.encode(synthetic.blurred(synthetic.grimace(1.0), 15))
    worse = client.post("/api/v1/analyze/image?estimator=resnet18", data=blurred, content_type="image/jpeg")
    assert worse.get_json()["pain"]["confidence"] < pain["confidence"]
    fused = client.post("/api/v1/analyze/image?estimator=fusion", data=photo, content_type="image/jpeg").get_json()
    parts = {p["estimator"]: p for p in fused["pain"]["parts"]}
    assert set(parts) == {"geometry", "resnet18", "heart_rate"}  # the LSTM has no say on a single photo
    assert parts["heart_rate"]["weight"] == 0.0 and parts["heart_rate"]["reason"]  # no ECG came with the photo
    assert abs(sum(p["weight"] for p in parts.values()) - 1.0) < 1e-6
    assert fused["pain"]["level"] in ("mild", "moderate", "severe")


def test_the_sequence_model_needs_a_video_not_a_photo(served):
    photo = synthetic.encode(synthetic.astronaut_face())
    response = authed_client(served).post("/api/v1/analyze/image?estimator=lstm", data=photo, content_type="image/jpeg")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "estimator_needs_video"


def _neutral_then_grimace(neutral_s: float, grimace_s: float) -> list[np.ndarray]:
    neutral = synthetic.camera_frame(synthetic.astronaut_face())
    pained = synthetic.camera_frame(synthetic.grimace(1.0))
    return [neutral] * int(neutral_s * VIDEO_FPS) + [pained] * int(grimace_s * VIDEO_FPS)


def test_an_uploaded_video_is_judged_by_the_lstm_over_its_window(served):
    video = write_video(_neutral_then_grimace(3.0, 3.0), VIDEO_FPS)
    response = post_job(
        authed_client(served), "/api/v1/analyze/video", data={"video": (io.BytesIO(video), "clip.mp4"), "estimator": "lstm"},
        content_type="multipart/form-data",
    )
    body = response.get_json()
    assert response.status_code == 200, body
    levels = [(entry["t_s"], entry["level"]) for entry in body["timeline"]]
    assert levels[0][1] is None  # the window is still filling
    assert [lvl for t, lvl in levels if 1.0 <= t < 2.8] == ["none"] * len([t for t, _ in levels if 1.0 <= t < 2.8])
    assert levels[-1][1] == "moderate"  # binary PAIN maps to moderate
    assert body["peak"]["pain"]["estimator"] == "lstm" and body["peak"]["pain"]["label"] == "PAIN"


def test_the_seed_upload_answers_with_the_sequence_models_labels(served, monkeypatch):
    client = authed_client(served)
    video = write_video(_neutral_then_grimace(3.0, 3.0), VIDEO_FPS)
    response = client.post("/upload-video", data={"video": (io.BytesIO(video), "recording.mp4"), "estimator": "lstm"},
                           content_type="multipart/form-data")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["painLevel"] == "PAIN" and set(body["probabilities"]) == {"NO_PAIN", "PAIN"}
    assert body["probabilities"]["PAIN"] > 0.5
    assert body["description"].startswith("Pain detected: PAIN (moderate) at ")
    short = write_video(_neutral_then_grimace(0.5, 0.0), VIDEO_FPS)  # less than the window's minimum fill
    response = client.post("/upload-video", data={"video": (io.BytesIO(short), "recording.mp4"), "estimator": "lstm"},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "video_too_short"
    services = served.extensions["painscope"]
    monkeypatch.setattr(services, "settings", services.settings.replace(estimator="lstm"))
    index = client.get("/", headers={"Accept": "application/json"}).get_json()
    assert index["model_type"] == "lstm" and index["num_classes"] == 2  # its label set is binary


def test_a_live_stream_uses_the_lstm_chosen_at_start(served):
    client = live_client(served)
    try:
        started = client.emit("start", {"estimator": "lstm"}, namespace="/live", callback=True)
        assert started["session"]["estimator"] == "lstm"
        acks = []
        for seq, frame in enumerate(_neutral_then_grimace(3.0, 3.0)):
            jpeg = synthetic.encode(frame, quality=85)
            acks.append(client.emit("frame", {"seq": seq, "t_ms": seq * 1000.0 / VIDEO_FPS, "jpeg": jpeg},
                                    namespace="/live", callback=True))
        assert acks[0]["face"]["found"] and acks[0]["pain"] is None
        assert acks[25]["pain"]["estimator"] == "lstm" and acks[25]["pain"]["level"] == "none"
        assert acks[-1]["pain"]["level"] == "moderate" and acks[-1]["pain"]["label"] == "PAIN"
        assert acks[-1]["speech"]["text"].startswith("Moderate pain.")
    finally:
        client.disconnect(namespace="/live")


def test_the_real_server_loads_the_models_folder_and_serves_the_resnet(trained):
    import requests

    from tests.server_process import running_server

    with running_server({"PAINSCOPE_MODELS_DIR": str(trained["models"]), "PAINSCOPE_ESTIMATOR": "resnet18"}) as server:
        url = server.base_url
        health = requests.get(f"{url}/health", headers=server.headers, timeout=30).json()  # details: logged in
        assert health["default_estimator"] == "resnet18"
        assert {m["file"] for m in health["models"] if m["status"] == "loaded"} >= {"resnet18.pt", "sta_lstm.pt"}
        photo = synthetic.encode(synthetic.grimace(1.0))
        answer = requests.post(f"{url}/api/v1/analyze/image", data=photo,
                               headers={"Content-Type": "image/jpeg", **server.headers},
                               timeout=60).json()
        assert answer["pain"]["estimator"] == "resnet18" and answer["pain"]["model"] == "resnet18.pt"
