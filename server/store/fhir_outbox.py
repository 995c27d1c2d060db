"""The FHIR outbox: scale assessments waiting to reach the FHIR server, claimed, sent or retried. No Flask.

A row (``db.FhirOutbox``) is written in the transaction that stores its scale
assessment (``scale_records.record_scale_assessment(outbox=True)``), so an
assessment is never saved without it. A sender (server/assess/fhir_push.py)
claims the rows that are due; a row claimed by one worker is hidden from the
others for CLAIM_LEASE_S (a claim is an UPDATE that only one worker can win), so
several workers of a cluster never send one row twice at once. A failed send is
tried again after an exponential back-off: RETRY_BASE_S, doubled per attempt,
at most RETRY_MAX_S; nothing is dropped.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update

from server.store.db import Database, FhirOutbox
from server.store.records import as_utc

# Retry timing: exponential back-off doubling from 5 s and capped at 15 minutes (the usual shape of
# client retry policies, e.g. RFC 8555 8.2's "exponential backoff"; the cap keeps a fixed outage's
# queue flowing within a quarter of an hour of the server's return).
RETRY_BASE_S = 5.0
RETRY_MAX_S = 900.0
# A claimed row is someone's for this long: longer than a POST may take (Settings.fhir_timeout_s).
CLAIM_LEASE_S = 60.0
# Rows claimed per look at the outbox.
BATCH = 20
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class OutboxItem:
    """One queued scale assessment."""

    id: int
    scale_assessment_id: int
    attempts: int


def backoff_s(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure (1: RETRY_BASE_S)."""
    return min(RETRY_MAX_S, RETRY_BASE_S * 2 ** max(0, attempts - 1))


def claim_due(db: Database, now: dt.datetime, limit: int = BATCH) -> list[OutboxItem]:
    """The unsent rows due by ``now`` that this caller won; each is leased for CLAIM_LEASE_S."""
    lease = now + dt.timedelta(seconds=CLAIM_LEASE_S)
    claimed: list[OutboxItem] = []
    with db.session() as session:
        rows = session.execute(
            select(FhirOutbox.id, FhirOutbox.scale_assessment_id, FhirOutbox.attempts, FhirOutbox.next_attempt_at)
            .where(FhirOutbox.sent_at.is_(None), FhirOutbox.next_attempt_at <= now)
            .order_by(FhirOutbox.next_attempt_at, FhirOutbox.id)
            .limit(limit)
        ).all()
        for row_id, assessment_id, attempts, due_at in rows:
            won = session.execute(
                update(FhirOutbox)
                .where(FhirOutbox.id == row_id, FhirOutbox.next_attempt_at == due_at, FhirOutbox.sent_at.is_(None))
                .values(next_attempt_at=lease)
            ).rowcount
            if won == 1:
                claimed.append(OutboxItem(row_id, assessment_id, attempts))
    return claimed


def mark_sent(db: Database, item_id: int, now: dt.datetime) -> None:
    """The FHIR server accepted it."""
    with db.session() as session:
        session.execute(update(FhirOutbox).where(FhirOutbox.id == item_id).values(
            sent_at=now, attempts=FhirOutbox.attempts + 1, last_error=None))


def mark_failed(db: Database, item_id: int, error: str, now: dt.datetime) -> dt.datetime:
    """A failed attempt: counted, its error kept, the next attempt after the back-off; when that is."""
    with db.session() as session:
        row = session.get(FhirOutbox, item_id)
        if row is None:  # its assessment (and so the row) was deleted meanwhile
            return now
        row.attempts += 1
        row.last_error = error[:MAX_ERROR_LENGTH]
        row.next_attempt_at = now + dt.timedelta(seconds=backoff_s(row.attempts))
        return as_utc(row.next_attempt_at)


def pending(db: Database) -> int:
    """How many queued rows are not sent yet."""
    with db.session() as session:
        return int(session.scalar(select(func.count(FhirOutbox.id)).where(FhirOutbox.sent_at.is_(None))) or 0)


def status(db: Database, item_id: int) -> tuple[int, dt.datetime | None, str | None, dt.datetime]:
    """(attempts, sent_at, last_error, next_attempt_at) of a row."""
    with db.session() as session:
        row = session.get(FhirOutbox, item_id)
        sent = as_utc(row.sent_at) if row.sent_at is not None else None
        return row.attempts, sent, row.last_error, as_utc(row.next_attempt_at)
