"""Storing an analysed upload as a patient's assessment: a photo's one reading, a video's one per second. No Flask.

Each upload is one transaction (assessment, readings, its "record" audit
event): it is stored whole or not at all. An upload carries no trustworthy
capture time, so it is placed by when it was received: a photo at that moment,
a video so that it ends then (it cannot have been filmed later), each reading
at the video's start plus its offset.

Heart rate: a photo's reading carries the mean heart rate of an ECG sent with
it (the only heart rate a photo has); a video's readings carry the camera's
per-window heart rate (rPPG), each in the second its 10 s window ends.
"""
from __future__ import annotations

import datetime as dt

from server.assess.ecg_report import EcgReport
from server.store import records
from server.assess.analysis import VideoReport
from server.store.db import Database
from server.store.per_second import summarise_seconds
from server.pain.result import Result


def photo_modalities(ecg: EcgReport | None) -> list[str]:
    """What a photo assessment measured: the face, plus the ECG when one came with it."""
    return ["face"] + (["ecg"] if ecg is not None else [])


def video_modalities(ecg: EcgReport | None) -> list[str]:
    """What a video assessment measured: the face and the camera heart rate, plus an ECG."""
    return ["face", "rppg"] + (["ecg"] if ecg is not None else [])


def record_photo(
    db: Database,
    patient_id: int,
    user_id: int | None,
    estimator: str,
    result: Result,
    ecg: EcgReport | None,
    received_at: dt.datetime,
) -> dict[str, int]:
    """Store a photo's assessment and its one reading; ``{"assessment_id", "readings"}`` for the response."""
    row = records.reading_from_result(result, 0.0, received_at, ecg.vitals if ecg is not None else None)
    assessment_id = records.record_assessment(
        db, patient_id, user_id, "photo", estimator, photo_modalities(ecg), [row], started_at=received_at
    )
    return {"assessment_id": assessment_id, "readings": 1}


def record_video(
    db: Database,
    patient_id: int,
    user_id: int | None,
    estimator: str,
    report: VideoReport,
    ecg: EcgReport | None,
    received_at: dt.datetime,
) -> dict[str, int]:
    """Store a video's assessment and a reading per second of it; ``{"assessment_id", "readings"}``."""
    series = (report.vitals.series or ()) if report.vitals is not None else ()
    started_at = received_at - dt.timedelta(seconds=float(report.summary.get("duration_s") or 0.0))
    rows = summarise_seconds(report.samples, started_at, series)
    assessment_id = records.record_assessment(
        db, patient_id, user_id, "video", estimator, video_modalities(ecg), rows, started_at=started_at
    )
    return {"assessment_id": assessment_id, "readings": len(rows)}
