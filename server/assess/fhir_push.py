"""Sending the FHIR outbox: each queued scale assessment POSTed to the FHIR server as a transaction Bundle.

``FhirPusher.run_once(now)`` claims the due rows (server/store/fhir_outbox.py),
builds for each a ``transaction`` Bundle of its Patient, PainScope's Device when
the camera set an item, and its Observation (server/store/fhir.py: conditional
updates by identifier, so a retry after a lost answer does not duplicate), and
POSTs it to ``Settings.fhir_url`` as ``application/fhir+json``. A 2xx answer marks
it sent; anything else (an error status, no answer, a refused connection) is
retried after the back-off. ``python -m server run`` calls it every
``fhir_poll_s`` when ``fhir_url`` is set. Plain urllib, no Flask.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from typing import NamedTuple

from server.store import fhir, fhir_outbox, records, scale_records
from server.store.db import Database
from server.problems import InputProblem

log = logging.getLogger(__name__)

MAX_ERROR_BODY = 200  # characters of a refusing server's answer kept with the error


class PushOutcome(NamedTuple):
    """What one look at the outbox did."""

    sent: int
    failed: int


class FhirPusher:
    """POSTs queued scale assessments to one FHIR server."""

    def __init__(self, db: Database, url: str, timeout_s: float) -> None:
        self.db, self.url, self.timeout_s = db, url, timeout_s

    def transaction(self, scale_assessment_id: int, now: dt.datetime) -> dict:
        """The transaction Bundle of one stored scale assessment."""
        assessment = scale_records.get_scale_assessment(self.db, scale_assessment_id)
        patient = records.get_patient(self.db, assessment.patient_id)
        return fhir.patient_bundle(patient, [], [assessment], now, fhir.TRANSACTION)

    def _post(self, bundle: dict) -> None:
        request = urllib.request.Request(
            self.url, data=json.dumps(bundle).encode(), method="POST",
            headers={"Content-Type": fhir.FHIR_JSON, "Accept": fhir.FHIR_JSON},
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 (the configured URL)
            response.read()

    def run_once(self, now: dt.datetime | None = None) -> PushOutcome:
        """Send every due row once; how many were sent and how many failed (to be retried)."""
        now = now or dt.datetime.now(dt.timezone.utc)
        sent = failed = 0
        for item in fhir_outbox.claim_due(self.db, now):
            try:
                self._post(self.transaction(item.scale_assessment_id, now))
            except urllib.error.HTTPError as refused:
                body = refused.read().decode(errors="replace")[:MAX_ERROR_BODY]
                error = f"HTTP {refused.code}: {body}"
            except (OSError, ValueError) as problem:  # no connection, a timeout, a bad URL
                error = f"{type(problem).__name__}: {problem}"
            except InputProblem as gone:  # the assessment was deleted with its patient meanwhile
                error = gone.message
            else:
                fhir_outbox.mark_sent(self.db, item.id, now)
                sent += 1
                continue
            retry_at = fhir_outbox.mark_failed(self.db, item.id, error, now)
            log.warning("FHIR push of scale assessment %s failed (%s); next try at %s",
                        item.scale_assessment_id, error, retry_at.isoformat())
            failed += 1
        return PushOutcome(sent, failed)
