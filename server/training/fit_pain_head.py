"""Fit the pain head on labelled clips, choosing its form by leave-one-subject-out, and write models/pain_head.json.

    python -m server.training.fit_pain_head --data DIR [--out models/pain_head.json]

``DIR`` is the development set (``../shared/tools/unbc-dev-set``; faces cached by
``server.training.clip_faces``). The labels are per clip (the sequence's peak
PSPI and the observers' rating), not per frame or per action unit, so what is
fitted is small and each AU keeps its muscles:

- **dead zones** from calm faces: each source's dead zone is a high percentile
  of the change it reads on the pain-free clips' frames (what a calm face does
  anyway: blinks, glances, small talk), so a calm face reads PSPI ~0;
- **full scales** from pained faces: the range from that dead zone to a high
  percentile of the change on the clips rated >= 2 reads 0-5;
- **how the sources combine** (each weighs half, or each adds), the none|mild
  band, a median over the last fraction of a second, and whether the smile and
  speech look-alike rules discount anything.

Each candidate form is scored by LOSO on the clips (AUC for rated >= 2 against
pain-free, Spearman against the labelled PSPI, and the shares of pain-free clips
read none and of rated clips read above none); the best form is refitted on
every subject and written with its provenance, the command, the date and the
figures. The figures come with a nested LOSO (the form itself chosen without
the subject read), the honest estimate of what a new person meets. The
reading here is the app's own (``GeometryEstimator`` on the cached faces, each
clip read at the app's video sample rate, verdict by ``pain/verdict.py``);
``python -m server.training.evaluate_clips --folds loso`` reads the clips
again through the whole upload path to confirm.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from server.assess.analysis import SAMPLE_TIME_EPSILON_S, next_sample_after
from server.config import Settings
from server.pain.face import blendshapes as bs
from server.pain import scale
from server.pain.face.baseline import NeutralBaseline, RollingBaseline, baseline_from_faces
from server.pain.facs.context import AU4_GRIMACE, EYES_CLOSED_MIN_S, SPEECH_JAW_STD_FULL, SPEECH_JAW_STD_START
from server.pain.facs.context import SPEECH_MIN_FRAMES, SPEECH_WINDOW_S, smile_strength
from server.pain.facs.geometry import GeometryEstimator, eyes_closed
from server.pain.facs.pain_head import FITTED_UNITS, SOURCES, PainHead, SourceRule, file_sha256
from server.pain.smoothing import TIME_EPSILON_S
from server.pain.verdict import Reading, clip_verdict
from server.training import clip_figures as ev
from server.training.clip_faces import ClipFaces, ClipSet, load_clip_set
from server.vision.face import ramp

# The candidate forms (each a product of these), chosen by LOSO.
CALM_PERCENTILES = (85.0, 90.0, 95.0)  # dead zone: this percentile of the change on pain-free frames
PAINED_PERCENTILES = (95.0, 99.0)  # full scale reaches this percentile of the change on pained frames
COMBINES = ("half", "add")  # each source weighs 0.5, or each adds its own reading (weight 1)
NONE_BANDS = (0.5, 1.0)  # the PSPI below which a reading is "none" (0.5: the documented default band)
SMOOTHINGS_S = (0.0, 0.4)  # median over the readings of the last this-many seconds (0.4 s: 3 video samples)
DISCOUNT_SMILE = (False, True)
DISCOUNT_SPEECH = (False, True)
UPPER_BANDS = scale.DEFAULT_THRESHOLDS[1:]  # mild|moderate|severe stay the documented bands
REFERENCES_PER_CLIP = ev.REFERENCES_PER_CLIP
DEVELOPMENT_SET = ("UNBC-McMaster Shoulder Pain Expression Archive: the development subjects' clips as built by "
                   "../shared/tools/unbc-dev-set (4 s around each sequence's peak, 24 frames/s); never committed")


@dataclass(frozen=True)
class Form:
    """One candidate form of the head."""

    calm_percentile: float
    pained_percentile: float
    combine: str
    none_band: float
    smoothing_s: float
    discount_smile: bool
    discount_speech: bool


@dataclass
class FrameTable:
    """A clip's per-frame inputs to the head, as the app computes them against the clip's neutral."""

    clip: ClipFaces
    t: np.ndarray  # seconds
    sampled: np.ndarray  # bool: a frame the app's 5 frames/s sampling reads
    changes: dict[str, np.ndarray]  # source -> (frames x FITTED_UNITS)
    closed: np.ndarray  # eyes closed, and for how long (AU43)
    closed_s: np.ndarray
    smile: np.ndarray  # smile strength 0-1
    speech: np.ndarray  # speech strength 0-1


def sampled_frames(times: np.ndarray, sample_fps: float) -> np.ndarray:
    """Which frames an uploaded video's analysis reads: the first at or after each 1/sample_fps mark
    (the rule of ``Analyzer.analyze_video``)."""
    step = 1.0 / sample_fps
    out = np.zeros(len(times), bool)
    next_sample = 0.0
    for i, t in enumerate(times):
        if t + SAMPLE_TIME_EPSILON_S >= next_sample:
            out[i] = True
            next_sample = next_sample_after(float(t), step)
    return out


def _baseline(clip_set: ClipSet, clip: ClipFaces, geometry: GeometryEstimator, sampled: np.ndarray
              ) -> NeutralBaseline | None:
    references = clip_set.references_for(clip, REFERENCES_PER_CLIP)
    if references:
        return baseline_from_faces(references, "reference")
    # no neutral photo: learned from the video itself, as the app does
    rolling = RollingBaseline(window_s=float("inf"))
    for t, stored, keep in zip(clip.times, clip.faces, sampled):
        if stored is not None and keep:
            face = stored.face()
            rolling.add(float(t), geometry.features(face), bs.vector(face.blendshapes))
    return rolling.current()


def frame_table(clip_set: ClipSet, clip: ClipFaces, geometry: GeometryEstimator, sample_fps: float
                ) -> FrameTable | None:
    """The head's inputs for every frame of ``clip`` with a face (None when no neutral can be had)."""
    baseline = _baseline(clip_set, clip, geometry, sampled_frames(clip.times, sample_fps))
    if baseline is None:
        return None
    neutral = baseline.blendshapes
    rows: dict[str, list] = {name: [] for name in ("t", "geometry", "blendshapes", "closed", "smile", "jaw")}
    for t, stored in zip(clip.times, clip.faces):
        if stored is None:
            continue
        face = stored.face()
        features = geometry.features(face, baseline)
        scores = bs.vector(face.blendshapes)
        changes = geometry.geometry_changes(features, baseline)
        rises = bs.rises(scores, neutral)
        rows["t"].append(float(t))
        rows["geometry"].append([changes[au] for au in FITTED_UNITS])
        rows["blendshapes"].append([rises[au] for au in FITTED_UNITS])
        closure = geometry.geometry_closure(geometry.eye_open(face), baseline)
        rows["closed"].append(eyes_closed(closure, bs.eye_closure(scores, neutral)))
        rows["smile"].append(smile_strength(scores, neutral))
        rows["jaw"].append(bs.jaw_open(scores))
    t = np.array(rows["t"])
    closed = np.array(rows["closed"], bool)
    sampled = sampled_frames(t, sample_fps)
    # The app's blink and speech rules see only the frames it detects faces on, the sampled ones
    # (Analyzer.analyze_video: one face pass per sampled frame), so their history is read there too.
    closed_s, speech = np.zeros(len(t)), np.zeros(len(t))
    closed_s[sampled] = _closed_for(t[sampled], closed[sampled])
    speech[sampled] = _speech(t[sampled], np.array(rows["jaw"])[sampled])
    return FrameTable(
        clip, t, sampled,
        {"geometry": np.array(rows["geometry"]), "blendshapes": np.array(rows["blendshapes"])},
        closed, closed_s, np.array(rows["smile"]), speech,
    )


