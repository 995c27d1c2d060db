"""Look-alikes of pain: what a calm face does most (smile, speak, blink), each with a stated rule.

A relaxed patient smiles at a visitor, talks, and blinks every few seconds.
Each of these moves muscles PSPI counts, so each is recognised and kept out of
the pain reading, and the result names it (``pain.context``):

- **smile** (AU12, mouthSmile above neutral): a Duchenne smile raises the
  cheeks and narrows the eyes (AU6/AU7) and lifts the upper lip (AU10) -- the
  eye and lip terms of PSPI. A smile discounts AU6, AU7, AU9 and AU10 by its
  strength, *unless the brows are lowered or the eyes stay shut*: neither is
  part of a happy smile, and a smile over lowered brows or closed eyes is the
  grimace of pain (Prkachin 1992 lists AU12 among the occasional pain
  actions; a crying face pulls the lip corners too), so the discount shrinks
  as AU4 grows and goes while the eyes stay shut.
- **speech** (jaw moving up and down): lips and jaw in speech move the upper
  lip against the nose, which the geometry and mouthUpperUp read as AU10.
  While jawOpen varies like speech over the last second, AU10 is discounted.
  Only streams and videos can show it; a photo cannot.
- **blink** (AU45): a blink closes the lids for 0.1-0.4 s (Caffier et al. 2003,
  Eur J Appl Physiol 89:319). PSPI's AU43 is eyes *closed*, so closed eyes
  count as AU43 only once they have stayed closed for EYES_CLOSED_MIN_S; a
  photo cannot tell, so a photo's closed eyes count.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from server.pain.face import blendshapes as bs
from server.pain.estimator import Observation
from server.vision.face import Face, ramp

EYES_CLOSED_MIN_S = 0.5  # longer than nearly every blink (Caffier 2003: 0.1-0.4 s)
# Smile strength ramps from 0 to 1 as mouthSmile rises this far above neutral; a
# full smile scores ~0.8-0.9 (the happy test photos), a polite one ~0.3.
SMILE_START, SMILE_FULL = 0.10, 0.40
SMILE_NAMED = 0.5  # strength at which the result says "smile"
# AU4 at which a smile is taken as a grimace (FACS B-C: a clearly lowered brow): no discount left.
AU4_GRIMACE = 2.0
# Speech: the standard deviation of jawOpen over the last second. A still or
# relaxed mouth wobbles < 0.01; talking opens and closes it several times a
# second (4-5 syllables/s), ~0.05-0.1.
SPEECH_WINDOW_S = 1.0
SPEECH_MIN_FRAMES = 5  # fewer frames in the window than this is too little to tell
SPEECH_JAW_STD_START, SPEECH_JAW_STD_FULL = 0.02, 0.06
SPEECH_NAMED = 0.5
# History a track keeps: the longer of the two rules' windows, with room to spare.
HISTORY_S = 2.0


@dataclass(frozen=True)
class FaceFrame:
    """What the context rules need of one frame: its time, lid aperture (geometry) and blendshapes."""

    t_s: float
    eye_open: float
    blendshapes: np.ndarray | None


@dataclass(frozen=True)
class ExpressionHistory:
    """The recent frames of one face, newest last (a photo: one frame)."""

    frames: tuple[FaceFrame, ...]

    @property
    def still(self) -> bool:
        """True for a single frame: a photo, where no rule over time can apply."""
        return len(self.frames) <= 1


class ExpressionTrack:
    """Per-stream memory of the last HISTORY_S seconds of a face, for the blink and speech rules."""

    def __init__(self, eye_open: Callable[[Face], float]) -> None:
        """``eye_open(face)``: the geometry's lid aperture of a face (frontalised, unit scale)."""
        self._eye_open = eye_open
        self._frames: deque[FaceFrame] = deque()

    def add(self, observation: Observation) -> None:
        """Remember this frame's face."""
        face = observation.face
        self._frames.append(FaceFrame(observation.t_s, self._eye_open(face), bs.vector(face.blendshapes)))
        while self._frames and observation.t_s - self._frames[0].t_s > HISTORY_S:
            self._frames.popleft()

    def evidence(self, observation: Observation) -> ExpressionHistory:
        """The history up to this frame."""
        return ExpressionHistory(tuple(self._frames))


def smile_strength(scores: np.ndarray | None, neutral: np.ndarray | None) -> float:
    """0-1: how much of a smile (mouthSmile above the person's neutral)."""
    if scores is None or neutral is None:
        return 0.0
    return ramp(bs.smile_rise(scores, neutral), SMILE_START, SMILE_FULL)


def speech_strength(history: ExpressionHistory | None) -> float:
    """0-1: how speech-like the jaw moved over the last SPEECH_WINDOW_S (0 for a photo)."""
    if history is None or history.still:
        return 0.0
    now = history.frames[-1].t_s
    jaw = [bs.jaw_open(f.blendshapes) for f in history.frames
           if f.blendshapes is not None and now - f.t_s <= SPEECH_WINDOW_S]
    if len(jaw) < SPEECH_MIN_FRAMES:
        return 0.0
    return ramp(float(np.std(jaw)), SPEECH_JAW_STD_START, SPEECH_JAW_STD_FULL)


def closed_for_s(history: ExpressionHistory, is_closed: Callable[[FaceFrame], bool]) -> float:
    """How long the eyes have been closed up to the newest frame (0 when open now)."""
    frames = history.frames
    if not frames or not is_closed(frames[-1]):
        return 0.0
    start = frames[-1].t_s
    for frame in reversed(frames):
        if not is_closed(frame):
            break
        start = frame.t_s
    return frames[-1].t_s - start


def discount_look_alikes(
    aus: dict[str, float], smile: float, speech: float, closed: bool, closed_s: float, still: bool,
    discount_smile: bool = True, discount_speech: bool = True,
) -> tuple[dict[str, float], list[str]]:
    """The AUs with the look-alikes taken out, and the names of what was seen.

    ``discount_smile`` / ``discount_speech`` False (the fitted pain head's choice when the
    labelled clips did not support the rule): the look-alike is still named, nothing is discounted.
    """
    out = dict(aus)
    context: list[str] = []
    sustained = still or closed_s >= EYES_CLOSED_MIN_S
    grimace = max(min(1.0, aus["AU4"] / AU4_GRIMACE), float(closed and sustained))
    smile_discount = smile * (1.0 - grimace) if discount_smile else 0.0
    for au in ("AU6", "AU7", "AU9", "AU10"):
        out[au] = aus[au] * (1.0 - smile_discount)
    if smile >= SMILE_NAMED and grimace < 1.0:
        context.append("smile")
    if discount_speech:
        out["AU10"] *= 1.0 - speech
    if speech >= SPEECH_NAMED:
        context.append("speech")
    out["AU43"] = float(closed and sustained)
    if closed and not sustained:
        context.append("blink")
    return out, context
