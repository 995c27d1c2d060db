"""A video's analysis as a job in a real Chromium against the real (eventlet) server: the progress bar
moves with its percentage and time left, the result appears, and a second upload is cancelled."""
from __future__ import annotations

import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests import media, synthetic
from tests.e2e.browser import page_errors

WAIT_S = 120  # generous: CI machines are slow and shared; nothing asserts a duration


def _wait(driver, condition, message):
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(condition, message)


def _clip(tmp_path, name: str, seconds: int, fps: int = 15):
    path = tmp_path / name
    path.write_bytes(media.write_video([synthetic.camera_frame(synthetic.astronaut_face())] * (seconds * fps), fps=fps))
    return str(path)


def _bar(driver) -> tuple[float, str]:
    return driver.execute_script(
        "const bar = document.getElementById('upload-job-bar');"
        "return [bar.hasAttribute('value') ? bar.value : -1, document.getElementById('upload-job-text').textContent];")


def test_a_video_upload_shows_a_moving_progress_bar_then_its_result_and_a_second_is_cancelled(
        server, browser, tmp_path):
    driver = browser.driver
    driver.get(server.base_url + "/")
    driver.find_element(By.ID, "video-input").send_keys(_clip(tmp_path, "first.mp4", 20))
    _wait(driver, EC.visibility_of_element_located((By.ID, "upload-job")), "no progress bar for the video")
    seen: list[tuple[float, str]] = []
    deadline = time.monotonic() + WAIT_S
    while driver.find_element(By.ID, "upload-job").is_displayed() and time.monotonic() < deadline:
        seen.append(_bar(driver))
        time.sleep(0.05)
    moving = sorted({value for value, _ in seen if 0 < value < 100})
    assert len(moving) >= 2, f"the bar did not move: {seen[:5]} ... {seen[-5:]}"
    texts = [text for value, text in seen if 0 < value < 100]
    assert any("%" in text and "left" in text for text in texts), texts[-5:]
    _wait(driver, EC.visibility_of_element_located((By.ID, "video-result")), "the video's result was not shown")

    driver.find_element(By.ID, "video-input").send_keys(_clip(tmp_path, "second.mp4", 60))
    _wait(driver, lambda d: _bar(d)[0] > 0, "the second video's job did not start")
    driver.find_element(By.ID, "upload-job-cancel").click()
    _wait(driver, EC.text_to_be_present_in_element((By.ID, "upload-job-text"), "cancelled"),
          "the second video's job was not cancelled")
    # the Upload tab stays usable: the first video's result is still there, nothing failed
    assert not driver.find_element(By.ID, "upload-error").is_displayed()
    assert page_errors(driver) == []
