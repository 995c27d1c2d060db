"""Which pain estimators exist and whether each can run here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from server.pain.geometry import GeometryEstimator
from server.problems import InputProblem

# Estimators that need trained weights; none ships with PainScope (their
# datasets need a signed licence), so they are listed as not installed until a
# checkpoint is placed in the models directory.
LEARNED_ESTIMATORS = ("resnet18", "lstm", "fusion")


@dataclass(frozen=True)
class EstimatorStatus:
    """One estimator as /health reports it."""

    name: str
    available: bool
    detail: str


class EstimatorRegistry:
    """Looks estimators up by name."""

    def __init__(self, thresholds: Sequence[float]) -> None:
        self._estimators = {GeometryEstimator.name: GeometryEstimator(thresholds)}

    def get(self, name: str | None, default: str) -> GeometryEstimator:
        """The estimator called ``name`` (``default`` when None); unknown or missing is a 422."""
        key = (name or default).strip().lower()
        if key in self._estimators:
            return self._estimators[key]
        if key in LEARNED_ESTIMATORS:
            raise InputProblem(
                "estimator_unavailable",
                f"The {key!r} estimator needs a trained model, and none is installed. Available: "
                + ", ".join(self._estimators) + ".",
            )
        raise InputProblem("unknown_estimator", f"There is no estimator called {key!r}.")

    def statuses(self) -> list[EstimatorStatus]:
        """Every estimator with whether it can run."""
        ready = [EstimatorStatus(name, True, "needs no trained weights") for name in self._estimators]
        missing = [EstimatorStatus(name, False, "no trained model installed") for name in LEARNED_ESTIMATORS]
        return ready + missing
