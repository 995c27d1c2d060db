"""Languages (docs/deployment.md "Languages"): every catalog has every message the code and templates use, translated,
with its placeholders intact; phrases, pages and the printed report follow the account's language, else the
browser's Accept-Language; numbers and times are written the language's way; the server's WAV is spoken with
each language's espeak-ng voice."""
from __future__ import annotations

import datetime as dt
import io
import re
import wave
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from server.assess import catalogs
from server.assess.speech import phrase
from server.assess.speech_engine import VOICE_SEPARATOR, SpeechEngine
from server.assess.speech_worker import split_voice
from server.pain.estimate import make_estimate
from server.store import records
from server.store.accounts import authenticate
from server.vitals.vital_signs import Vitals
from tests import synthetic
from tests.conftest import TEST_PASSWORD, TEST_USER, authed_client, create_test_app, multipart

REPO = Path(__file__).resolve().parent.parent
AUS = {"AU4": 3.0, "AU6": 0.0, "AU7": 3.0, "AU9": 0.0, "AU10": 1.0, "AU43": 0.0}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
MARKUP = re.compile(r"</?\w+>|&\w+;")  # the tags and entities of the templates' texts (<code>, <em>, &nbsp;)
OTHER_LANGUAGES = [code for code in catalogs.LANGUAGES if code != catalogs.DEFAULT_LANGUAGE]
# The phrase "Moderate pain. Heart rate 78." in each language.
MODERATE_78 = {
    "en": "Moderate pain. Heart rate 78.",
    "de": "Mäßiger Schmerz. Herzfrequenz 78.",
    "fr": "Douleur modérée. Fréquence cardiaque 78.",
    "es": "Dolor moderado. Frecuencia cardíaca 78.",
    "hi": "मध्यम दर्द। हृदय गति 78।",
}


