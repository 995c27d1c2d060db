"""The Upload and Live Camera tabs in a real headless Chromium against the real server."""
from __future__ import annotations

import os
import re
import tempfile
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests import synthetic
from tests.synthetic import camera_frame
from tests.e2e.browser import Browser, require_browser, write_y4m
from tests.server_process import running_server

# Screenshots go to tests/artifacts/ (ignored by git); `make screenshots` points
# this at tests/e2e/screenshots/ to refresh the images the README shows.
SCREENSHOTS = os.environ.get(
    "PAINSCOPE_SCREENSHOT_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "artifacts")
)
PAIN_LEVELS = ("moderate", "severe")
NEUTRAL_SECONDS, PAIN_SECONDS = 4, 2  # the fake camera loops: mostly relaxed, then a grimace
WAIT_S = 90  # generous: CI machines are slow and shared; nothing asserts a duration


@pytest.fixture(scope="module")
def server_url():
    require_browser()
    with running_server() as url:
        yield url


@pytest.fixture(scope="module")
def camera_file():
    fps = 15
    neutral = camera_frame(synthetic.astronaut_face())
    pained = camera_frame(synthetic.grimace(1.0))
    handle = tempfile.NamedTemporaryFile(suffix=".y4m", delete=False)
    handle.close()
    write_y4m(handle.name, [neutral] * (NEUTRAL_SECONDS * fps) + [pained] * (PAIN_SECONDS * fps), fps)
    yield handle.name
    os.unlink(handle.name)


@pytest.fixture()
def browser(camera_file):
    session = Browser(camera_y4m=camera_file)
    yield session
    session.close()


def _wait(driver, condition, message):
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(condition, message)


def _save_screenshot(driver, name):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SCREENSHOTS, name))


def test_upload_a_photo_with_a_neutral_reference_and_hear_the_result(server_url, browser, tmp_path):
    driver = browser.driver
    reference = tmp_path / "neutral.jpg"
    photo = tmp_path / "grimace.jpg"
    reference.write_bytes(synthetic.encode(synthetic.astronaut_face()))
    photo.write_bytes(synthetic.encode(synthetic.grimace(1.0)))
    driver.get(server_url + "/")
    driver.find_element(By.ID, "reference-input").send_keys(str(reference))
    driver.find_element(By.ID, "image-input").send_keys(str(photo))
    level = _wait(driver, EC.visibility_of_element_located((By.ID, "result-level")), "no upload result shown")
    _wait(driver, lambda d: level.get_attribute("data-level") in PAIN_LEVELS, "the grimace was not read as pain")
    assert driver.find_element(By.ID, "overlay-image").get_attribute("src").startswith("data:image/png")
    assert "calibrated" in driver.find_element(By.ID, "result-calibrated").text.lower()
    assert driver.find_element(By.ID, "result-estimator").text == "geometry"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#au-bars > *")) >= 6
    spoken = _wait(driver, lambda d: d.execute_script("return window.__spoken"), "nothing was spoken")
    assert spoken[-1] == level.get_attribute("data-level").capitalize() + " pain."
    _save_screenshot(driver, "upload.png")


# What a learned or fused estimator answers: no action units, no baseline, maybe no PSPI (an lstm
# part), a label and parts. No model is installed in the test server, so the page renders this one.
FUSED_RESULT = {
    "face": {"found": True, "box": [115, 98, 146, 196], "quality": 1.0, "count": 1},
    "faces": [{"box": [115, 98, 146, 196], "quality": 1.0}],
    "pain": {
        "pspi": None, "level": "moderate", "confidence": 0.6,
        "probabilities": {"none": 0.05, "mild": 0.2, "moderate": 0.6, "severe": 0.15},
        "action_units": None, "estimator": "fusion", "baseline": None, "calibrated": None, "model": None,
        "label": "PAIN", "label_probabilities": {"NO_PAIN": 0.09, "PAIN": 0.91},
        "parts": [
            {"estimator": "resnet18", "weight": 0.5, "pspi": 7.9, "level": "moderate", "confidence": 0.5,
             "model": "resnet18.pt"},
            {"estimator": "lstm", "weight": 0.5, "pspi": None, "level": "severe", "confidence": 0.7, "model": "lstm.pt"},
        ],
    },
    "vitals": None,
    "speech": {"text": "Moderate pain."},
}


def _estimator_options(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#estimator-select option')]"
        ".map((o) => ({name: o.value, disabled: o.disabled, selected: o.selected, title: o.title}))"
    )


def _force_estimator(driver, name):
    """Choose an estimator the picker shows as unavailable, to see that the page really sends it."""
    driver.execute_script(
        "const select = document.getElementById('estimator-select');"
        "select.querySelector(`option[value='${arguments[0]}']`).disabled = false;"
        "select.value = arguments[0];",
        name,
    )


