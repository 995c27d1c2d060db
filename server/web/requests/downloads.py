"""A patient's CSV download, shared by the readings (records_api) and the scale assessments (scales_api)."""
from __future__ import annotations

import re

from flask import Response

from server.store.records import PatientInfo

# A ward identifier in a download's file name: anything but these becomes "_".
UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def patient_csv(text: str, patient: PatientInfo, what: str) -> Response:
    """``text`` as a CSV attachment named ``patient-<identifier>-<what>.csv`` (unsafe characters replaced)."""
    name = UNSAFE_FILENAME_CHARS.sub("_", patient.identifier).strip("._") or str(patient.id)
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="patient-{name}-{what}.csv"'},
    )
