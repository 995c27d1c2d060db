"""A Result or a video's report with its spoken phrase in another language (English: unchanged), and a
clinical scale's wording in it.

Built by the same call that built the phrase (``server/assess/speech.py`` ``phrase``), so the words
change language, never meaning. A scale's items, options and bands are English msgids marked in
``server/pain/clinical/scales.py`` (which stays free of the catalogs) and translated here. No Flask: the web
layer and the video jobs both use it.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from server.assess import catalogs
from server.assess.analysis import VideoReport
from server.assess.speech import phrase
from server.pain.result import Result
from server.pain.clinical.scales import Scale
from server.problems import Sentence


def localized(result: Result, language: str) -> Result:
    """The Result with its phrase in ``language`` (English: unchanged). The same call that built it
    (server/assess/speech.py ``phrase``), so the words only change language, never meaning."""
    if catalogs.language(language).code == catalogs.DEFAULT_LANGUAGE:
        return result
    text = phrase(result.pain, result.face is not None, result.vitals, level=result.speech_level, language=language)
    pain = result.pain
    if pain is not None and pain.parts:  # the heart rate's reason and method in a fused estimate's parts
        pain = dataclasses.replace(pain, parts=localized_texts(pain.parts, language))
    return dataclasses.replace(result, speech_text=text, pain=pain)


def localized_text(text: Sentence, language: str) -> str:
    """A Sentence (server/problems.py) said in ``language``: its template from the catalogs, its values (a
    Sentence among them said again too) put in; English, or a template the catalogs lack: the English."""
    if catalogs.language(language).code == catalogs.DEFAULT_LANGUAGE:
        return text
    template = catalogs.gettext(language, text.template)
    if not text.values:
        return template
    values = {name: localized_text(value, language) if isinstance(value, Sentence) else value
              for name, value in text.values.items()}
    try:
        return template % values
    except (KeyError, TypeError, ValueError):  # a broken translation: the English rather than an error
        return str(text)


def localized_texts(data: Any, language: str) -> Any:
    """JSON-ready ``data`` (dicts, lists) with every Sentence in it said in ``language`` (English: unchanged):
    the ECG answer's methods, reasons and notes, a fused estimate's heart-rate reason."""
    if catalogs.language(language).code == catalogs.DEFAULT_LANGUAGE:
        return data
    if isinstance(data, Sentence):
        return localized_text(data, language)
    if isinstance(data, dict):
        return {key: localized_texts(value, language) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [localized_texts(value, language) for value in data]
    return data


def localized_report(report: VideoReport, language: str) -> VideoReport:
    """A video's report with its clip phrase and its peak frame's phrase in ``language`` (English: unchanged);
    the clip's phrase is built as server/assess/analysis.py builds it, from the sustained level."""
    if catalogs.language(language).code == catalogs.DEFAULT_LANGUAGE:
        return report
    if report.peak is None:
        return dataclasses.replace(report, speech_text=catalogs.gettext(language, report.speech_text))
    said = phrase(report.peak.pain, True, report.vitals, level=report.summary.get("level"), language=language)
    return dataclasses.replace(report, speech_text=said, peak=localized(report.peak, language))


def localized_scale(scale: Scale, language: str) -> dict[str, Any]:
    """``scale.to_dict()`` with its title, population, item names, option labels, band labels and the bands'
    source in ``language``; keys, scores, the scale's name and its citation stay as published."""
    said = catalogs.translations(language).gettext
    shown = scale.to_dict()
    for field in ("title", "population", "bands_source"):
        shown[field] = said(shown[field])
    for item in shown["items"]:
        item["name"] = said(item["name"])
        for option in item["options"]:
            option["label"] = said(option["label"])
    for band in shown["bands"]:
        band["label"] = said(band["label"])
    return shown


def localized_band_label(label: str, language: str) -> str:
    """A scale band's label (as stored assessments carry it, in English) in ``language``."""
    return catalogs.translations(language).gettext(label)