def _closed_for(t: np.ndarray, closed: np.ndarray) -> np.ndarray:
    """How long the eyes have been closed at each frame (pain/facs/context.closed_for_s over the frames)."""
    out = np.zeros(len(t))
    start = None
    for i, shut in enumerate(closed):
        start = (start if start is not None else t[i]) if shut else None
        out[i] = t[i] - start if shut else 0.0
    return out


def _speech(t: np.ndarray, jaw: np.ndarray) -> np.ndarray:
    """pain/facs/context.speech_strength at every frame: the jaw's spread over the last SPEECH_WINDOW_S."""
    out = np.zeros(len(t))
    for i in range(len(t)):
        window = jaw[(t >= t[i] - SPEECH_WINDOW_S) & (t <= t[i])]
        if len(window) >= SPEECH_MIN_FRAMES:
            out[i] = ramp(float(np.std(window)), SPEECH_JAW_STD_START, SPEECH_JAW_STD_FULL)
    return out


def fit_head(tables: Sequence[FrameTable], form: Form, provenance: Mapping | None = None) -> PainHead:
    """The head of ``form`` fitted on ``tables``: dead zones from pain-free clips, full scales from pained ones."""
    calm = [t for t in tables if t.clip.rating == 0]
    pained = [t for t in tables if t.clip.rating is not None and t.clip.rating >= ev.PAINED_RATING]
    weight = 0.5 if form.combine == "half" else 1.0
    rules: dict[str, dict[str, SourceRule]] = {}
    for j, au in enumerate(FITTED_UNITS):
        rules[au] = {}
        for source in SOURCES:
            dead_zone = float(np.percentile(np.concatenate([t.changes[source][:, j] for t in calm]),
                                            form.calm_percentile))
            high = float(np.percentile(np.concatenate([t.changes[source][:, j] for t in pained]),
                                       form.pained_percentile))
            # a source that does not move in pain (cheekSquint, noseSneer read 0) gets no weight
            moves = high - dead_zone > MIN_SPAN[source]
            rules[au][source] = SourceRule(round(dead_zone, 4), round(max(high - dead_zone, MIN_SPAN[source]), 4),
                                           weight if moves else 0.0)
    return PainHead(rules, (form.none_band, *UPPER_BANDS), form.discount_smile, form.discount_speech,
                    form.smoothing_s, dict(provenance or {}))


