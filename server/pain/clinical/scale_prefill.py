"""Pre-filling a clinical scale from what the camera measured; the clinician completes and may override.

Each item whose ``evidence`` (server/pain/clinical/scales.py) the camera can see gets a
``value`` and the ``evidence`` it rests on; the others stay ``None`` for the
clinician, and so does an item whose measurement is missing. The total is
given only when every item has a value (it never is from the camera alone: every
scale has items only a person can judge).

Mappings, each a named cut-off:
- Face (PAINAD facial expression, CPOT facial expression, FLACC face), from the
  action units of the pain estimate (PSPI, Prkachin & Solomon 2008); for a video,
  each action unit at the highest intensity the clip held for a second
  (``server/pain/verdict.py``, the rule of the clip's level), so that a blink or a
  word in one frame never grades the face; after
  CPOT's wording (Gelinas et al. 2006): "tense" is brow lowering (AU4) or orbit
  tightening (AU6/AU7); "grimacing" is that plus eyelids tightly closed (AU43).
  Without action units (a learned estimator gives only the PSPI or a level), the
  level stands in: mild -> 1, moderate or severe -> 2.
- Body (PAINAD body language, CPOT body movements), FLACC legs and activity,
  from the body-movement index (server/vision/body.py: body sizes per second).
  Stillness scores 0, but a camera cannot tell a relaxed from a rigid body;
  the evidence says so, and the clinician overrides.
- Breathing (PAINAD), from the camera's respiration rate (server/vitals/respiration.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from server.pain.estimate import PainEstimate
from server.pain.clinical.scales import ACTIVITY, BODY, BREATHING, FACE, LEGS, Scale

# An action unit held for a second counts as present from half a FACS step. The fitted pain head's dead
# zones already sit at the 90th percentile of calm faces' movement (docs/validation.md "How well it reads pain"), so
# half a step held that long is beyond what a calm face does; at a whole step (FACS A) the development
# set's pained clips graded no higher than their calm counterparts (OPR 3 clips of two people read 0).
AU_PRESENT = 0.5
# AU43 (eyes closed) is 0/1 in PSPI; half way counts as closed.
EYES_CLOSED = 0.5
# Level -> face grade when there are no action units (own judgement: PSPI's mild band is a
# tense face, its moderate and severe bands a grimace).
FACE_GRADE_BY_LEVEL: Mapping[str, int] = {"none": 0, "mild": 1, "moderate": 2, "severe": 2}

# Movement index cut-offs, body sizes per second. Own judgement, from the index's
# scale (server/vision/body.py): a still patient's centroid jitter stays near 0.01-0.02;
# 0.05 (a twentieth of the body a second) is visible fidgeting or shifting; 0.15 is
# sustained large movement (kicking, thrashing). Not validated against scored patients.
MOVEMENT_RESTLESS = 0.05
MOVEMENT_AGITATED = 0.15
# The parts whose movement each body item looks at.
PARTS_BY_EVIDENCE: Mapping[str, tuple[str, ...]] = {
    BODY: ("arm", "leg", "torso", "head"),
    LEGS: ("leg",),
    ACTIVITY: ("torso", "leg", "arm"),
}

# Respiration rate (breaths per minute), after the NEWS2 respiration bands (Royal College of
# Physicians 2017): 12-20 normal -> 0; 21-24 -> 1 (PAINAD "short period of hyperventilation");
# 25 and over -> 2 ("long period of hyperventilation"). Below 12 is left to the clinician:
# slow breathing is not a PAINAD sign by itself (own judgement).
BREATHING_NORMAL_MIN = 12.0
BREATHING_FAST = 21.0
BREATHING_VERY_FAST = 25.0


@dataclass(frozen=True)
class CameraEvidence:
    """What the camera measured for one assessment: all optional."""

    pain: PainEstimate | None = None  # a photo's estimate; a video's, with the action units it held (verdict.py)
    face_basis: str | None = None  # what ``pain``'s action units are, said in the face item's evidence
    movement_index: Mapping[str, float | None] | None = None  # per body part, body sizes per second
    movement_window_s: float | None = None  # how long the movement was watched
    respiration_bpm: float | None = None
    respiration_quality: float | None = None


@dataclass(frozen=True)
class PrefilledItem:
    """One item as the camera pre-filled it: a score or None, and what it rests on."""

    key: str
    value: int | None
    evidence: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``source`` is "camera" when there is a value."""
        return {"value": self.value, "evidence": self.evidence, "source": "camera" if self.value is not None else None}


