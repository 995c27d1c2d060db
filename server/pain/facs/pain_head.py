"""The pain head: how each PSPI action unit is read from its own muscles' features, fitted on real clips.

Each action unit keeps its FACS meaning: it is read only from the features of
the muscle that produces it, by two sources (``server/pain/facs/geometry.py``):

- the landmark geometry: a distance's relative shrink from the person's
  neutral face, less a dead zone, scaled so a maximal movement reads 5;
- the Face Landmarker blendshapes of the same muscle, as a rise above the
  neutral's scores, likewise.

The fused AU is ``clip(w_geometry * I_geometry + w_blendshapes * I_blendshapes, 0, 5)``.
Which dead zones, full scales and weights, the PSPI -> level bands and the
smile rule's form are fitted by ``python -m server.training.fit_pain_head`` on
labelled clips with leave-one-subject-out model selection, and written to
``models/pain_head.json`` with the data's provenance, the command, the date and
the LOSO figures. That file is part of the project (its own output, no
third-party data) and is loaded once at start-up with its SHA-256 checked
(``Settings.pain_head_sha256``): a changed or damaged file refuses to load
rather than read pain differently without anyone knowing.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from server.config import Settings
from server.pain import scale

SOURCES: tuple[str, ...] = ("geometry", "blendshapes")
FITTED_UNITS: tuple[str, ...] = ("AU4", "AU6", "AU7", "AU9", "AU10")
FORMAT = "painscope-pain-head/1"


class PainHeadError(RuntimeError):
    """The pain head file is missing, damaged, or not the one the settings name."""


@dataclass(frozen=True)
class SourceRule:
    """One source's reading of one AU: ``clip((change - dead_zone) / full_scale * 5, 0, 5)``, weighted."""

    dead_zone: float
    full_scale: float
    weight: float

    def intensity(self, change: float, extra_tolerance: float = 0.0) -> float:
        """Intensity 0-5 this source alone reads (before its weight)."""
        above = change - self.dead_zone - extra_tolerance
        return float(np.clip(above / self.full_scale * scale.AU_MAX, 0.0, scale.AU_MAX))


@dataclass(frozen=True)
class PainHead:
    """The fitted reading: per AU and source a rule, the level bands, the look-alike rules' form."""

    rules: Mapping[str, Mapping[str, SourceRule]]
    thresholds: tuple[float, float, float]
    discount_smile: bool  # a smile (without lowered brows) discounts the eye and lip terms (pain/facs/context.py)
    discount_speech: bool  # speech (the jaw moving like talk) discounts AU10
    # Each reading is the median of the readings of the last this-many seconds (one video sample every
    # 0.2 s at 5 frames/s: 0.4 s holds three): one frame's landmark glitch does not set a clip's peak.
    smoothing_s: float
    provenance: Mapping[str, Any] = field(default_factory=dict)
    sha256: str | None = None

    def fuse(self, au: str, readings: Mapping[str, float | None]) -> float:
        """One AU from its sources' intensities (None: the source could not read it, and the others
        stand in for it in proportion to their weights)."""
        rules = self.rules[au]
        present = [(rules[s].weight, v) for s, v in readings.items() if v is not None]
        weight_present = sum(w for w, _ in present)
        if weight_present <= 0:
            return 0.0
        weight_all = sum(rule.weight for rule in rules.values())
        total = sum(w * v for w, v in present) * weight_all / weight_present
        return float(np.clip(total, 0.0, scale.AU_MAX))

    def to_json(self) -> dict[str, Any]:
        """The JSON form written by the fitting tool (without the hash, which is of this text)."""
        return {
            "format": FORMAT,
            "rules": {au: {s: vars(rule) for s, rule in by_source.items()} for au, by_source in self.rules.items()},
            "thresholds": list(self.thresholds),
            "discount_smile": self.discount_smile,
            "discount_speech": self.discount_speech,
            "smoothing_s": self.smoothing_s,
            "provenance": dict(self.provenance),
        }


def from_json(data: Mapping[str, Any], sha256: str | None = None) -> PainHead:
    """A pain head from its JSON form; PainHeadError when a part is missing or out of range."""
    try:
        if data["format"] != FORMAT:
            raise PainHeadError(f"unknown pain head format {data['format']!r}")
        rules = {au: {s: SourceRule(**{k: float(v) for k, v in data["rules"][au][s].items()}) for s in SOURCES}
                 for au in FITTED_UNITS}
        thresholds = tuple(float(t) for t in data["thresholds"])
        head = PainHead(rules, thresholds, bool(data["discount_smile"]), bool(data["discount_speech"]),
                        float(data["smoothing_s"]), data.get("provenance", {}), sha256)
    except (KeyError, TypeError, ValueError) as problem:
        raise PainHeadError(f"pain head: {problem}") from None
    if len(thresholds) != 3 or list(thresholds) != sorted(thresholds) or thresholds[0] <= 0:
        raise PainHeadError("pain head: thresholds must be three rising PSPI values above 0")
    if any(r.full_scale <= 0 or r.weight < 0 for by_source in rules.values() for r in by_source.values()):
        raise PainHeadError("pain head: every full scale must be positive and every weight non-negative")
    if head.smoothing_s < 0:
        raise PainHeadError("pain head: smoothing_s must not be negative")
    return head


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_pain_head(path: Path, expected_sha256: str | None) -> PainHead:
    """The pain head at ``path``, refused unless its SHA-256 is ``expected_sha256`` (None: not checked)."""
    try:
        raw = path.read_bytes()
    except OSError as problem:
        raise PainHeadError(f"pain head {path}: {problem.strerror or problem}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise PainHeadError(
            f"pain head {path} has SHA-256 {digest}, not the {expected_sha256} the settings name "
            "(PAINSCOPE_PAIN_HEAD_SHA256): refit it with server.training.fit_pain_head or restore the file")
    try:
        data = json.loads(raw)
    except ValueError as problem:
        raise PainHeadError(f"pain head {path}: not JSON ({problem})") from None
    return from_json(data, digest)


@lru_cache(maxsize=4)
def _load_cached(path: str, sha256: str) -> PainHead:
    return load_pain_head(Path(path), sha256 or None)


def shipped_pain_head(settings: Settings | None = None) -> PainHead:
    """The pain head the settings name (``pain_head_file``, ``pain_head_sha256``), loaded once per process."""
    settings = settings or Settings.from_env()
    return _load_cached(str(settings.pain_head_path), settings.pain_head_sha256)


def level_bands(settings: Settings) -> tuple[float, float, float]:
    """The PSPI -> level bands in force: the settings' when set, else the fitted pain head's."""
    if settings.level_thresholds:
        return tuple(settings.level_thresholds)  # type: ignore[return-value]
    return shipped_pain_head(settings).thresholds