# A source whose pained high percentile sits less than this above its dead zone does not move with
# pain (in its own units: relative shrink for the geometry, score for the blendshapes).
MIN_SPAN = {"geometry": 0.01, "blendshapes": 0.01}


def read_table(head: PainHead, table: FrameTable) -> tuple[str | None, dict[str, float | None]]:
    """The clip's level and scores as the app reads it with ``head`` (its sampled frames only)."""
    keep = table.sampled
    t = table.t[keep]
    if not len(t):
        return None, {s: None for s in ev.SCORES}
    units = {}
    for j, au in enumerate(FITTED_UNITS):
        rules = head.rules[au]
        # SourceRule.intensity and PainHead.fuse over every frame at once (both sources present)
        total = sum(rules[s].weight * np.clip((table.changes[s][keep, j] - rules[s].dead_zone)
                                              / rules[s].full_scale * scale.AU_MAX, 0.0, scale.AU_MAX)
                    for s in SOURCES)
        units[au] = np.clip(total, 0.0, scale.AU_MAX)
    closed = table.closed[keep] & (table.closed_s[keep] >= EYES_CLOSED_MIN_S)
    grimace = np.maximum(np.minimum(1.0, units["AU4"] / AU4_GRIMACE), closed.astype(float))
    if head.discount_smile:
        discount = table.smile[keep] * (1.0 - grimace)
        for au in ("AU6", "AU7", "AU9", "AU10"):
            units[au] = units[au] * (1.0 - discount)
    if head.discount_speech:
        units["AU10"] = units["AU10"] * (1.0 - table.speech[keep])
    units["AU43"] = closed.astype(float)
    if head.smoothing_s > 0:
        units = {au: _median_before(t, v, head.smoothing_s) for au, v in units.items()}
    # scale.pspi_from_action_units over every frame at once
    pspi = np.clip(units["AU4"] + np.maximum(units["AU6"], units["AU7"]) + np.maximum(units["AU9"], units["AU10"])
                   + units["AU43"], 0.0, scale.PSPI_MAX)
    verdict = clip_verdict([Reading(float(a), scale.level_for_pspi(p, head.thresholds), float(p))
                            for a, p in zip(t, pspi)])
    return verdict.level, {"max_pspi": float(pspi.max()), "mean_pspi": float(pspi.mean()),
                           "sustained_pspi": verdict.pspi}


