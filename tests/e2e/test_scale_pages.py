"""A clinician completes a PAINAD pre-filled from an uploaded video and sees it charted (real Chromium, real server)."""
from __future__ import annotations

import os
import re
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests import media, synthetic
from tests.e2e.browser import Browser, page_errors, require_browser, write_y4m
from tests.synthetic import camera_frame
from tests.server_process import running_server

# Screenshots go to tests/artifacts/ (ignored by git), as in test_pages.py.
SCREENSHOTS = os.environ.get(
    "PAINSCOPE_SCREENSHOT_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "artifacts")
)
WAIT_S = 120  # generous: the pre-fill analyses a video (face and body) on a shared machine
FPS = 10


@pytest.fixture()
def camera_browser(server, tmp_path):
    """A browser whose fake webcam shows a relaxed face, then a grimace, looping."""
    camera = tmp_path / "camera.y4m"
    fps = 15
    write_y4m(str(camera), [camera_frame(synthetic.astronaut_face())] * (3 * fps)
              + [camera_frame(synthetic.grimace(1.0))] * (3 * fps), fps)
    session = Browser(camera_y4m=str(camera))
    session.log_in(server.base_url, server.user, server.password)
    yield session
    session.close()


def _new_patient_page(driver, base_url):
    driver.get(base_url + "/patients")
    driver.find_element(By.ID, "new-patient-identifier").send_keys(f"SCALE-{time.time_ns()}")
    driver.find_element(By.ID, "new-patient-submit").click()
    _wait(driver, lambda d: re.search(r"/patients/\d+$", d.current_url), "the new patient's page did not open")


def _wait(driver, condition, message):
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(condition, message)


def _checked(driver, item):
    found = driver.find_elements(By.CSS_SELECTOR, f'input[name="scale-{item}"]:checked')
    return int(found[0].get_attribute("value")) if found else None


def test_a_painad_prefilled_from_a_video_is_completed_saved_and_charted(server, browser, tmp_path):
    driver = browser.driver
    _new_patient_page(driver, server.base_url)
    assert "No pain scales recorded yet" in driver.find_element(By.ID, "scale-chart-status").text

    driver.find_element(By.ID, "scale-start-painad").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'fieldset[data-item="consolability"]'),
          "the PAINAD form was not built")
    assert driver.find_element(By.ID, "scale-save").get_attribute("disabled") is not None  # not final yet

    video = tmp_path / "grimace.mp4"
    frames = [synthetic.astronaut_face()] * (3 * FPS) + [synthetic.grimace(1.0)] * (2 * FPS)
    video.write_bytes(media.write_video(frames, fps=FPS))
    driver.find_element(By.ID, "scale-media").send_keys(str(video))
    driver.find_element(By.ID, "scale-prefill").click()
    status = driver.find_element(By.ID, "scale-prefill-status")
    _wait(driver, lambda d: "pre-filled" in status.text or "Could not" in status.text, "the pre-fill did not answer")
    assert "pre-filled" in status.text, status.text
    face = _checked(driver, "face")
    assert face is not None and face >= 1  # the grimace
    assert "AU4" in driver.find_element(By.ID, "scale-evidence-face").text
    assert _checked(driver, "vocalization") is None and _checked(driver, "consolability") is None

    # The clinician scores what the camera cannot see (and anything it left empty) and saves.
    for item in ("breathing", "vocalization", "body_language", "consolability"):
        if _checked(driver, item) is None:
            driver.find_element(By.ID, f"scale-{item}-1").click()
    total = sum(_checked(driver, item) for item in
                ("breathing", "vocalization", "face", "body_language", "consolability"))
    assert f"Total: {total}/10" in driver.find_element(By.ID, "scale-total").text
    Select(driver.find_element(By.ID, "scale-context")).select_by_value("movement")
    os.makedirs(SCREENSHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SCREENSHOTS, "patient-scale-form.png"))
    driver.find_element(By.ID, "scale-save").click()

    row = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#scale-table tbody tr"), "the table did not show it")
    assert row[0].find_element(By.CSS_SELECTOR, ".scale-total-cell").text == f"{total}/10"
    assert "face " in row[0].text and "(C)" in row[0].text and "after movement" in row[0].text
    points = _wait(driver, lambda d: d.execute_script(
        "const chart = window.Chart && window.Chart.getChart(document.getElementById('history-scale-chart'));"
        "return chart ? chart.data.datasets.map((set) => [set.label, set.data.map((p) => p.y)]) : null;"
    ), "no scale chart")
    assert points == [["PAINAD", [total]]]
    if total >= 4:  # moderate or severe: a reassessment is scheduled
        assert "Reassess pain at" in driver.find_element(By.ID, "scale-reassess").text
    driver.execute_script("document.getElementById('scales-heading').scrollIntoView()")
    driver.save_screenshot(os.path.join(SCREENSHOTS, "patient-scales.png"))
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:  # the printed report carries the scale table and chart, not the form
        assert driver.find_element(By.ID, "scale-table").is_displayed()
        assert driver.find_element(By.ID, "history-scale-chart").is_displayed()
        assert not driver.find_element(By.ID, "scale-assess").is_displayed()
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert page_errors(driver) == []


