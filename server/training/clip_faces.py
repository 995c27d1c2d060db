"""The faces of a labelled clip set, read once and cached, for fitting and evaluating the pain reading.

    python -m server.training.clip_faces --data DIR [--cache FILE]

``DIR`` is laid out as the development set is (``../shared/tools/unbc-dev-set``):
``DIR/clips/<subject>/<clip>.mp4``, ``DIR/labels.csv`` (``clip, subject, rating,
pspi``) and ``DIR/refs/<subject>/<stem>.png`` (neutral frames). Every frame of
every clip, labelled or not, is read at its full frame rate by a static Face
Landmarker, as the app reads each sampled frame of an uploaded video (a fresh
detection, ``assess/analysis.py``), and the patient's landmarks and 52
blendshape scores are kept; so are the reference images' faces. Nothing else
(no pixels) is kept. The cache (default ``DIR/faces.pkl``) lives beside the data,
outside the repository, and is rebuilt when missing.
"""
from __future__ import annotations

import argparse
import pickle
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from server.assess.analysis import image_limits, video_limits
from server.assess.frame_step import FrameStep, pick_patient
from server.config import Settings
from server.training.clip_figures import read_labels
from server.vision.face import Face, FaceTracker
from server.vision.frames import open_video
from server.vitals.rppg import VIDEO_MAX_FPS

CACHE_NAME = "faces.pkl"
CACHE_VERSION = 2


@dataclass(frozen=True)
class StoredFace:
    """What is kept of a patient's face: enough to rebuild the :class:`Face` the app would read."""

    box: tuple[int, int, int, int]
    landmarks: np.ndarray  # 478 x 3, float32, pixels
    quality: float
    turn_deg: float
    blendshapes: dict[str, float]

    @classmethod
    def of(cls, face: Face) -> "StoredFace":
        """Keep a face."""
        return cls(tuple(int(v) for v in face.box), face.landmarks.astype(np.float32), float(face.quality),
                   float(face.turn_deg), {k: float(v) for k, v in face.blendshapes.items()})

    def face(self) -> Face:
        """The face as the app's analysis takes it."""
        return Face(self.box, self.landmarks.astype(np.float64), self.quality, self.turn_deg, self.blendshapes)


@dataclass
class ClipFaces:
    """One clip: its labels (None when unlabelled) and the patient's face per frame (None: no face)."""

    clip: str  # path relative to DIR/clips
    subject: str
    rating: float | None
    pspi: float | None
    times: np.ndarray
    faces: list[StoredFace | None]

    @property
    def stem(self) -> str:
        """The clip's file name without suffix (its neutral reference, if any, has the same stem)."""
        return Path(self.clip).stem

    @property
    def labelled(self) -> bool:
        """True when the clip has an observer rating."""
        return self.rating is not None


@dataclass
class ClipSet:
    """Every clip's faces and every subject's reference faces by stem."""

    clips: list[ClipFaces]
    references: dict[str, dict[str, StoredFace]] = field(default_factory=dict)

    def labelled(self) -> list[ClipFaces]:
        """The labelled clips."""
        return [c for c in self.clips if c.labelled]

    def subjects(self) -> list[str]:
        """The subjects, sorted."""
        return sorted({c.subject for c in self.clips})

    def references_for(self, clip: ClipFaces, limit: int) -> list[Face]:
        """Up to ``limit`` of the subject's neutral faces, never the one made from ``clip``'s own first frame."""
        refs = self.references.get(clip.subject, {})
        return [refs[stem].face() for stem in sorted(refs) if stem != clip.stem][:limit]


def read_clip_set(data: Path, settings: Settings, log=print) -> ClipSet:
    """Read every clip and reference under ``data`` (slow: a Face Landmarker pass per frame)."""
    labels = {f"{c.path.parent.name}/{c.path.name}": (c.subject, c.rating, c.pspi)
              for c in read_labels(data / "labels.csv", data / "clips")}
    tracker = FaceTracker(stream=False, max_side=settings.analysis_max_side)
    step = FrameStep(tracker, image_limits(settings), skin=False)
    limits = video_limits(settings)
    clips: list[ClipFaces] = []
    references: dict[str, dict[str, StoredFace]] = {}
    started = time.monotonic()
    try:
        for path in sorted((data / "clips").glob("*/*.mp4")):
            rel = f"{path.parent.name}/{path.name}"
            subject, rating, pspi = labels.get(rel, (path.parent.name, None, None))
            times, faces = [], []
            with open_video(path.read_bytes(), limits) as video:
                for frame in video.frames(VIDEO_MAX_FPS):
                    patient = pick_patient(tracker.process(frame.rgb), None, strict=False)
                    times.append(frame.t_s)
                    faces.append(StoredFace.of(patient) if patient is not None else None)
            clips.append(ClipFaces(rel, subject, rating, pspi, np.array(times), faces))
            log(f"{rel}: {len(times)} frames, {sum(f is not None for f in faces)} with a face "
                f"({time.monotonic() - started:.0f} s)")
        for path in sorted((data / "refs").glob("*/*.png")):
            patient = step.see(step.decode(path.read_bytes())).patient
            if patient is not None:
                references.setdefault(path.parent.name, {})[path.stem] = StoredFace.of(patient)
    finally:
        tracker.close()
    return ClipSet(clips, references)


def load_clip_set(data: Path, cache: Path | None = None, settings: Settings | None = None, log=print) -> ClipSet:
    """The cached clip set of ``data``, read (and cached) first when the cache is missing or stale."""
    cache = cache or data / CACHE_NAME
    if cache.exists():
        with open(cache, "rb") as handle:
            stored = pickle.load(handle)  # our own cache, written below
        if stored.get("version") == CACHE_VERSION:
            return _from_plain(stored)
    clip_set = read_clip_set(data, settings or Settings.from_env(), log)
    with open(cache, "wb") as handle:
        pickle.dump(_to_plain(clip_set), handle)
    return clip_set


def _to_plain(clip_set: ClipSet) -> dict:
    """The clip set as builtins and arrays only, so the cache does not depend on where these classes live."""
    face = lambda f: None if f is None else vars(f).copy()  # noqa: E731
    return {
        "version": CACHE_VERSION,
        "clips": [{**{k: v for k, v in vars(c).items() if k != "faces"}, "faces": [face(f) for f in c.faces]}
                  for c in clip_set.clips],
        "references": {s: {stem: face(f) for stem, f in refs.items()} for s, refs in clip_set.references.items()},
    }


def _from_plain(stored: dict) -> ClipSet:
    face = lambda f: None if f is None else StoredFace(**f)  # noqa: E731
    clips = [ClipFaces(**{**c, "faces": [face(f) for f in c["faces"]]}) for c in stored["clips"]]
    references = {s: {stem: face(f) for stem, f in refs.items()} for s, refs in stored["references"].items()}
    return ClipSet(clips, references)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the cache and say what it holds."""
    parser = argparse.ArgumentParser(prog="python -m server.training.clip_faces", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args(argv)
    clip_set = load_clip_set(args.data, args.cache)
    frames = sum(len(c.times) for c in clip_set.clips)
    print(f"{len(clip_set.clips)} clips ({len(clip_set.labelled())} labelled), {frames} frames, "
          f"{sum(len(r) for r in clip_set.references.values())} references", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