def _median_before(t: np.ndarray, values: np.ndarray, window_s: float) -> np.ndarray:
    """Each value replaced by the median of the values of the last ``window_s`` (pain/estimate.smoothed)."""
    starts = np.searchsorted(t, t - window_s - TIME_EPSILON_S)
    index = np.arange(len(t))
    width = int((index - starts).max()) + 1
    # row i: the values from starts[i] to i, NaN-padded to one width, so one nanmedian does every window
    lags = index[:, None] - np.arange(width)[None, :]
    windows = np.sort(np.where(lags >= starts[:, None], values[np.clip(lags, 0, None)], np.nan), axis=1)
    counts = index - starts + 1  # NaNs sort last: the median of each row's first ``counts`` values
    return (windows[index, (counts - 1) // 2] + windows[index, counts // 2]) / 2


def _readings(head: PainHead, tables: Iterable[FrameTable]) -> list[ev.Reading]:
    out = []
    for table in tables:
        clip = table.clip
        level, scores = read_table(head, table)
        out.append(ev.Reading(ev.Clip(Path(clip.clip), clip.subject, clip.rating, clip.pspi), level, scores))
    return out


def objective(figures: Mapping) -> float:
    """What a form is chosen by: ranking (AUC, Spearman) and the verdict (none when calm, above when pained)."""
    parts = [figures["auc_rating_2_vs_0"], figures["spearman_pspi"]]
    verdict = [figures["pain_free_read_none"], figures["rated_pained_read_above_none"]]
    if any(p is None for p in parts + verdict):
        return float("-inf")
    return sum(parts) + sum(verdict) / 2


def loso_readings(tables: Sequence[FrameTable], form: Form, subjects: Sequence[str]) -> list[ev.Reading]:
    """Each of ``subjects`` read by the form fitted on the other subjects' tables."""
    readings = []
    for subject in subjects:
        train = [t for t in tables if t.clip.subject != subject]
        test = [t for t in tables if t.clip.subject == subject and t.clip.labelled]
        if test:
            readings += _readings(fit_head(train, form), test)
    return readings


def choose_form(tables: Sequence[FrameTable], thresholds: Sequence[float]) -> tuple[Form, float]:
    """The candidate form with the best LOSO objective over the tables' subjects."""
    subjects = sorted({t.clip.subject for t in tables})
    scored = []
    for values in itertools.product(CALM_PERCENTILES, PAINED_PERCENTILES, COMBINES, NONE_BANDS, SMOOTHINGS_S,
                                    DISCOUNT_SMILE, DISCOUNT_SPEECH):
        form = Form(*values)
        scored.append((objective(ev.figures(loso_readings(tables, form, subjects), thresholds)), values, form))
    best = max(scored, key=lambda item: (item[0], item[1]))
    return best[2], best[0]


def nested_loso(tables: Sequence[FrameTable], thresholds: Sequence[float], log=print
                ) -> tuple[list[ev.Reading], dict[str, Form]]:
    """Each subject read by a head whose form *and* fit were chosen without that subject."""
    readings, forms = [], {}
    for subject in sorted({t.clip.subject for t in tables}):
        others = [t for t in tables if t.clip.subject != subject]
        form, _ = choose_form(others, thresholds)
        forms[subject] = form
        test = [t for t in tables if t.clip.subject == subject and t.clip.labelled]
        readings += _readings(fit_head(others, form), test)
        log(f"fold {subject}: {form}")
    return readings, forms


# The free model: regularisation strengths tried (inverse, scikit-learn's C), chosen by inner LOSO.
FREE_MODEL_C = (0.01, 0.03, 0.1, 0.3, 1.0)
FREE_MODEL_PERCENTILES = (50.0, 90.0, 100.0)  # a clip as its median, 90th percentile and highest frame


def clip_summary(table: FrameTable) -> np.ndarray:
    """The free model's view of a clip: each input over the sampled frames at FREE_MODEL_PERCENTILES."""
    keep = table.sampled
    inputs = np.column_stack([table.changes[s][keep] for s in SOURCES]
                             + [table.closed[keep], table.smile[keep], table.speech[keep]])
    return np.percentile(inputs, FREE_MODEL_PERCENTILES, axis=0).ravel()


def _free_scores(train: Sequence[FrameTable], test: Sequence[FrameTable], c: float) -> list[float]:
    from sklearn.linear_model import LogisticRegression  # offline tool only
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    usable = [t for t in train if t.clip.rating == 0 or t.clip.rating >= ev.PAINED_RATING]
    x = np.array([clip_summary(t) for t in usable])
    y = np.array([t.clip.rating >= ev.PAINED_RATING for t in usable])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000)).fit(x, y)
    return list(model.decision_function(np.array([clip_summary(t) for t in test])))