def test_a_prefill_from_a_long_video_shows_its_progress_and_can_be_cancelled(server, browser, tmp_path):
    driver = browser.driver
    _new_patient_page(driver, server.base_url)
    driver.find_element(By.ID, "scale-start-cpot").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "fieldset[data-item]"), "the CPOT form was not built")
    video = tmp_path / "long.mp4"
    video.write_bytes(media.write_video([synthetic.astronaut_face()] * (60 * FPS), fps=FPS))
    driver.find_element(By.ID, "scale-media").send_keys(str(video))
    driver.find_element(By.ID, "scale-prefill").click()
    text, bar = driver.find_element(By.ID, "scale-job-text"), driver.find_element(By.ID, "scale-job-bar")
    _wait(driver, lambda d: 0 < float(bar.get_attribute("value") or 0) < 100
          and ("min left" in text.text or " s left" in text.text), "the pre-fill's progress was not shown")
    assert "%" in text.text and "frames" in text.text
    driver.find_element(By.ID, "scale-job-cancel").click()
    status = driver.find_element(By.ID, "scale-prefill-status")
    _wait(driver, lambda d: "cancelled" in status.text, "the pre-fill was not cancelled")
    assert not driver.find_element(By.ID, "scale-job").is_displayed()
    assert page_errors(driver) == []


def test_a_flacc_prefilled_from_a_short_camera_recording(server, camera_browser):
    driver = camera_browser.driver
    _new_patient_page(driver, server.base_url)
    driver.find_element(By.ID, "scale-start-flacc").click()
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'fieldset[data-item="cry"]'), "the FLACC form was not built")
    driver.find_element(By.ID, "scale-record").click()
    status = driver.find_element(By.ID, "scale-prefill-status")
    _wait(driver, lambda d: "Recording" in status.text, "the recording did not start")
    _wait(driver, lambda d: "pre-filled" in status.text or "Could not" in status.text or "cannot" in status.text,
          "the recording was not pre-filled")
    assert "pre-filled" in status.text, status.text
    assert _checked(driver, "face") is not None and "AU4" in driver.find_element(By.ID, "scale-evidence-face").text
    assert _checked(driver, "cry") is None
    assert not driver.find_element(By.ID, "scale-camera").is_displayed()  # the camera is closed again
    assert page_errors(driver) == []


# Spy for Web Notifications: permission granted, each notification's title recorded.
NOTIFICATION_SPY = """
window.__notified = [];
window.Notification = class {
  constructor(title) { window.__notified.push(title); }
  static get permission() { return 'granted'; }
  static requestPermission() { return Promise.resolve('granted'); }
};
"""
REASSESS_SECONDS = 10  # a short interval, so the flag falls due and overdue while the page is open


@pytest.fixture(scope="module")
def quick_server():
    require_browser()
    with running_server(env={"PAINSCOPE_REASSESS_MINUTES": str(REASSESS_SECONDS / 60)}) as process:
        yield process


def test_a_moderate_painad_falls_due_then_overdue_on_the_open_page_with_a_notification(quick_server):
    session = Browser()
    try:
        session.log_in(quick_server.base_url, quick_server.user, quick_server.password)
        driver = session.driver
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": NOTIFICATION_SPY})
        _new_patient_page(driver, quick_server.base_url)
        driver.find_element(By.ID, "scale-start-painad").click()
        _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'fieldset[data-item="consolability"]'),
              "the PAINAD form was not built")
        for item, score in (("breathing", 0), ("vocalization", 2), ("face", 2), ("body_language", 0),
                            ("consolability", 0)):
            driver.find_element(By.ID, f"scale-{item}-{score}").click()
        driver.find_element(By.ID, "scale-save").click()  # 4: moderate, a reassessment is scheduled
        flag = _wait(driver, lambda d: d.find_elements(By.ID, "scale-reassess"), "no reassessment flag")[0]
        _wait(driver, lambda d: flag.get_attribute("data-state") == "due", "the flag did not fall due")
        assert "due" in flag.text
        _wait(driver, lambda d: flag.get_attribute("data-state") == "overdue", "the flag did not become overdue")
        assert "overdue" in flag.text
        assert driver.execute_script("return window.__notified") == [
            "Pain reassessment due", "Pain reassessment overdue"]
        driver.get(quick_server.base_url + "/patients")
        assert driver.find_element(By.CSS_SELECTOR, ".reassess-overdue").text == "Overdue"
        assert page_errors(driver) == []
    finally:
        session.close()
