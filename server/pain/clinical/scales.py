"""Clinical observational pain scales as data: PAINAD, CPOT and FLACC, and their scoring.

Clinicians chart pain on validated behavioural scales, not on PSPI. Each scale
here is its items (each with the options a clinician ticks, a label and a score),
the range of its total, the bands the total falls in and the published source.
:func:`score_scale` checks a filled-in form (every item present, every value one
of the item's scores) and gives the total and its band. Pure data and arithmetic;
the camera's pre-fill is ``server/pain/clinical/scale_prefill.py``.

Sources:
- PAINAD: Warden V, Hurley AC, Volicer L. Development and psychometric evaluation
  of the Pain Assessment in Advanced Dementia (PAINAD) scale. J Am Med Dir Assoc
  2003;4:9-15. The paper gives no severity bands; 1-3 mild, 4-6 moderate, 7-10
  severe are the bands of the scoring instructions distributed with the tool.
- CPOT: Gelinas C, Fillion L, Puntillo KA, Viens C, Fortier M. Validation of the
  Critical-Care Pain Observation Tool in adult patients. Am J Crit Care
  2006;15:420-427. CPOT has no published severity bands; the one published
  cut-off is a total above 2 for pain (Gelinas et al., Clin J Pain 2009;25:
  339-346), so this module has two bands: 0-2 "none" and 3-8 "pain".
- FLACC: Merkel SI, Voepel-Lewis T, Shayevitz JR, Malviya S. The FLACC: a
  behavioral scale for scoring postoperative pain in young children. Pediatr
  Nurs 1997;23:293-297. 0 relaxed and comfortable, 1-3 mild discomfort, 4-6
  moderate pain, 7-10 severe discomfort or pain.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from server.problems import N_, InputProblem

# What a camera measurement can pre-fill an item from (server/pain/clinical/scale_prefill.py);
# None: only the clinician can judge it (cry, consolability, vocalisation, ...).
FACE, BODY, LEGS, ACTIVITY, BREATHING = "face", "body", "legs", "activity", "breathing"


@dataclass(frozen=True)
class Option:
    """One answer of an item: its score and what the clinician sees."""

    score: int
    label: str


@dataclass(frozen=True)
class Item:
    """One row of a scale: what to observe and the answers, scored 0, 1, 2."""

    key: str
    name: str
    options: tuple[Option, ...]
    evidence: str | None = None  # FACE, BODY, LEGS, ACTIVITY, BREATHING or None (clinician only)

    @property
    def scores(self) -> tuple[int, ...]:
        """The scores this item can take."""
        return tuple(option.score for option in self.options)


@dataclass(frozen=True)
class Band:
    """A range of totals with a name; ``reassess``: a total here asks for a reassessment."""

    name: str
    low: int
    high: int
    label: str
    reassess: bool


@dataclass(frozen=True)
class Scale:
    """A scale: its items, the bands of its total and where it was published."""

    key: str
    name: str
    title: str
    population: str
    items: tuple[Item, ...]
    bands: tuple[Band, ...]
    source: str
    bands_source: str

    @property
    def max_total(self) -> int:
        """The highest possible total."""
        return sum(max(item.scores) for item in self.items)

    def item(self, key: str) -> Item:
        """The item ``key``, or ``unknown_scale_item``."""
        for item in self.items:
            if item.key == key:
                return item
        keys = ", ".join(i.key for i in self.items)
        raise InputProblem("unknown_scale_item", "%(scale)s has no item %(item)s; its items are %(items)s.",
                           scale=self.name, item=repr(key), items=keys)

    def band_for(self, total: int) -> Band:
        """The band a total falls in."""
        for band in self.bands:
            if band.low <= total <= band.high:
                return band
        raise ValueError(f"{self.name} total {total} is outside 0-{self.max_total}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: items with options, the total's range, bands and sources."""
        return {
            "key": self.key,
            "name": self.name,
            "title": self.title,
            "population": self.population,
            "min_total": 0,
            "max_total": self.max_total,
            "items": [
                {
                    "key": item.key,
                    "name": item.name,
                    "evidence": item.evidence,
                    "options": [{"score": o.score, "label": o.label} for o in item.options],
                }
                for item in self.items
            ],
            "bands": [
                {"name": b.name, "low": b.low, "high": b.high, "label": b.label, "reassess": b.reassess}
                for b in self.bands
            ],
            "source": self.source,
            "bands_source": self.bands_source,
        }


