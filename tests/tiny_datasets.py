"""Tiny training sets built at test time from the warped astronaut face. They prove the pipeline, not pain.

- UNBC layout: four "subjects" (the astronaut with different lighting or
  mirrored), one sequence each, frames at grimace strengths 0..1 labelled
  PSPI = PSPI_PER_STRENGTH x strength; plus a corrupt image and an unlabelled
  one, which the trainer must skip and count.
- Landmark sequences (.npy, T x 478 x 3) at 10 fps: NO_PAIN stays neutral,
  PAIN moves from the neutral landmarks to the grimace's halfway through.
  Subjects differ by a similarity transform (head size, position, roll).
- BioVid-style folders: camera videos (BL1 neutral, PA4 turning into the
  grimace) and biosignal files of simulated ECG whose heart rate is the label.
"""
from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np
from PIL import Image

from server.vision.face import FaceTracker
from tests import synthetic

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
PSPI_PER_STRENGTH = 12.0  # the full grimace raises AU4, AU6/7 and AU9/10 by about 4 each
SUBJECT_LOOKS = {"S1": 1.0, "S2": 0.85, "S3": "mirror", "S4": 1.1}  # brightness gain, or mirrored
SEQUENCE_FPS = 10.0
SEQUENCE_FRAMES = 30
LANDMARK_NOISE_PX = 0.4  # Face Mesh jitter on a still face is about this


@functools.lru_cache(maxsize=None)
def grimace_faces() -> dict[float, np.ndarray]:
    """The astronaut at every strength in STRENGTHS (warping is the slow part; done once)."""
    return {s: synthetic.astronaut_face() if s == 0 else synthetic.grimace(s) for s in STRENGTHS}


def _look(face: np.ndarray, look) -> np.ndarray:
    if look == "mirror":
        return np.ascontiguousarray(face[:, ::-1])
    return np.clip(face.astype(np.float32) * look, 0, 255).astype(np.uint8)


def write_unbc(root: Path) -> tuple[Path, Path]:
    """IMAGES and LABELS folders in the UNBC-McMaster layout; returns (images, labels)."""
    images, labels = root / "Images", root / "Frame_Labels"
    for subject, look in SUBJECT_LOOKS.items():
        sequence = f"{subject.lower()}seq"
        (images / subject / sequence).mkdir(parents=True)
        (labels / subject / sequence).mkdir(parents=True)
        for number, (strength, face) in enumerate(grimace_faces().items()):
            frame = f"{sequence}{number:03d}"
            Image.fromarray(_look(face, look)).save(images / subject / sequence / f"{frame}.png")
            (labels / subject / sequence / f"{frame}_facs.txt").write_text(f"   {PSPI_PER_STRENGTH * strength:.7e}\n")
    broken = images / "S1" / "s1seq" / "s1seq900.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    (labels / "S1" / "s1seq" / "s1seq900_facs.txt").write_text("0\n")
    Image.fromarray(grimace_faces()[0.0]).save(images / "S1" / "s1seq" / "s1seq901.png")  # no label file
    return images, labels


@functools.lru_cache(maxsize=1)
def _neutral_and_grimace_landmarks() -> tuple[np.ndarray, np.ndarray]:
    tracker = FaceTracker(stream=False, max_faces=1)
    try:
        return tuple(tracker.process(grimace_faces()[s])[0].landmarks for s in (0.0, 1.0))
    finally:
        tracker.close()


