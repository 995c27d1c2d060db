"""A Result or a video's report with its spoken phrase in another language (English: unchanged).

Built by the same call that built the phrase (``server/assess/speech.py`` ``phrase``), so the words
change language, never meaning. No Flask: the web layer and the video jobs both use it.
"""
from __future__ import annotations

import dataclasses

from server.assess import catalogs
from server.assess.analysis import VideoReport
from server.assess.speech import phrase
from server.pain.result import Result


def localized(result: Result, language: str) -> Result:
    """The Result with its phrase in ``language`` (English: unchanged). The same call that built it
    (server/assess/speech.py ``phrase``), so the words only change language, never meaning."""
    if catalogs.language(language).code == catalogs.DEFAULT_LANGUAGE:
        return result
    text = phrase(result.pain, result.face is not None, result.vitals, level=result.speech_level, language=language)
    return dataclasses.replace(result, speech_text=text)


def localized_report(report: VideoReport, language: str) -> VideoReport:
    """A video's report with its clip phrase and its peak frame's phrase in ``language`` (English: unchanged);
    the clip's phrase is built as server/assess/analysis.py builds it, from the sustained level."""
    if catalogs.language(language).code == catalogs.DEFAULT_LANGUAGE:
        return report
    if report.peak is None:
        return dataclasses.replace(report, speech_text=catalogs.gettext(language, report.speech_text))
    said = phrase(report.peak.pain, True, report.vitals, level=report.summary.get("level"), language=language)
    return dataclasses.replace(report, speech_text=said, peak=localized(report.peak, language))
