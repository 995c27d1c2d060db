"""The language of a request: pages, the printed report and spoken phrases in the ward's language.

The language is the account's choice (``users.language``, set with
``PUT /api/v1/users/me/language``), else the best of the browser's
``Accept-Language`` that PainScope speaks (server/assess/catalogs.py), else
English. Flask-Babel renders the templates' ``_()`` texts from the catalogs and
writes numbers and times the language's way (the ``decimal`` and ``utc_time``
filters); the Result's phrase is said again in the language
(:func:`localized`), and the page tells the Web Speech API the language's tag.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask import Flask, request
from flask_babel import Babel, format_datetime, format_decimal
from flask_login import current_user

from server.assess import catalogs
from server.assess.catalogs import N_
from server.assess.localized import localized, localized_report, localized_texts  # noqa: F401 (the web layer's names)
from server.pain.result import Result

# English keeps the page's long-standing figures: "6.3", "2026-12-06 09:30" (tests and screenshots read them).
ENGLISH_TIME_FORMAT = "%Y-%m-%d %H:%M"


def request_language() -> str:
    """The account's language, else the browser's best match, else English."""
    chosen = getattr(current_user, "language", None) if current_user else None
    if chosen in catalogs.LANGUAGES:
        return chosen
    try:
        offered = [code for code, _quality in request.accept_languages]
    except RuntimeError:  # no request (a background task)
        return catalogs.DEFAULT_LANGUAGE
    return catalogs.best_match(offered) or catalogs.DEFAULT_LANGUAGE


# What the page's scripts write themselves (static/js/i18n.js t()): translated here and handed to the page
# as data, so the Content-Security-Policy stays as it is. tests/test_languages.py checks this list against
# every t('...') of static/js.
SCRIPT_MESSAGES = (
    N_("Camera permission denied"),
    N_("Camera access was refused. Allow the camera for this site and press Start again."),
    N_("No camera found"),
    N_("No usable camera was found. Connect one and press Start again."),
    N_("Camera busy"),
    N_("The camera is in use by another application."),
    N_("Camera unavailable"),
    N_("The camera could not be started: %(error)s"),
    N_("Camera needs HTTPS"),
    N_("This page was opened over plain HTTP, and browsers allow the camera only on secure (HTTPS) pages. "
       "Open it by its https:// address, e.g. https://%(host)s/ (README \"Deploying on a ward network\")."),
    N_("Starting session…"),
    N_("Connecting…"),
    N_("Starting camera…"),
    N_("Camera off"),
    N_("Disconnected"),
    N_("The server closed the live session."),
    N_("Times are local (%(zone)s)."),
    N_("this computer’s time zone"),
    N_("No readings yet."),
    N_("Readings: %(readings)s · assessments: %(assessments)s · with a PSPI: %(measured)s (the others had no face "
       "or no PSPI)."),
    N_("Pain scale assessments: %(count)s."),
    N_("The pain scales could not be loaded: %(error)s"),
    N_("The readings could not be loaded: %(error)s"),
    N_("Cannot reach the PainScope server. Check the connection and try again."),
    N_("The server answered %(status)s %(text)s."),
    N_("The server sent an answer that could not be read."),
    N_("Action units are measured by the geometry estimator only."),
    N_("Action units are measured by the geometry estimator only; the %(estimator)s estimator does not report them."),
    N_("a smile"),
    N_("speaking"),
    N_("a blink"),
    N_("Seen and not counted as pain: %(seen)s."),
    N_("Time in video (s)"),
    N_("Centre, x (px)"),
    N_("Finding body parts…"),
    N_("Following body parts through the video… this can take a while."),
    N_("The camera frame could not be encoded."),
    N_("Time in recording (s)"),
    N_("The list of estimators could not be read; the server’s default is used."),
    N_("Time (local)"),
    N_("Heart rate"),
    N_("after movement"),
    N_("at rest"),
    N_("Queued: waiting for a free analyser…"),
    N_("estimating time left"),
    N_("about %(time)s left"),
    N_("%(percent)s · %(frames)s frames · %(left)s"),
    N_("none"),
    N_("mild"),
    N_("moderate"),
    N_("severe"),
    N_("no face"),
    N_("unknown"),
    N_("Streaming"),
    N_("gathering…"),
    N_("The server did not answer a frame in time."),
    N_("The live service did not answer."),
    N_("Connection to the server lost. Reconnecting…"),
    N_("Cannot reach the live service. Retrying…"),
    N_("The live service refused the connection: %(error)s"),
    N_("The server did not answer the calibration request."),
    N_("Gathering frames…"),
    N_("person-independent model (%(model)s)"),
    N_("no personal baseline – a combination of estimators (parts below)"),
    N_("person-independent model"),
    N_("population baseline – add a neutral photo for accuracy"),
    N_("calibrated to reference"),
    N_("calibrated (%(baseline)s baseline)"),
    N_("not used"),
    N_("Saved to the record of %(who)s: assessment %(assessment)s, readings: %(readings)s."),
    N_("Recording for %(who)s (assessment %(assessment)s): seconds saved: %(seconds)s."),
    N_("The patients could not be read (%(error)s); nothing is recorded."),
    N_("Pain reassessment due now."),
    N_("Pain reassessment due"),
    N_("Pain reassessment overdue."),
    N_("Pain reassessment overdue"),
    N_("The camera can pre-fill this."),
    N_("Only you can judge this."),
    N_("Total: not final; items still to score: %(left)s."),
    N_("Total: %(total)s/%(most)s – %(band)s"),
    N_("For %(population)s. %(source)s. Bands: %(bands)s."),
    N_("Uploading the video…"),
    N_("Analysing…"),
    N_("Camera: %(evidence)s (not scored)."),
    N_("Camera: %(evidence)s. Change it if you see otherwise."),
    N_("The camera pre-filled %(filled)s of %(items)s items; score the rest."),
    N_("Could not pre-fill: %(error)s"),
    N_("Pre-fill cancelled."),
    N_("the video could not be analysed."),
    N_("Choose a short video (or a photo) of the patient first."),
    N_("This browser cannot record video; upload a clip instead."),
    N_("Recording… %(left)s s"),
    N_("Time since start (s)"),
    N_("No face found. Use a clear, well-lit picture with the face towards the camera."),
    N_("Most painful frame, at %(time)s s"),
    N_("Most painful frame"),
    N_("No PSPI: this estimator reports a level, not a PSPI."),
    N_("Maximum PSPI %(max)s, mean %(mean)s."),
    N_("Verdict: no face to judge."),
    N_("Verdict: %(level)s (the highest level held for %(time)s s, PSPI %(pspi)s)."),
    N_("Verdict: %(level)s (the highest level held for %(time)s s)."),
    N_("Time in each level: %(levels)s."),
    N_("%(seconds)s s of video, %(frames)s frames analysed."),
    N_("Analysed photo"),
    N_("Analysing photo…"),
    N_("Uploading %(file)s…"),
    N_("Analysing %(file)s"),
    N_("Cancelled"),
    N_("The analysis of %(file)s was cancelled."),
    N_("The video could not be analysed."),
    N_("measuring… (%(reason)s)"),
    N_("measuring…"),
    N_("Heart rate: not measurable – %(reason)s"),
    N_("no face found"),
    N_("Heart rate %(rate)s bpm (%(quality)s quality)"),
    N_("Heart rate %(rate)s bpm"),
    # The ECG result (static/js/ecg-view.js: figures, baseline, what could not be measured), the body-part view
    # (body-view.js: method, parts, movement) and the heart rate's row of a fused estimate (parts.js).
    N_("%(beats)s beats"),
    N_("%(count)s beat-to-beat interval left out as implausible"),
    N_("%(count)s beat-to-beat intervals left out as implausible"),
    N_("%(fps)s per second"),
    N_("%(frames)s frame analysed"),
    N_("%(frames)s frames analysed"),
    N_("%(rate)s bpm"),
    N_("%(rate)s bpm, RMSSD %(rmssd)s ms"),
    N_("%(rate)s bpm, resting %(resting)s – arousal %(arousal)s"),
    N_("%(sampled)s; a person in %(frames)s."),
    N_("%(sampled)s; no person found in any of them."),
    N_("%(seconds)s s of ECG"),
    N_("%(stretch)s: %(figures)s."),
    N_("After it (%(start)s–%(end)s s)"),
    N_("Body size %(size)s px (the diagonal of the box around the person, median over the video)."),
    N_("ECG"),
    N_("Heart rate, RMSSD and SDNN not measured – %(reason)s"),
    N_("Method: %(method)s."),
    N_("No arousal score – %(reason)s"),
    N_("No arousal score: it needs a heart rate."),
    N_("RMSSD %(change)s"),
    N_("RMSSD not measured – no two neighbouring beat-to-beat intervals were both usable."),
    N_("Read as %(format)s: %(summary)s."),
    N_("SDNN not measured – too few usable beat-to-beat intervals."),
    N_("The first %(seconds)s s of the recording"),
    N_("The resting recording (%(seconds)s s)"),
    N_("The signal quality has no score: the beats could not be compared with each other."),
    N_("This recording"),
    N_("arm"),
    N_("at %(rate)s Hz"),
    N_("camera"),
    N_("from the %(source)s"),
    N_("from the time column"),
    N_("head"),
    N_("heart rate"),
    N_("heart rate %(change)s"),
    N_("heart rate (%(source)s)"),
    N_("high"),
    N_("leg"),
    N_("low"),
    N_("medium"),
    N_("no baseline to compare with"),
    N_("no heart rate (%(intervals)s usable beat-to-beat intervals)"),
    N_("no score"),
    N_("no usable heartbeats"),
    N_("not measured: never seen in two frames in a row"),
    N_("not measured: seen in %(frames)s frame"),
    N_("not measured: seen in %(frames)s frames"),
    N_("over %(seconds)s s"),
    N_("pose landmarks and person segmentation (MediaPipe Pose)"),
    N_("the sampling rate given"),
    N_("torso"),
)


def script_messages(language: str) -> dict[str, str]:
    """SCRIPT_MESSAGES in ``language`` (English: none, the scripts' own text is the message)."""
    if catalogs.language(language).code == catalogs.DEFAULT_LANGUAGE:
        return {}
    translations = catalogs.translations(language)
    return {message: translations.gettext(message) for message in SCRIPT_MESSAGES}


# What a video without a face says (VideoReport.speech_text's default), for the catalogs.
NO_FACE_IN_VIDEO = N_("No face found in the video.")


def _decimal(value: Any, digits: int = 1) -> str:
    """A number with ``digits`` decimals, in the page's language ("6.3", "6,3"); a dash when missing."""
    if value is None:
        return "–"
    if request_language() == catalogs.DEFAULT_LANGUAGE:
        return f"{value:.{digits}f}"
    return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0")


def _utc_time(moment: dt.datetime) -> str:
    """A UTC time the language's way (English: 2026-12-06 09:30)."""
    if request_language() == catalogs.DEFAULT_LANGUAGE:
        return moment.strftime(ENGLISH_TIME_FORMAT)
    return format_datetime(moment, "short")


def init_language(app: Flask) -> None:
    """Compile the catalogs, wire Flask-Babel (templates' ``_()``), the filters and the page's language."""
    catalogs.compile_catalogs()
    app.config.update(
        BABEL_TRANSLATION_DIRECTORIES=str(catalogs.TRANSLATIONS_DIR),
        BABEL_DEFAULT_LOCALE=catalogs.DEFAULT_LANGUAGE,
        BABEL_DEFAULT_TIMEZONE="UTC",  # times are stored and shown in UTC; the pages' scripts show local ones
    )
    Babel(app, locale_selector=request_language)
    app.jinja_env.filters["decimal"] = _decimal
    app.jinja_env.filters["utc_time"] = _utc_time

    @app.context_processor
    def page_language() -> dict[str, Any]:
        spoken = catalogs.language(request_language())
        return {"page_language": spoken.code, "speech_tag": spoken.speech_tag,
                "script_messages": script_messages(spoken.code),
                "languages": list(catalogs.LANGUAGES.values()),
                "chosen_language": getattr(current_user, "language", None) or ""}