def _item(key: str, name: str, labels: tuple[str, str, str], evidence: str | None = None) -> Item:
    return Item(key, name, tuple(Option(score, label) for score, label in enumerate(labels)), evidence)


# Bands of the 0-10 scales (PAINAD and FLACC share their cut points).
def _ten_point_bands(none: str, mild: str, moderate: str, severe: str) -> tuple[Band, ...]:
    return (
        Band("none", 0, 0, none, False),
        Band("mild", 1, 3, mild, False),
        Band("moderate", 4, 6, moderate, True),
        Band("severe", 7, 10, severe, True),
    )


PAINAD = Scale(
    key="painad",
    name="PAINAD",
    title=N_("Pain Assessment in Advanced Dementia"),
    population=N_("adults with advanced dementia who cannot report their pain"),
    items=(
        _item("breathing", N_("Breathing independent of vocalisation"), (
            N_("Normal"),
            N_("Occasional laboured breathing; short period of hyperventilation"),
            N_("Noisy laboured breathing; long period of hyperventilation; Cheyne-Stokes respirations"),
        ), BREATHING),
        _item("vocalization", N_("Negative vocalisation"), (
            N_("None"),
            N_("Occasional moan or groan; low-level speech with a negative or disapproving quality"),
            N_("Repeated troubled calling out; loud moaning or groaning; crying"),
        )),
        _item("face", N_("Facial expression"), (
            N_("Smiling or inexpressive"),
            N_("Sad; frightened; frown"),
            N_("Facial grimacing"),
        ), FACE),
        _item("body_language", N_("Body language"), (
            N_("Relaxed"),
            N_("Tense; distressed pacing; fidgeting"),
            N_("Rigid; fists clenched; knees pulled up; pulling or pushing away; striking out"),
        ), BODY),
        _item("consolability", N_("Consolability"), (
            N_("No need to console"),
            N_("Distracted or reassured by voice or touch"),
            N_("Unable to console, distract or reassure"),
        )),
    ),
    bands=_ten_point_bands(N_("No pain"), N_("Mild pain"), N_("Moderate pain"), N_("Severe pain")),
    source="Warden, Hurley & Volicer, J Am Med Dir Assoc 2003;4:9-15",
    bands_source=N_("PAINAD scoring instructions distributed with the tool (the 2003 paper gives no bands)"),
)

CPOT = Scale(
    key="cpot",
    name="CPOT",
    title=N_("Critical-Care Pain Observation Tool"),
    population=N_("adults in intensive care, intubated or not, who cannot report their pain"),
    items=(
        _item("face", N_("Facial expression"), (
            N_("Relaxed, neutral: no muscular tension observed"),
            N_("Tense: frowning, brow lowering, orbit tightening, levator contraction"),
            N_("Grimacing: all of the above plus eyelids tightly closed"),
        ), FACE),
        _item("body_movements", N_("Body movements"), (
            N_("Absence of movements or normal position"),
            N_("Protection: slow, cautious movements; touching or rubbing the pain site"),
            N_("Restlessness or agitation: pulling at the tube, trying to sit up, thrashing, striking"),
        ), BODY),
        _item("ventilator_or_vocalization",
              N_("Compliance with the ventilator (intubated) or vocalisation (extubated)"), (
            N_("Tolerating the ventilator or movement / talking in a normal tone or no sound"),
            N_("Coughing but tolerating / sighing, moaning"),
            N_("Fighting the ventilator / crying out, sobbing"),
        )),
        _item("muscle_tension", N_("Muscle tension (passive flexion and extension of the upper limbs)"), (
            N_("Relaxed: no resistance to passive movements"),
            N_("Tense, rigid: resistance to passive movements"),
            N_("Very tense or rigid: strong resistance, cannot complete them"),
        )),
    ),
    bands=(
        Band("none", 0, 2, N_("At or below the cut-off: pain unlikely"), False),
        Band("pain", 3, 8, N_("Above the cut-off of 2: pain likely"), True),
    ),
    source="Gelinas, Fillion, Puntillo, Viens & Fortier, Am J Crit Care 2006;15:420-427",
    bands_source=N_("Cut-off > 2 (Gelinas et al., Clin J Pain 2009;25:339-346); CPOT has no severity bands"),
)

