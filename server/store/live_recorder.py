"""Recording a live stream for a patient: one reading per second, committed as each second ends. No Flask here.

Commit rule (the issue's "no loss"): frames are fed in order with their client
capture time. When a frame belongs to a later second than the one being
summarised, the finished second's reading is committed *before* ``add``
returns, so before that frame's ack leaves the server. Hence every ack reports
what is already on disk: ``committed_through_s`` = T is the end of the last
committed second (seconds from the stream's first frame; after ``close()``, the
time of the last frame), and every reading before T is committed. Killing the
server (even SIGKILL) loses at most the second being summarised; SQLite in WAL
mode with synchronous=FULL (server/db.py) leaves no half-written transaction.

A commit that fails (database locked past its timeout, disk full) keeps the
readings pending: they go with the next second's commit, in one transaction,
and the ack says ``error`` until then. ``close()`` commits the partial last
second and ends the assessment in one transaction.

Seconds are counted from the first frame's client time; a frame whose time
goes backwards is counted in the second being summarised (a committed second
is never reopened). A second without frames has no reading.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Sequence

from sqlalchemy.exc import SQLAlchemyError

from server.store import records
from server.store.db import Database, utcnow
from server.store.per_second import SecondSummary, second_of
from server.pain.result import Result

log = logging.getLogger(__name__)

MS_PER_S = 1000.0


class LiveRecorder:
    """The assessment of one live stream; not thread-safe (the stream serialises its frames)."""

    def __init__(self, db: Database, assessment_id: int) -> None:
        """Record into an existing assessment (see :meth:`start`)."""
        self.db = db
        self.assessment_id = assessment_id
        self.readings_committed = 0
        self.committed_through_s = 0.0
        self.error: str | None = None  # why the last commit failed, until one succeeds
        self.closed = False
        self._origin_s: float | None = None  # client time of the first frame (s)
        self._origin_at: dt.datetime | None = None  # server wall clock when that frame arrived
        self._current: SecondSummary | None = None
        self._pending: list[records.ReadingRow] = []

    @classmethod
    def start(
        cls,
        db: Database,
        patient_id: int,
        user_id: int | None,
        estimator: str,
        modalities: Sequence[str],
    ) -> "LiveRecorder":
        """A new live assessment of the patient (``patient_not_found`` if there is none), audited."""
        return cls(db, records.start_assessment(db, patient_id, user_id, "live", estimator, modalities))

    def add(self, t_ms: float, result: Result) -> None:
        """Count one analysed frame captured at client time ``t_ms``; commits the previous second when it ended."""
        if self.closed:
            return
        t_s = t_ms / MS_PER_S
        if self._origin_s is None:
            self._origin_s, self._origin_at = t_s, utcnow()
        offset_s = t_s - self._origin_s
        index = second_of(offset_s)
        if self._current is None:
            self._current = SecondSummary(index)
        elif index > self._current.index:
            finished = self._current.reading(self._origin())
            self._pending.append(finished)
            self._current = SecondSummary(index)
            self._commit(finished.offset_s + 1.0)  # through the end of the finished second
        self._current.add(result, max(offset_s, 0.0))

    def close(self) -> None:
        """Commit the partial last second (and anything pending) and end the assessment."""
        if self.closed:
            return
        self.closed = True
        through = self.committed_through_s
        if self._current is not None and self._current.frames:
            self._pending.append(self._current.reading(self._origin()))
            through = max(through, self._current.last_offset_s)
            self._current = None
        self._commit(through, end=True)
        if self._pending:
            log.error("live assessment %s: %d reading(s) lost at close", self.assessment_id, len(self._pending))

    def status(self) -> dict[str, Any]:
        """What every ack carries: the assessment, readings committed, and up to when (seconds from the start)."""
        out: dict[str, Any] = {
            "assessment_id": self.assessment_id,
            "readings_committed": self.readings_committed,
            "committed_through_s": round(self.committed_through_s, 3),
        }
        if self.error is not None:
            out["error"] = {"code": "record_failed", "message": self.error}
        return out

    def _origin(self) -> dt.datetime:
        assert self._origin_at is not None
        return self._origin_at

    def _commit(self, through_s: float, end: bool = False) -> None:
        """Commit the pending readings in one transaction; on failure keep them for the next try."""
        if not self._pending and not end:
            return
        try:
            records.add_readings(self.db, self.assessment_id, self._pending, end=end)
        except SQLAlchemyError as error:
            log.exception("live assessment %s: readings not committed", self.assessment_id)
            self.error = f"Readings could not be saved ({type(error).__name__}); retrying with the next second."
            return
        self.readings_committed += len(self._pending)
        self.committed_through_s = max(self.committed_through_s, float(through_s))
        self._pending.clear()
        self.error = None
