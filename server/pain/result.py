"""The Result of analysing one image or frame: built here, in one place, for every caller."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

from server.pain.estimate import PainEstimate
from server.vision.face import LANDMARK_COUNT, Face
from server.vitals.vital_signs import Vitals


@dataclass(frozen=True)
class Result:
    """What PainScope says about one image: the face, the pain, vitals and the spoken phrase."""

    face: Face | None
    faces: tuple[Face, ...]
    pain: PainEstimate | None
    speech_text: str
    timing_ms: dict[str, float]
    vitals: Vitals | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Live streams: the level the sentence announces (held for a second, server/pain/verdict.py).
    speech_level: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result schema (docs/ARCHITECTURE.md) as plain JSON-ready types."""
        face = self.face
        out: dict[str, Any] = {
            "face": {
                "found": face is not None,
                "box": list(face.box) if face else None,
                "landmarks": LANDMARK_COUNT if face else 0,
                "quality": face.quality if face else None,
                "count": len(self.faces),
            },
            "faces": [{"box": list(f.box), "quality": f.quality} for f in self.faces],
            "pain": dataclasses.asdict(self.pain) if self.pain else None,
            "vitals": self.vitals.to_dict() if self.vitals is not None else None,
            "speech": {"text": self.speech_text, **({"level": self.speech_level} if self.speech_level else {})},
            "timing_ms": {name: round(ms, 2) for name, ms in self.timing_ms.items()},
        }
        out.update(self.extra)
        return out


def choose_patient(faces: Sequence[Face], index: int | None) -> Face | None:
    """The face to assess: the largest unless ``index`` (0 = largest) says otherwise."""
    if not faces:
        return None
    if index is None:
        return faces[0]
    return faces[index]