def test_estimator_picker_lists_what_the_server_has_and_its_choice_is_sent(server_url, browser, tmp_path):
    driver = browser.driver
    photo = tmp_path / "grimace.jpg"
    photo.write_bytes(synthetic.encode(synthetic.grimace(1.0)))
    driver.get(server_url + "/")
    _wait(driver, lambda d: len(_estimator_options(d)) == 4, "the picker was not filled from /health")
    options = {option["name"]: option for option in _estimator_options(driver)}
    assert list(options) == ["geometry", "resnet18", "lstm", "fusion"]
    assert not options["geometry"]["disabled"] and options["geometry"]["selected"]
    for name in ("resnet18", "lstm", "fusion"):  # no model is installed in the test server
        assert options[name]["disabled"], name
        assert options[name]["title"], f"{name} does not say why it is unavailable"
    assert driver.find_element(By.ID, "estimator-select").is_enabled()

    _force_estimator(driver, "lstm")
    driver.find_element(By.ID, "image-input").send_keys(str(photo))
    error = _wait(driver, EC.visibility_of_element_located((By.ID, "upload-error")), "no error shown")
    assert "lstm" in error.text
    Select(driver.find_element(By.ID, "estimator-select")).select_by_value("geometry")  # re-assesses the photo
    _wait(driver, EC.visibility_of_element_located((By.ID, "upload-result")), "the photo was not assessed again")
    assert driver.find_element(By.ID, "result-estimator").text == "geometry"
    assert not driver.find_element(By.ID, "upload-error").is_displayed()

    driver.find_element(By.ID, "tab-live").click()
    _force_estimator(driver, "resnet18")
    driver.find_element(By.ID, "live-start").click()
    error = _wait(driver, EC.visibility_of_element_located((By.ID, "live-error")), "the live start was not refused")
    assert "resnet18" in error.text
    _wait(driver, lambda d: d.find_element(By.ID, "live-start").is_enabled(), "a refused start left the camera on")


def test_an_estimate_without_pspi_or_action_units_reads_in_words(server_url, browser):
    """Renders FUSED_RESULT through the page's own upload view: dashes and sentences, never "null"."""
    driver = browser.driver
    driver.get(server_url + "/")
    outcome = driver.execute_async_script(
        "const [result, done] = arguments;"
        "import('/static/js/upload-view.js').then((view) => { view.showImageResult(result); done('shown'); },"
        " (error) => done(String(error)));",
        FUSED_RESULT,
    )
    assert outcome == "shown"

    def text(element_id):
        return driver.find_element(By.ID, element_id).text

    assert text("result-level") == "moderate"
    assert text("result-label") == "PAIN 91%"
    assert text("result-pspi") == "–"
    assert text("result-estimator") == "fusion"
    assert "null" not in text("result-calibrated") and text("result-calibrated") != "–"
    assert driver.find_elements(By.CSS_SELECTOR, "#au-bars > *") == []
    assert "geometry estimator only" in text("au-note")
    rows = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#result-parts tbody tr")]
    assert rows == ["resnet18 (resnet18.pt) moderate 7.9 50%", "lstm (lstm.pt) severe – 50%"]
    assert not re.search(r"\b(null|nan|undefined)\b", text("upload-result"), re.IGNORECASE)

    # Live, an lstm answers pain: null while its window fills although the face is there.
    driver.find_element(By.ID, "tab-live").click()
    outcome = driver.execute_async_script(
        "const [result, done] = arguments;"
        "import('/static/js/live-view.js').then((view) => {"
        " view.resetReadings(); view.showResult(result, {width: 640, height: 480}, 0.2); done('shown'); },"
        " (error) => done(String(error)));",
        {**FUSED_RESULT, "pain": None},
    )
    assert outcome == "shown"
    assert text("live-status") == "Gathering frames…"
    assert text("live-level") != "no face"


def test_upload_errors_are_shown_not_swallowed(server_url, browser, tmp_path):
    driver = browser.driver
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a photo")
    driver.get(server_url + "/")
    driver.find_element(By.ID, "image-input").send_keys(str(fake))
    error = _wait(driver, EC.visibility_of_element_located((By.ID, "upload-error")), "no error shown")
    assert "not a JPEG" in error.text


def test_live_camera_streams_reports_pain_when_the_face_changes_speaks_and_stops(server_url, browser):
    driver = browser.driver
    driver.get(server_url + "/")
    driver.find_element(By.ID, "tab-live").click()
    driver.find_element(By.ID, "live-start").click()
    _wait(driver, lambda d: d.execute_script("return window.painscope.liveResultCount") >= 5, "no live results")
    seen = []

    def saw_relief_then_pain(d):
        level = d.find_element(By.ID, "live-level").get_attribute("data-level")
        if level and (not seen or seen[-1] != level):
            seen.append(level)
        return "none" in seen and any(lvl in PAIN_LEVELS for lvl in seen[seen.index("none"):])

    _wait(driver, saw_relief_then_pain, "the level did not rise after the expression changed")
    spoken = _wait(
        driver,
        lambda d: [t for t in d.execute_script("return window.__spoken") if t.split(".")[0].lower().split()[0] in PAIN_LEVELS],
        "the pain level was not spoken",
    )
    assert spoken[0] in ("Moderate pain.", "Severe pain.")
    fps = driver.find_element(By.ID, "live-fps").text
    assert any(ch.isdigit() for ch in fps)
    _save_screenshot(driver, "live.png")
    driver.find_element(By.ID, "live-stop").click()
    _wait(driver, lambda d: d.find_element(By.ID, "live-start").is_enabled(), "stop did not end the stream")
    count = driver.execute_script("return window.painscope.liveResultCount")
    time.sleep(1.0)  # results must not keep arriving after stop
    assert driver.execute_script("return window.painscope.liveResultCount") == count