FLACC = Scale(
    key="flacc",
    name="FLACC",
    title=N_("Face, Legs, Activity, Cry, Consolability"),
    population=N_("young children and people who cannot report their pain"),
    items=(
        _item("face", N_("Face"), (
            N_("No particular expression or smile"),
            N_("Occasional grimace or frown; withdrawn, disinterested"),
            N_("Frequent to constant quivering chin, clenched jaw"),
        ), FACE),
        _item("legs", N_("Legs"), (
            N_("Normal position or relaxed"),
            N_("Uneasy, restless, tense"),
            N_("Kicking, or legs drawn up"),
        ), LEGS),
        _item("activity", N_("Activity"), (
            N_("Lying quietly, normal position, moves easily"),
            N_("Squirming, shifting back and forth, tense"),
            N_("Arched, rigid or jerking"),
        ), ACTIVITY),
        _item("cry", N_("Cry"), (
            N_("No cry (awake or asleep)"),
            N_("Moans or whimpers; occasional complaint"),
            N_("Crying steadily, screams or sobs, frequent complaints"),
        )),
        _item("consolability", N_("Consolability"), (
            N_("Content, relaxed"),
            N_("Reassured by occasional touching, hugging or being talked to; distractible"),
            N_("Difficult to console or comfort"),
        )),
    ),
    bands=_ten_point_bands(N_("Relaxed and comfortable"), N_("Mild discomfort"), N_("Moderate pain"), N_("Severe discomfort or pain")),
    source="Merkel, Voepel-Lewis, Shayevitz & Malviya, Pediatr Nurs 1997;23:293-297",
    bands_source="Merkel et al. 1997",
)

SCALES: dict[str, Scale] = {scale.key: scale for scale in (PAINAD, CPOT, FLACC)}
# Where an assessment was made: at rest or just after moving the patient (repositioning, care).
CONTEXTS: tuple[str, ...] = ("rest", "movement")


def get_scale(key: Any) -> Scale:
    """The scale named ``key`` (any case), or ``unknown_scale``."""
    scale = SCALES.get(key.strip().lower()) if isinstance(key, str) else None
    if scale is None:
        raise InputProblem("unknown_scale", "Unknown scale %(scale)s; use one of %(scales)s.",
                           scale=repr(key), scales=", ".join(SCALES))
    return scale


@dataclass(frozen=True)
class ScaleScore:
    """A completed form: each item's score, the total and its band."""

    scale: Scale
    items: dict[str, int]
    total: int
    band: Band


def item_value(item: Item, value: Any) -> int:
    """One item's value checked: a whole number among the item's scores."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise InputProblem("bad_field_type", "'%(item)s' must be a whole number (one of %(scores)s).",
                           item=item.key, scores=list(item.scores))
    if int(value) not in item.scores:
        raise InputProblem("scale_value_out_of_range", "'%(item)s' is scored %(scores)s, not %(value)s.",
                           item=item.key, scores=list(item.scores), value=value)
    return int(value)


def score_scale(scale: Scale, values: Any) -> ScaleScore:
    """Check a completed form (every item, each a valid score, nothing else) -> total and band."""
    if not isinstance(values, Mapping):
        raise InputProblem("bad_field_type", "'items' must be an object of item: score.")
    for key in values:
        scale.item(str(key))  # unknown_scale_item
    missing = [item.key for item in scale.items if values.get(item.key) is None]
    if missing:
        raise InputProblem("scale_incomplete", "%(scale)s is not complete: give a score for %(items)s.",
                           scale=scale.name, items=", ".join(missing))
    items = {item.key: item_value(item, values[item.key]) for item in scale.items}
    total = sum(items.values())
    return ScaleScore(scale, items, total, scale.band_for(total))
