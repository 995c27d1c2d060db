"""The Face Landmarker bundle (server/vision/face_model.py): present and intact, or a clear refusal to start."""
from __future__ import annotations

import pytest

from server.config import Settings
from server.vision import face_model
from server.vision.face_model import FaceModelMissing, verify


def test_the_installed_bundle_is_the_checked_file():
    assert face_model.sha256(verify(face_model.DEFAULT_PATH)) == face_model.FILE_SHA256


def test_a_missing_bundle_says_how_to_get_it(tmp_path):
    with pytest.raises(FaceModelMissing, match="make setup"):
        verify(tmp_path / "face_landmarker.task")


def test_an_altered_bundle_is_refused_with_both_hashes(tmp_path):
    fake = tmp_path / "face_landmarker.task"
    fake.write_bytes(b"not the model")
    with pytest.raises(FaceModelMissing, match=face_model.FILE_SHA256):
        verify(fake)


def test_the_server_does_not_start_without_it(tmp_path, monkeypatch):
    from server import create_app

    monkeypatch.setattr("server.services.DEFAULT_PATH", tmp_path / "missing.task")
    with pytest.raises(FaceModelMissing):
        create_app(Settings(instance_dir=str(tmp_path / "instance")))
