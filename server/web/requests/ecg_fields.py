"""The ECG form fields the upload endpoints share: an ECG sent with a photo or a video, or alone.

Not a blueprint: POST /api/v1/analyze/ecg (ecg_api) and the photo and video
uploads (api, compat_api through server.web.requests.uploads) both read ECGs this way,
so that no blueprint has to import another.
"""
from __future__ import annotations

import math
from typing import Any

from flask import Request, request

from server.assess.ecg_report import EcgReport, analyze_ecg
from server.pain.physiology.ecg_reading import ECG_MODEL, EcgModelReading, ModelPhysiology, with_reading
from server.pain.physiology.physiology import Physiology, from_ecg
from server.problems import InputProblem
from server.services import Services
from server.web.requests.context import current_services
from server.web.requests.inputs import option, read_file_field
from server.web.requests.language import localized_texts

HEURISTIC = "heuristic_arousal"  # "answered_by" without an ECG model: the arousal score of server/pain/physiology/arousal.py


def ecg_attachment(req: Request, options: dict[str, Any]) -> tuple[Physiology | None, EcgReport | None]:
    """An ECG sent with a photo or video (multipart ``ecg`` + optional ``ecg_baseline``, ``ecg_sampling_rate``,
    ``ecg_baseline_seconds``): its arousal for fusion and its report (for the response and the record);
    (None, None) without one."""
    services = current_services()
    max_bytes = services.settings.max_ecg_bytes
    data = read_file_field(req, "ecg", max_bytes, "The ECG file")
    if data is None:
        return None, None
    baseline = read_file_field(req, "ecg_baseline", max_bytes, "The ECG baseline file")
    report = analyze_ecg_fields(services, data, baseline, options, "ecg_")
    reading = ecg_model_reading(services, report)
    physiology = from_ecg(report.arousal, report.analysis)
    return (physiology if reading is None else with_reading(physiology, reading)), report


def ecg_model_reading(services: Services, report: EcgReport) -> EcgModelReading | None:
    """The ECG Transformer's class for the recording's last window, off the event loop; None without the model."""
    model = services.estimators.ecg_model
    if model is None:
        return None
    return services.offloader.run(model.read, report.signal, report.analysis.quality_score)


def reading_of(physiology: Physiology | None) -> EcgModelReading | None:
    """The ECG model's reading that came with an attached ECG's physiology, if the model read it."""
    return physiology.reading if isinstance(physiology, ModelPhysiology) else None


def ecg_report_dict(report: EcgReport, reading: EcgModelReading | None, language: str) -> dict[str, Any]:
    """The ECG report as answered: the heuristic's figures, which of the two answered, and the model's reading;
    its sentences (the methods, the reasons, the file's notes, a BioVid rate source) said in ``language``."""
    return {
        **localized_texts(report.to_dict(), language),
        "answered_by": ECG_MODEL if reading is not None else HEURISTIC,
        "model": None if reading is None else reading.to_dict(),
    }


def analyze_ecg_fields(services: Services, data: bytes, baseline: bytes | None, options: dict[str, Any], prefix: str) -> Any:
    """analyze_ecg with the request's numeric options (named with ``prefix``), off the event loop."""
    def number(name: str) -> float | None:
        return _number(option(request, options, prefix + name), prefix + name)

    baseline_seconds = number("baseline_seconds")
    return services.offloader.run(
        analyze_ecg, data, number("sampling_rate"),
        baseline=baseline,
        baseline_sampling_rate=number("baseline_sampling_rate"),
        baseline_seconds=services.settings.ecg_baseline_seconds if baseline_seconds is None else baseline_seconds,
    )


def _number(value: Any, name: str) -> float | None:
    """A finite number from a form / query field, None when absent or blank."""
    if value is None or str(value).strip() == "":
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        raise InputProblem("bad_parameter", "'%(name)s' must be a number, not %(value)s.", name=name,
                           value=repr(str(value)[:40])) from None
    if not math.isfinite(number):
        raise InputProblem("bad_parameter", "'%(name)s' must be a finite number.", name=name)
    return number
