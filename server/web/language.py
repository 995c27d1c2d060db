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
from server.assess.localized import localized, localized_report  # noqa: F401 (the web layer's names)
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