def _used_messages() -> set[str]:
    """Every message the server's Python (N_ / _, and the English of InputProblem and the API errors) and the
    templates (_) ask for, as pybabel extracts them with the Makefile's CATALOG_KEYWORDS."""
    method_map = [("server/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "N_": None, "gettext": None, **CATALOG_KEYWORDS}
    return {message for _file, _line, message, _comments, _context in
            extract_from_dir(str(REPO), method_map, keywords=keywords) if isinstance(message, str)}


def _makefile_keywords() -> dict[str, tuple[int, ...]]:
    """The Makefile's CATALOG_KEYWORDS (``-k name`` or ``-k name:argument``) as extract_from_dir's keywords."""
    line = re.search(r"^CATALOG_KEYWORDS := (.*)$", (REPO / "Makefile").read_text(), re.MULTILINE).group(1)
    keywords: dict[str, tuple[int, ...]] = {}
    for spec in re.findall(r"-k (\S+)", line):
        name, _colon, argument = spec.partition(":")
        keywords[name] = (int(argument),) if argument else None
    return keywords


CATALOG_KEYWORDS = _makefile_keywords()


def _catalog(code: str):
    with catalogs.po_path(code).open("rb") as handle:
        return read_po(handle, locale=code)


@pytest.mark.parametrize("code", OTHER_LANGUAGES)
def test_every_catalog_translates_every_message_with_its_placeholders(code):
    used = _used_messages()
    assert len(used) > 100  # the phrases, the pages and the report
    catalog = _catalog(code)
    translated = {message.id: message.string for message in catalog if message.id}
    assert used <= set(translated), sorted(used - set(translated))  # nothing the code asks for is missing
    assert set(translated) <= used, sorted(set(translated) - used)  # nothing stale
    for msgid, text in translated.items():
        assert text, f"{code}: {msgid!r} is not translated"
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(msgid)), (code, msgid, text)
        assert "%" not in PLACEHOLDER.sub("", text), (code, msgid, text)  # no stray format sign
        assert MARKUP.findall(text) == MARKUP.findall(msgid), (code, msgid, text)  # the page texts' tags kept
    assert not [message.id for message in catalog if message.fuzzy and message.id]


def test_the_template_of_the_catalogs_is_the_code_s_messages():
    with (REPO / "translations" / "messages.pot").open("rb") as handle:
        template = {message.id for message in read_po(handle) if message.id}
    assert template == _used_messages()


@pytest.mark.parametrize("code", list(catalogs.LANGUAGES))
def test_the_phrase_is_said_in_each_language_with_the_english_unchanged(code):
    pain = make_estimate(AUS, 0.8, "geometry", "reference")
    assert phrase(pain, True, Vitals(heart_rate_bpm=78.4, quality="medium"), language=code) == MODERATE_78[code]
    assert phrase(pain, True, Vitals(heart_rate_bpm=78.4, quality="medium")) == MODERATE_78["en"]


def test_a_region_picks_its_language_and_an_unknown_one_english():
    assert catalogs.best_match(["de-AT", "en"]) == "de"
    assert catalogs.best_match(["pt-BR", "fr-CA"]) == "fr"
    assert catalogs.best_match(["pt-BR"]) is None
    assert catalogs.language("xx").code == "en"


@pytest.fixture(scope="module")
def renderer():
    speech = SpeechEngine(160, timeout_s=20.0, cache_entries=32, max_pending=8)
    available, detail = speech.available()
    if not available:
        pytest.skip(f"no espeak-ng voice: {detail}")
    yield speech
    speech.close()


def test_a_request_names_its_voice_apart_from_its_text():
    assert split_voice("de" + VOICE_SEPARATOR + "Mäßige Schmerzen.") == ("de", "Mäßige Schmerzen.")
    assert split_voice("Moderate pain.") == (None, "Moderate pain.")


@pytest.mark.parametrize("code", list(catalogs.LANGUAGES))
def test_the_wav_of_each_language_is_spoken_with_its_voice(renderer, code):
    voice = catalogs.LANGUAGES[code].espeak_voice
    wav = renderer.render_wav(MODERATE_78[code], voice)
    with wave.open(io.BytesIO(wav)) as sound:
        seconds = sound.getnframes() / sound.getframerate()
        assert 1.0 < seconds < 10.0
    english_voice = renderer.render_wav(MODERATE_78[code], catalogs.LANGUAGES["en"].espeak_voice)
    if code != "en":
        assert english_voice != wav  # another voice, other sounds


@pytest.fixture(scope="module")
def app():
    return create_test_app()


def _login(app):
    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    browser.post("/login", data={"name": TEST_USER, "password": TEST_PASSWORD, "csrf_token": token})
    return browser


def test_accept_language_picks_the_pages_language_and_english_stays_english(app):
    german = app.test_client().get("/login", headers={"Accept-Language": "de-CH, de;q=0.9, en;q=0.5"})
    html = german.get_data(as_text=True)
    assert '<html lang="de" data-speech-lang="de-DE">' in html
    assert ">Anmelden<" in html and ">Passwort<" in html
    english = app.test_client().get("/login", headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)
    assert '<html lang="en" data-speech-lang="en-GB">' in english and ">Log in<" in english


def test_the_account_s_language_beats_the_browser_s_and_the_report_follows_it(app):
    db = app.extensions["painscope"].db
    user = authenticate(db, TEST_USER, TEST_PASSWORD)
    patient = records.create_patient(db, "MRN-LANG-1", "", "", user.id)
    at = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.timezone.utc)
    row = records.ReadingRow(t=at, offset_s=0.0, pspi=6.34, level="moderate", confidence=0.8, action_units=None,
                             heart_rate_bpm=None, heart_rate_quality=None, face_found=True, face_share=1.0, frames=1)
    records.record_assessment(db, patient.id, user.id, "photo", "geometry", ["face"], [row], started_at=at)
    browser = _login(app)
    try:
        chosen = browser.put("/api/v1/users/me/language", json={"language": "fr"},
                             headers={"X-CSRFToken": _csrf(browser)})
        assert chosen.status_code == 200 and chosen.get_json() == {"language": "fr"}
        report = browser.get(f"/patients/{patient.id}", headers={"Accept-Language": "de"}).get_data(as_text=True)
        assert '<html lang="fr" data-speech-lang="fr-FR">' in report
        assert ">Imprimer le rapport<" in report and "Rapport patient PainScope · imprimé le" in report
        assert "06/12/2026 09:30 UTC" in report  # French date, time in UTC
        assert "<td>6,3</td>" in report  # the mean PSPI with a decimal comma
        refused = browser.put("/api/v1/users/me/language", json={"language": "xx"},
                              headers={"X-CSRFToken": _csrf(browser)})
        assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "bad_parameter"
    finally:
        browser.put("/api/v1/users/me/language", json={"language": None}, headers={"X-CSRFToken": _csrf(browser)})
    english = browser.get(f"/patients/{patient.id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "2026-12-06 09:30 UTC" in english and "<td>6.3</td>" in english


def _csrf(browser) -> str:
    page = browser.get("/patients").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def test_an_analysed_photo_speaks_in_the_browser_s_language(app):
    client = authed_client(app)
    photo = synthetic.encode(synthetic.camera_frame(synthetic.astronaut_face()), quality=90)
    german = client.post("/api/v1/analyze/image", data=multipart(image=photo), headers={"Accept-Language": "de"})
    english = client.post("/api/v1/analyze/image", data=multipart(image=photo))
    assert german.status_code == english.status_code == 200
    assert english.get_json()["speech"]["text"] in {"No pain detected.", "Mild pain.", "Moderate pain.", "Severe pain.",
                                                     "No pain detected. Not calibrated.", "Mild pain. Not calibrated.",
                                                     "Moderate pain. Not calibrated."}
    level = english.get_json()["pain"]["level"]
    german_level = {"none": "Kein Schmerz erkannt.", "mild": "Leichter Schmerz.", "moderate": "Mäßiger Schmerz.",
                    "severe": "Starker Schmerz."}[level]
    assert german.get_json()["speech"]["text"].startswith(german_level)


def test_speech_wav_takes_a_language_and_refuses_an_unknown_one(app, renderer):
    client = authed_client(app)
    wav = client.get("/api/v1/speech.wav", query_string={"text": MODERATE_78["hi"], "lang": "hi"})
    assert wav.status_code == 200 and wav.data[:4] == b"RIFF"
    refused = client.get("/api/v1/speech.wav", query_string={"text": "x", "lang": "xx"})
    assert refused.status_code == 400


def test_a_live_stream_speaks_in_the_language_of_its_connection(app):
    from server import socketio_of

    client = socketio_of(app).test_client(app, namespace="/live", auth={"token": app.config["TEST_API_TOKEN"]},
                                           headers={"Accept-Language": "es-MX,es;q=0.9"})
    try:
        assert client.emit("start", {}, namespace="/live", callback=True)["ok"]
        jpeg = synthetic.encode(synthetic.camera_frame(synthetic.astronaut_face()), quality=85)
        ack = client.emit("frame", {"seq": 0, "t_ms": 0, "jpeg": jpeg}, namespace="/live", callback=True)
        spanish = {"Dolor leve.", "Dolor moderado.", "Dolor intenso.", "No se detecta dolor.",
                   "No se encontró ninguna cara."}
        assert ack["speech"]["text"].split(" Sin calibrar.")[0] in spanish, ack["speech"]
    finally:
        client.disconnect(namespace="/live")


def test_a_video_s_clip_phrase_and_peak_phrase_follow_the_language(app):
    from tests import media
    from tests.jobs import post_job

    video = media.write_video([synthetic.camera_frame(synthetic.astronaut_face())] * 10, fps=5.0)
    client = authed_client(app)
    # a video is a job: its result's phrase is in the language of the request that submitted it
    english = post_job(client, "/api/v1/analyze/video", data=multipart(video=video)).get_json()
    french = post_job(client, "/api/v1/analyze/video", data=multipart(video=video),
                      headers={"Accept-Language": "fr"}).get_json()
    to_french = {text: catalogs.gettext("fr", text) for text in
                 ("No pain detected.", "Mild pain.", "Moderate pain.", "Severe pain.", "Not calibrated.")}
    for said, translated in ((english["speech"]["text"], french["speech"]["text"]),
                             (english["peak"]["speech"]["text"], french["peak"]["speech"]["text"])):
        expected = said
        for source, target in to_french.items():
            expected = expected.replace(source, target)
        assert translated == expected and translated != said


def test_every_message_the_page_scripts_translate_is_in_the_catalogs_and_reaches_the_page(app):
    from server.web.requests.language import SCRIPT_MESSAGES

    script_calls = set()
    for path in (REPO / "static" / "js").glob("*.js"):
        script_calls |= set(re.findall(r"\bt\('((?:[^'\\]|\\.)*)'", path.read_text()))
    assert script_calls and script_calls == set(SCRIPT_MESSAGES)
    page = _login(app).get("/", headers={"Accept-Language": "hi"}).get_data(as_text=True)
    block = re.search(r'<script type="application/json" id="page-messages">(.*?)</script>', page).group(1)
    import json

    messages = json.loads(block)
    assert messages["Camera off"] == "कैमरा बंद" and set(messages) == set(SCRIPT_MESSAGES)
    english = _login(app).get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'id="page-messages"' not in english


def test_a_fresh_clone_s_catalogs_are_compiled_on_first_use(tmp_path, monkeypatch):
    import shutil

    for po in (REPO / "translations").glob("*/LC_MESSAGES/messages.po"):  # the .po files only, as in git
        target = tmp_path / po.relative_to(REPO / "translations")
        target.parent.mkdir(parents=True)
        shutil.copy(po, target)
    monkeypatch.setattr(catalogs, "TRANSLATIONS_DIR", tmp_path)
    monkeypatch.setattr(catalogs, "_compiled", False)
    monkeypatch.setattr(catalogs, "_cache", {})
    assert catalogs.gettext("fr", "Mild pain.") == "Douleur légère."
    assert sorted(p.parent.parent.name for p in tmp_path.glob("*/LC_MESSAGES/messages.mo")) == ["de", "es", "fr", "hi"]
    assert not list(tmp_path.glob("*/LC_MESSAGES/*.tmp"))
    assert catalogs.compile_catalogs() == []  # up to date: nothing compiled again


def test_every_scale_s_wording_is_in_every_catalog():
    from server.pain.clinical.scales import SCALES

    wording = set()
    for scale in SCALES.values():
        wording |= {scale.title, scale.population, scale.bands_source}
        wording |= {band.label for band in scale.bands}
        for item in scale.items:
            wording |= {item.name} | {option.label for option in item.options}
    wording.discard("Merkel et al. 1997")  # a citation, the same in every language
    for code in OTHER_LANGUAGES:
        translated = {message.id for message in _catalog(code) if message.id and message.string}
        assert wording <= translated, (code, sorted(wording - translated))


def test_a_scale_form_is_worded_in_german_and_its_keys_and_scores_stay(app):
    client = authed_client(app)
    german = {s["key"]: s for s in client.get("/api/v1/scales", headers={"Accept-Language": "de-DE"}).get_json()["scales"]}
    english = {s["key"]: s for s in client.get("/api/v1/scales").get_json()["scales"]}
    painad = german["painad"]
    assert painad["name"] == "PAINAD" and painad["title"].startswith("Beurteilung von Schmerzen bei Demenz")
    face = next(item for item in painad["items"] if item["key"] == "face")
    assert face["name"] == "Gesichtsausdruck"
    assert [option["label"] for option in face["options"]] == [
        "lächelnd oder nichts sagend",
        "trauriger Gesichtsausdruck; ängstlicher Gesichtsausdruck; sorgenvoller Blick",
        "grimassieren",
    ]
    assert [band["label"] for band in german["cpot"]["bands"]][1] == "Über dem Grenzwert von 2: Schmerz wahrscheinlich"
    for key, scale in german.items():  # the same form, every word said again
        theirs = english[key]
        assert [(i["key"], [o["score"] for o in i["options"]]) for i in scale["items"]] == \
            [(i["key"], [o["score"] for o in i["options"]]) for i in theirs["items"]]
        assert [(b["name"], b["low"], b["high"]) for b in scale["bands"]] == \
            [(b["name"], b["low"], b["high"]) for b in theirs["bands"]]
        said = [i["name"] for i in scale["items"]] + [o["label"] for i in scale["items"] for o in i["options"]]
        original = [i["name"] for i in theirs["items"]] + [o["label"] for i in theirs["items"] for o in i["options"]]
        assert all(ours != source for ours, source in zip(said, original)), key
    assert english["painad"]["title"] == "Pain Assessment in Advanced Dementia"


def test_a_saved_scale_s_band_and_the_patient_page_s_form_texts_follow_the_language(app):
    client = authed_client(app)
    patient = client.post("/api/v1/patients", json={"identifier": "MRN-LANG-SCALE"}).get_json()["id"]
    items = {"breathing": 1, "vocalization": 1, "face": 2, "body_language": 1, "consolability": 0}
    saved = client.post(f"/api/v1/patients/{patient}/scale-assessments", headers={"Accept-Language": "de"},
                        json={"scale": "painad", "items": items, "context": "rest"})
    assert saved.status_code == 201
    assert saved.get_json()["band"] == "moderate" and saved.get_json()["band_label"] == "Mäßiger Schmerz"
    page = _login(app).get(f"/patients/{patient}", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "<td>Mäßiger Schmerz</td>" in page and ">Vorausfüllen aus dem Video<" in page
    block = re.search(r'<script type="application/json" id="page-messages">(.*?)</script>', page).group(1)
    import json

    messages = json.loads(block)
    assert messages["Only you can judge this."] == "Das können nur Sie beurteilen."
    assert messages["Total: %(total)s/%(most)s – %(band)s"] == "Summe: %(total)s/%(most)s – %(band)s"


def test_an_api_error_is_said_in_french_with_its_code_and_status_unchanged(app):
    client = authed_client(app)
    french = {"Accept-Language": "fr-FR,fr;q=0.9"}
    patient = client.post("/api/v1/patients", json={"identifier": "MRN-LANG-ERROR"}).get_json()["id"]
    body = {"scale": "borg", "items": {}, "context": "rest"}
    url = f"/api/v1/patients/{patient}/scale-assessments"
    answer = client.post(url, json=body, headers=french)
    assert answer.status_code == 422
    assert answer.get_json() == {"error": {
        "code": "unknown_scale", "message": "Échelle inconnue 'borg' ; utilisez l’une de painad, cpot, flacc."}}
    english = client.post(url, json=body)
    assert english.status_code == 422 and english.get_json() == {"error": {
        "code": "unknown_scale", "message": "Unknown scale 'borg'; use one of painad, cpot, flacc."}}
    not_json = client.post(url, data="{", content_type="application/json", headers=french).get_json()["error"]
    assert not_json == {"code": "invalid_json", "message": "Le corps de la requête n’est pas du JSON : envoyez un "
                                                           "objet JSON avec Content-Type: application/json."}


def test_an_error_the_catalogs_cannot_say_is_said_in_general_with_its_english_beside_it(app):
    client = authed_client(app)
    missing = client.get("/api/v1/no-such-route", headers={"Accept-Language": "fr"})
    assert missing.status_code == 404
    error = missing.get_json()["error"]
    assert error["code"] == "not_found" and error["message"] == "Introuvable."
    assert error["detail"].startswith("The requested URL was not found")
    english = client.get("/api/v1/no-such-route").get_json()["error"]
    assert set(english) == {"code", "message"} and english["message"].startswith("The requested URL was not found")


def test_a_live_stream_s_refusal_is_said_in_the_language_of_its_connection(app):
    from server import socketio_of

    client = socketio_of(app).test_client(app, namespace="/live", auth={"token": app.config["TEST_API_TOKEN"]},
                                           headers={"Accept-Language": "es"})
    try:
        ack = client.emit("frame", {"seq": 0, "t_ms": 0, "jpeg": b"x"}, namespace="/live", callback=True)
        assert ack["error"] == {"code": "no_session", "message": "Envíe 'start' antes de los fotogramas."}
    finally:
        client.disconnect(namespace="/live")