def _similarity(points: np.ndarray, scale: float, roll_deg: float, shift: tuple[float, float]) -> np.ndarray:
    angle = np.radians(roll_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = points.copy()
    centre = points[:, :2].mean(axis=0)
    out[:, :2] = (points[:, :2] - centre) @ rotation.T * scale + centre + np.array(shift)
    out[:, 2] *= scale
    return out


def landmark_sequence(pain: bool, rng: np.random.Generator, scale: float, roll_deg: float,
                      shift: tuple[float, float]) -> np.ndarray:
    """T x 478 x 3 landmarks: neutral, or neutral turning into the grimace from the middle on."""
    neutral, grimace = _neutral_and_grimace_landmarks()
    frames = []
    for t in range(SEQUENCE_FRAMES):
        amount = min(max((t - SEQUENCE_FRAMES / 2) / 5.0, 0.0), 1.0) if pain else 0.0
        points = neutral + (grimace - neutral) * amount
        points = _similarity(points, scale, roll_deg, shift)
        frames.append(points + rng.normal(0, LANDMARK_NOISE_PX, points.shape))
    return np.stack(frames).astype(np.float32)


SUBJECT_POSES = {"S1": (1.0, 0.0, (0, 0)), "S2": (0.7, 8.0, (30, -10)), "S3": (1.3, -6.0, (-20, 15)),
                 "S4": (0.9, 4.0, (10, 10))}


def write_sequences(root: Path, per_class: int = 4) -> Path:
    """``.npy`` landmark sequences and their manifest (binary labels); returns the manifest path."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for subject, pose in SUBJECT_POSES.items():
        for label in ("NO_PAIN", "PAIN"):
            for number in range(per_class):
                name = f"{subject}-{label}-{number}.npy"
                np.save(root / name, landmark_sequence(label == "PAIN", rng, *pose))
                rows.append({"path": name, "label": label, "subject": subject})
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "subject"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


BIOVID_SUBJECTS = ("071309_w_21", "080314_w_25", "081014_w_27")  # BioVid-style subject ids


def write_biovid(root: Path, subjects: tuple[str, ...] = BIOVID_SUBJECTS) -> Path:
    """A BioVid-style folder ``<subject>/<subject>-<BL1|PA4>-<n>.mp4`` of short camera videos; returns the folder."""
    from tests.media import write_video

    neutral = synthetic.camera_frame(grimace_faces()[0.0])
    pained = synthetic.camera_frame(grimace_faces()[1.0])
    half = int(SEQUENCE_FRAMES / 2)
    for subject in subjects:
        (root / subject).mkdir(parents=True)
        clips = {"BL1": [neutral] * SEQUENCE_FRAMES, "PA4": [neutral] * half + [pained] * half}
        for label, frames in clips.items():
            (root / subject / f"{subject}-{label}-001.mp4").write_bytes(write_video(frames, SEQUENCE_FPS))
    (root / subjects[0] / "notes.txt").write_text("not a sample")
    return root


# Simulated ECG of a BioVid-style biosignal folder: the heart rate carries the label.
BIOSIGNAL_RATE_HZ = 512  # BioVid's biosignal rate (server/vitals/ecg_files.py BIOVID_RATE_HZ)
BIOSIGNAL_SECONDS = 8  # s (neurokit2 takes whole seconds); a BioVid sample is 5.5 s; the ECG reader needs at least 5 s
BIOSIGNAL_BPM = {"BL1": 62.0, "PA4": 96.0}  # resting vs. a pain-raised heart rate (the test's premise)
BIOSIGNAL_HEADER = "time\tgsr\tecg\temg_trapezius\temg_corrugator\temg_zygomaticus"


def write_biovid_biosignals(root: Path, subjects: tuple[str, ...] = BIOVID_SUBJECTS, per_class: int = 6) -> Path:
    """``<subject>/<subject>-<BL1|PA4>-<n>_bio.csv`` of simulated ECG (neurokit2) at 512 Hz; returns the folder."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # neurokit2 imports scipy.misc, deprecated in SciPy
        import neurokit2 as nk

    seed = 0
    for subject in subjects:
        (root / subject).mkdir(parents=True)
        for label, bpm in BIOSIGNAL_BPM.items():
            for number in range(1, per_class + 1):
                seed += 1
                ecg = nk.ecg_simulate(duration=BIOSIGNAL_SECONDS, sampling_rate=BIOSIGNAL_RATE_HZ, noise=0.02,
                                      heart_rate=bpm, heart_rate_std=2.0, random_state=seed)
                rows = (f"{round(i * 1e6 / BIOSIGNAL_RATE_HZ)}\t6.5\t{v:.5f}\t0.01\t0.01\t0.01"
                        for i, v in enumerate(ecg))
                path = root / subject / f"{subject}-{label}-{number:03d}_bio.csv"
                path.write_text(BIOSIGNAL_HEADER + "\n" + "\n".join(rows) + "\n")
    return root