def free_model_loso(tables: Sequence[FrameTable], thresholds: Sequence[float]) -> dict:
    """A logistic regression over every input of every clip (no AU structure), its strength chosen by
    inner LOSO: how well a free model ranks the clips, beside the structured head. It gives a pain
    probability, not a PSPI, so it sets no level here; its ranking figures are what is compared."""
    def loso(subset: Sequence[FrameTable], c: float) -> list[ev.Reading]:
        readings = []
        for subject in sorted({t.clip.subject for t in subset}):
            train = [t for t in subset if t.clip.subject != subject]
            test = [t for t in subset if t.clip.subject == subject]
            for table, score in zip(test, _free_scores(train, test, c)):
                clip = table.clip
                readings.append(ev.Reading(ev.Clip(Path(clip.clip), clip.subject, clip.rating, clip.pspi), "none",
                                           {name: float(score) for name in ev.SCORES}))
        return readings

    def ranking(readings: Sequence[ev.Reading]) -> float:
        figures = ev.figures(readings, thresholds)
        return (figures["auc_rating_2_vs_0"] or 0.0) + (figures["spearman_pspi"] or 0.0)

    readings = []
    for subject in sorted({t.clip.subject for t in tables}):
        others = [t for t in tables if t.clip.subject != subject]
        c = max(FREE_MODEL_C, key=lambda value: ranking(loso(others, value)))
        test = [t for t in tables if t.clip.subject == subject]
        for table, score in zip(test, _free_scores(others, test, c)):
            clip = table.clip
            readings.append(ev.Reading(ev.Clip(Path(clip.clip), clip.subject, clip.rating, clip.pspi), "none",
                                       {name: float(score) for name in ev.SCORES}))
    figures = ev.figures(readings, thresholds)
    return {k: figures[k] for k in ("auc_rating_2_vs_0", "spearman_pspi", "spearman_rating")}