@dataclass(frozen=True)
class Prefill:
    """A scale pre-filled from the camera; ``total`` only when every item has a value."""

    scale: Scale
    items: tuple[PrefilledItem, ...]

    @property
    def complete(self) -> bool:
        """Every item has a value."""
        return all(item.value is not None for item in self.items)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: each item's value and evidence, the total and band when complete."""
        total = sum(item.value or 0 for item in self.items) if self.complete else None
        return {
            "scale": self.scale.key,
            "items": {item.key: item.to_dict() for item in self.items},
            "complete": self.complete,
            "total": total,
            "band": self.scale.band_for(total).name if total is not None else None,
        }


def face_grade(pain: PainEstimate | None, basis: str | None = None) -> tuple[int | None, str | None]:
    """0 relaxed, 1 tense, 2 grimacing (and why, ``basis`` saying what the action units are) from a pain
    estimate; None without a face.

    Tense: a lowered brow (AU4), tightened lids (AU6/7) or a wrinkled nose or raised upper lip (AU9/10,
    the mouth of the pain grimace) present; grimacing: tense with the eyes closed. Closed eyes alone
    are sleep, not pain."""
    if pain is None:
        return None, None
    units = pain.action_units
    if not units:
        grade = FACE_GRADE_BY_LEVEL.get(pain.level)
        return grade, f"pain level {pain.level} ({pain.estimator}; no action units)"
    brow = units.get("AU4", 0.0)
    orbit = max(units.get("AU6", 0.0), units.get("AU7", 0.0))
    lip = max(units.get("AU9", 0.0), units.get("AU10", 0.0))
    eyes = units.get("AU43", 0.0)
    tense = max(brow, orbit, lip) >= AU_PRESENT
    grade = 2 if tense and eyes >= EYES_CLOSED else 1 if tense else 0
    pspi = "" if pain.pspi is None else f"PSPI {pain.pspi:.1f}; "
    said = (f"{pspi}brow lowering AU4 {brow:.1f}, orbit tightening AU6/7 {orbit:.1f}, "
            f"nose and upper lip AU9/10 {lip:.1f}, eyes closed AU43 {eyes:.1f}")
    return grade, said if basis is None else f"{said} ({basis})"


def movement_grade(evidence: CameraEvidence, kind: str) -> tuple[int | None, str | None]:
    """0 still, 1 restless, 2 agitated (and why) from the fastest of the item's parts; None unseen."""
    seen = {
        part: value for part in PARTS_BY_EVIDENCE[kind]
        if (value := (evidence.movement_index or {}).get(part)) is not None
    }
    if not seen:
        return None, None
    part, fastest = max(seen.items(), key=lambda kv: kv[1])
    grade = 2 if fastest >= MOVEMENT_AGITATED else 1 if fastest >= MOVEMENT_RESTLESS else 0
    window = f" over {evidence.movement_window_s:.0f} s" if evidence.movement_window_s else ""
    note = "; stillness cannot show rigidity" if grade == 0 else ""
    return grade, f"{part} movement {fastest:.3f} body sizes/s{window}{note}"


def breathing_grade(evidence: CameraEvidence) -> tuple[int | None, str | None]:
    """0 normal, 1 fast, 2 very fast (and why) from the respiration rate; None unmeasured or slow."""
    rate = evidence.respiration_bpm
    if rate is None:
        return None, None
    quality = "" if evidence.respiration_quality is None else f" (quality {evidence.respiration_quality:.2f})"
    measured = f"respiration {rate:.0f} breaths/min{quality}"
    if rate < BREATHING_NORMAL_MIN:
        return None, f"{measured}: slow, judge the breathing pattern"
    grade = 2 if rate >= BREATHING_VERY_FAST else 1 if rate >= BREATHING_FAST else 0
    return grade, measured


def prefill(scale: Scale, evidence: CameraEvidence) -> Prefill:
    """Each item of ``scale`` with the value and evidence the camera gives (None where it gives none)."""
    items = []
    for item in scale.items:
        value: int | None = None
        note: str | None = None
        if item.evidence == FACE:
            value, note = face_grade(evidence.pain, evidence.face_basis)
        elif item.evidence in PARTS_BY_EVIDENCE:
            value, note = movement_grade(evidence, item.evidence)
        elif item.evidence == BREATHING:
            value, note = breathing_grade(evidence)
        items.append(PrefilledItem(item.key, value, note))
    return Prefill(scale, tuple(items))
