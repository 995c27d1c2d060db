"""The languages PainScope speaks and its gettext message catalogs (``translations/<lang>/LC_MESSAGES/``).

The catalogs are ``messages.po`` files kept in the repository; the compiled
``messages.mo`` beside each is made from it by :func:`compile_catalogs` (at
start: ``create_app`` and the first :func:`translations` call), whenever it is
missing or older than its ``.po``, so a fresh clone works with no extra step.
English is the source language: its messages are the msgids themselves.

Each language also names its voices: the espeak-ng voice pyttsx3 renders WAVs
with (``espeak-ng --voices`` lists them; Debian's espeak-ng-data ships all five)
and the BCP 47 tag the page gives the Web Speech API. No Flask here (the web
layer picks the request's language, server/web/requests/language.py).
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from babel.core import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from server.problems import N_  # noqa: F401 (the marker, where the layers above have always found it)

log = logging.getLogger(__name__)

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "translations"  # the repository's
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Language:
    """A language of the pages, phrases and report: its code, its own name, its voices."""

    code: str  # ISO 639-1, the catalog folder's name
    name: str  # in the language itself, as the language menu shows it
    espeak_voice: str  # espeak-ng's voice for pyttsx3
    speech_tag: str  # BCP 47 for SpeechSynthesisUtterance.lang


LANGUAGES: dict[str, Language] = {
    language.code: language
    for language in (
        Language("en", "English", "gmw/en", "en-GB"),
        Language("de", "Deutsch", "gmw/de", "de-DE"),
        Language("fr", "Français", "roa/fr", "fr-FR"),
        Language("es", "Español", "roa/es", "es-ES"),
        Language("hi", "हिन्दी", "inc/hi", "hi-IN"),
    )
}

_lock = threading.Lock()
_cache: dict[str, NullTranslations] = {}
_compiled = False


def language(code: str | None) -> Language:
    """The language for a code ("de", "de-AT", "de_DE"); English for an unknown one."""
    return LANGUAGES.get(base_code(code), LANGUAGES[DEFAULT_LANGUAGE])


def base_code(code: str | None) -> str:
    """"de-AT" -> "de": the catalogs are per language, not per country."""
    return (code or "").replace("_", "-").split("-")[0].lower()


def best_match(preferred: Iterable[str]) -> str | None:
    """The first of the client's preferred languages (best first) that PainScope speaks, or None."""
    for code in preferred:
        if base_code(code) in LANGUAGES:
            return base_code(code)
    return None


def po_path(code: str) -> Path:
    """Where a language's catalog is kept."""
    return TRANSLATIONS_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalogs() -> list[str]:
    """Compile each ``.po`` whose ``.mo`` is missing or older; the languages compiled. A folder that cannot
    be written is logged, and that language then speaks English."""
    global _compiled
    done: list[str] = []
    with _lock:
        for code in LANGUAGES:
            po = po_path(code)
            mo = po.with_suffix(".mo")
            if not po.exists() or (mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime):
                continue
            try:
                with po.open("rb") as handle:
                    catalog = read_po(handle, locale=code, domain=DOMAIN)
                temporary = mo.with_suffix(f".mo.{os.getpid()}.tmp")  # each worker of a cluster its own
                with temporary.open("wb") as handle:
                    write_mo(handle, catalog, use_fuzzy=False)
                temporary.replace(mo)  # atomic: a worker starting beside this one never reads half a file
                done.append(code)
            except OSError:
                log.exception("catalog %s could not be compiled; %s is spoken in English", po, code)
        _cache.clear()
        _compiled = True
    return done


def translations(code: str | None) -> NullTranslations:
    """The compiled catalog of a language (English: none, the msgids are the text)."""
    code = language(code).code
    if not _compiled:
        compile_catalogs()
    with _lock:
        if code not in _cache:
            if code == DEFAULT_LANGUAGE:
                _cache[code] = NullTranslations()
            else:
                _cache[code] = Translations.load(str(TRANSLATIONS_DIR), [code], DOMAIN)
        return _cache[code]


def gettext(code: str | None, message: str, **values: object) -> str:
    """``message`` in the language, its ``%(name)s`` placeholders filled with ``values``."""
    text = translations(code).gettext(message)
    return text % values if values else text


def babel_locale(code: str | None) -> Locale:
    """Babel's Locale of the language (numbers and dates are written its way)."""
    try:
        return Locale.parse(language(code).code)
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LANGUAGE)