def tables_of(data: Path, settings: Settings) -> list[FrameTable]:
    """Every labelled clip's frame table (unlabelled clips carry no label to fit or score)."""
    clip_set = load_clip_set(data, settings=settings)
    geometry = GeometryEstimator()
    tables = [frame_table(clip_set, clip, geometry, settings.video_sample_fps) for clip in clip_set.labelled()]
    return [t for t in tables if t is not None]


def fold_estimators(data: Path, settings: Settings, subjects: Sequence[str]) -> dict[str, GeometryEstimator]:
    """For ``evaluate_clips --folds loso``: per subject, a geometry estimator whose head's form and fit were
    chosen without that subject."""
    tables = tables_of(data, settings)
    out = {}
    for subject in subjects:
        others = [t for t in tables if t.clip.subject != subject]
        form, _ = choose_form(others, scale.DEFAULT_THRESHOLDS)
        head = fit_head(others, form)
        out[subject] = GeometryEstimator(head.thresholds, head)
    return out


def _summary(figures: Mapping, intervals: Mapping | None) -> dict:
    keys = ev.HEADLINE
    return {k: (None if figures[k] is None else round(float(figures[k]), 4)) for k in keys} | {
        "intervals_95": intervals, "by_score": figures["by_score"]}


def main(argv: Sequence[str] | None = None) -> int:
    """Fit, report and write the head."""
    parser = argparse.ArgumentParser(prog="python -m server.training.fit_pain_head", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the development set's folder")
    parser.add_argument("--out", type=Path, default=Path("models/pain_head.json"))
    parser.add_argument("--bootstrap", type=int, default=ev.BOOTSTRAP_ROUNDS)
    parser.add_argument("--describe", default=DEVELOPMENT_SET, help="what the data is, for the provenance")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    thresholds = scale.DEFAULT_THRESHOLDS  # the labels' PSPI read as levels by the documented bands
    tables = tables_of(args.data, settings)
    subjects = sorted({t.clip.subject for t in tables})
    print(f"{len(tables)} labelled clips of {len(subjects)} subjects", file=sys.stderr)
    form, _ = choose_form(tables, thresholds)
    chosen = ev.figures(loso_readings(tables, form, subjects), thresholds)
    ablations = {}
    for name, change in (("discount_smile", {"discount_smile": not form.discount_smile}),
                         ("discount_speech", {"discount_speech": not form.discount_speech}),
                         ("smoothing_s", {"smoothing_s": SMOOTHINGS_S[0] if form.smoothing_s else SMOOTHINGS_S[-1]})):
        other = Form(**{**vars(form), **change})
        figures = ev.figures(loso_readings(tables, other, subjects), thresholds)
        ablations[f"{name}={getattr(other, name)}"] = {k: figures[k] for k in ev.HEADLINE}
    nested, fold_forms = nested_loso(tables, thresholds, lambda line: print(line, file=sys.stderr))
    nested_figures = ev.figures(nested, thresholds)
    free = free_model_loso(tables, thresholds)
    provenance = {
        "data": args.describe,
        "subjects": subjects,
        "labelled_clips": len(tables),
        "command": "python -m server.training.fit_pain_head --data DIR",
        "date": datetime.date.today().isoformat(),
        "form": vars(form),
        "loso": _summary(chosen, None),
        "nested_loso": _summary(nested_figures, ev.bootstrap_intervals(nested, thresholds, args.bootstrap)),
        "ablations_loso": ablations,
        "free_model_nested_loso": free,
        "note": f"{len(tables)} clips of {len(subjects)} people: every figure is uncertain (see the intervals)",
    }
    head = fit_head(tables, form, provenance)
    args.out.write_text(json.dumps(head.to_json(), indent=2) + "\n")
    print(json.dumps({"form": vars(form), "loso": provenance["loso"], "nested_loso": provenance["nested_loso"],
                      "ablations_loso": ablations, "free_model_nested_loso": free}, indent=1))
    print(f"wrote {args.out}: SHA-256 {file_sha256(args.out)} (set PAIN_HEAD_SHA256 in server/config.py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
