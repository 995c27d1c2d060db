"""The body-part finder an upload endpoint uses: the learned segmenter when loaded, else a pose tracker.

Shared by the body endpoints (body_api) and the scale pre-fill (scales_api), so
that neither blueprint imports the other.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from server.vision.body import BodyTracker, MaskPartFinder
from server.vision.segmenter import LearnedSegmenter

T = TypeVar("T")


def with_part_finder(fn: Callable[..., T], segmenter: LearnedSegmenter | None, max_side: int, *args: Any) -> T:
    """``fn(finder, *args)`` with the learned segmenter when loaded, else a fresh static-mode pose tracker.

    Runs inside the offloaded call, so building the graph does not block the event loop either.
    """
    if segmenter is not None:
        return fn(MaskPartFinder(segmenter.label_mask, segmenter.method), *args)
    with BodyTracker(stream=False, max_side=max_side) as tracker:
        return fn(tracker, *args)


def finder_method(segmenter: LearnedSegmenter | None) -> str:
    """How the parts are found, as the API reports it."""
    return segmenter.method if segmenter is not None else BodyTracker.method
